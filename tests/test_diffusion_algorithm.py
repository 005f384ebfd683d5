"""rsseg:pretrain_diffusion specifics: no BACKBONE, BANDS and the denoiser fields reach the
checkpoint (the shared contract of the pretraining algorithms: test_pretrain_contract.py)."""
from __future__ import annotations

import pytest

pytest.importorskip("qgis.core")
pytest.importorskip("torch")

from helpers import write_geotiff

from training.data.synthetic import paint_block_scene


def test_form_has_the_shared_and_the_diffusion_parameters(rsseg_provider):
    algorithm = rsseg_provider.algorithm("pretrain_diffusion")
    assert algorithm is not None
    names = {p.name() for p in algorithm.parameterDefinitions()}
    assert {"INPUT", "INPUT_FOLDER", "BANDS", "PATCH_SIZE", "EPOCHS", "OUTPUT_CHECKPOINT"} <= names
    assert {"PRESET", "SCHEDULE", "TIMESTEPS", "SAMPLE_STEPS", "PATCHES_PER_EPOCH"} <= names
    assert "BACKBONE" not in names  # no ResNet: the backbone is the UNet
    assert algorithm.group() == "Pretraining" and "PATCHES_PER_EPOCH" in algorithm.shortHelpString()


def test_processing_run_trains_and_writes_samples(qgis_app, tmp_path):
    import processing
    import torch

    from training.checkpoint import Checkpoint

    torch.set_num_threads(1)
    image, _ = paint_block_scene(64, 16, seed=4)
    folder = tmp_path / "imagery"
    folder.mkdir()
    write_geotiff(folder / "scene.tif", image)
    output = tmp_path / "ddpm.pt"
    result = processing.run("rsseg:pretrain_diffusion", {
        "INPUT_FOLDER": str(folder), "BANDS": "1,3", "PATCH_SIZE": 32, "BATCH_SIZE": 4, "EPOCHS": 1,
        "LEARNING_RATE": 1e-3, "DEVICE": 1, "PATCHES_PER_EPOCH": 8, "BASE_CHANNELS": 8,
        "CHANNEL_MULTS": "1,2,2", "ATTENTION_LEVELS": "2", "SCHEDULE": "cosine", "SAMPLE_STEPS": 2,
        "SAMPLE_COUNT": 2, "OUTPUT_CHECKPOINT": str(output),
    })
    assert result["OUTPUT_CHECKPOINT"] == str(output)
    ck = Checkpoint.load(output)
    assert ck.method == "diffusion" and ck.bands == [1, 3] and ck.finished
    assert ck.extra_state["denoiser"]["channel_mults"] == [1, 2, 2]
    assert ck.extra_state["diffusion"]["schedule"] == "cosine"
    assert list((tmp_path / "ddpm_diagnostics").glob("diffusion_samples_*.png"))
