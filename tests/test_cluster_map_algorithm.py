"""rsseg:pretrain_sdcluster and rsseg:cluster_map through processing.run in a headless QGIS."""
from __future__ import annotations

import numpy as np
import pytest

from training.data.synthetic import write_block_scene


def test_pretrain_then_cluster_map(qgis_app, tmp_path):
    import processing
    import rasterio
    import torch
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback

    torch.set_num_threads(1)
    image, _ = write_block_scene(tmp_path / "data", 96, 32)
    checkpoint = tmp_path / "sdc.pt"
    feedback = QgsProcessingFeedback()
    result = processing.run("rsseg:pretrain_sdcluster", {
        "INPUT_FOLDER": str(tmp_path / "data"), "PATCH_SIZE": 32, "BATCH_SIZE": 4, "EPOCHS": 1,
        "PATCHES_PER_EPOCH": 8, "PROTOTYPES": 6, "OUTPUT_STRIDE": 8, "PROJECTOR_HIDDEN": 32,
        "EMBEDDING_DIM": 16, "PREDICTOR_HIDDEN": 32, "DEVICE": 1, "OUTPUT_CHECKPOINT": str(checkpoint),
    }, feedback=feedback)
    assert result["OUTPUT_CHECKPOINT"] == str(checkpoint) and checkpoint.is_file()
    from training.checkpoint import Checkpoint

    ckpt = Checkpoint.load(checkpoint)
    assert ckpt.method == "sdcluster" and ckpt.config["prototypes"] == 6 and ckpt.config["output_stride"] == 8

    out, model = tmp_path / "clusters.tif", tmp_path / "clusters.onnx"
    result = processing.run("rsseg:cluster_map", {
        "CHECKPOINT": str(checkpoint), "INPUT": str(image), "CLUSTERS": 2, "TILE_SIZE": 64, "DEVICE": 1,
        "OUTPUT": str(out), "OUTPUT_MODEL": str(model),
    }, context=QgsProcessingContext(), feedback=feedback)
    assert result["OUTPUT"] == str(out) and model.is_file()
    with rasterio.open(out) as src:
        ids = src.read(1)
        assert ids.shape == (96, 96) and set(np.unique(ids)) <= {0, 1}
    # the kept .onnx runs again, without torch's help
    again = tmp_path / "again.tif"
    processing.run("rsseg:cluster_map", {
        "CHECKPOINT": str(model), "INPUT": str(image), "TILE_SIZE": 64, "DEVICE": 1, "OUTPUT": str(again),
    }, feedback=feedback)
    with rasterio.open(again) as src:
        assert np.array_equal(src.read(1), ids)


def test_cluster_map_rejects_other_checkpoints(qgis_app, tmp_path):
    import processing
    import torch
    from qgis.core import QgsProcessingException

    from training.checkpoint import Checkpoint

    image, _ = write_block_scene(tmp_path, 64, 32)
    other = tmp_path / "grass.pt"
    Checkpoint(method="grass", config={}, bands=[1, 2, 3], band_offset=[0.0] * 3, band_scale=[1.0] * 3,
               model_state={"w": torch.zeros(1)}).save(other)
    with pytest.raises(QgsProcessingException, match="CHECKPOINT.*SDCluster"):
        processing.run("rsseg:cluster_map",
                       {"CHECKPOINT": str(other), "INPUT": str(image), "OUTPUT": str(tmp_path / "o.tif")})
    assert not (tmp_path / "o.tif").exists()
