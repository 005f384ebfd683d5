"""rsseg:pretrain_grass specifics: WARMUP_EPOCHS in the main form, both stages run (the shared
contract of the pretraining algorithms: test_pretrain_contract.py)."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("qgis.core")
pytest.importorskip("torch")

from helpers import write_geotiff


def _raster(path):
    rng = np.random.default_rng(1)
    image = rng.normal(110, 12, (3, 96, 96)).clip(0, 255)
    for _ in range(10):
        r, c = rng.integers(0, 80, 2)
        image[:, r : r + 16, c : c + 16] = rng.integers(0, 255, (3, 1, 1))
    return write_geotiff(path, image.astype(np.uint8))


def test_form_promotes_warmup_epochs_and_exposes_grass_fields(rsseg_provider):
    from qgis.core import QgsProcessingParameterDefinition

    algorithm = rsseg_provider.algorithm("pretrain_grass")
    assert algorithm is not None and algorithm.group() == "Pretraining"
    params = {p.name(): p for p in algorithm.parameterDefinitions()}
    assert {"INPUT", "INPUT_FOLDER", "BANDS", "PATCH_SIZE", "BATCH_SIZE", "WARMUP_EPOCHS", "EPOCHS",
            "LEARNING_RATE", "BACKBONE", "DEVICE", "OUTPUT_CHECKPOINT"} <= set(params)
    assert not params["WARMUP_EPOCHS"].flags() & QgsProcessingParameterDefinition.FlagAdvanced
    for name in ("MAP_SIGN", "REGION_THRESHOLD", "OPTIMIZER", "TEMPERATURE"):
        assert params[name].flags() & QgsProcessingParameterDefinition.FlagAdvanced, name
    assert "WARMUP_EPOCHS" in algorithm.shortHelpString()


def test_processing_run_trains_both_stages(qgis_app, tmp_path):
    import processing
    import torch

    from training.checkpoint import Checkpoint

    torch.set_num_threads(1)
    raster = _raster(tmp_path / "scene.tif")
    output = tmp_path / "grass.pt"
    result = processing.run("rsseg:pretrain_grass", {
        "INPUT": [str(raster)], "PATCH_SIZE": 64, "BATCH_SIZE": 2, "WARMUP_EPOCHS": 1, "EPOCHS": 2,
        "PATCHES_PER_EPOCH": 4, "DEVICE": 1, "OPTIMIZER": "adamw", "LEARNING_RATE": 0.05,
        "OUTPUT_CHECKPOINT": str(output),
    })
    assert result["OUTPUT_CHECKPOINT"] == str(output)
    ck = Checkpoint.load(output)
    assert ck.method == "grass" and ck.finished and ck.config["warmup_epochs"] == 1
    assert [h["stage"] for h in ck.history] == [1.0, 2.0]
    assert list((tmp_path / "grass_diagnostics").glob("grass_epoch*.png"))
