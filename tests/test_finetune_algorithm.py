"""rsseg:finetune and rsseg:export_onnx through Processing in a headless QGIS."""
from __future__ import annotations

import numpy as np
import pytest
from finetune_scene import write_scene

pytest.importorskip("torch")
pytest.importorskip("qgis")


def _params(tmp, image, labels, **extra):
    params = {"INPUT": [str(image)], "LABELS": labels, "STEPS": 2, "VALIDATE_EVERY": 2, "BATCH_SIZE": 2,
              "PATCH_SIZE": 32,
              "LEARNING_RATE": 0.002, "DEVICE": 1, "SPLIT_BLOCK_SIZE": 32, "VAL_FRACTION": 0.25,
              "OUTPUT_CHECKPOINT": str(tmp / "m.pt")}
    params.update(extra)
    return params


def test_finetune_with_raster_labels_then_export(qgis_app, tmp_path):
    import processing
    import torch
    from qgis.core import QgsProcessingFeedback
    torch.set_num_threads(1)
    image, label = write_scene(tmp_path, size=64)
    messages: list[str] = []

    class Capture(QgsProcessingFeedback):
        def pushInfo(self, info):
            messages.append(info)
            super().pushInfo(info)

    result = processing.run("rsseg:finetune", _params(
        tmp_path, image, str(label), CLASSES="water:#0000ff,sand,trees", OUTPUT_MODEL=str(tmp_path / "m.onnx")),
        feedback=Capture())
    assert result["OUTPUT_CHECKPOINT"] == str(tmp_path / "m.pt") and (tmp_path / "m.onnx").exists()
    assert any(m.startswith("step 2/2 (epoch ") and "val mIoU" in m for m in messages)
    assert "saved the last state (step 2)" in messages      # KEEP_STATE auto, a run that took every step

    from training.checkpoint import Checkpoint
    assert Checkpoint.load(tmp_path / "m.pt").class_names == ["water", "sand", "trees"]

    exported = processing.run("rsseg:export_onnx", {
        "CHECKPOINT": str(tmp_path / "m.pt"), "TILE_SIZE": 128, "OUTPUT_MODEL": str(tmp_path / "again.onnx")})
    import onnx

    from engine.model_card import ModelCard
    model = onnx.load(exported["OUTPUT_MODEL"])
    card = ModelCard.from_metadata({p.key: p.value for p in model.metadata_props})
    assert card.tile_size == 128 and card.class_names == ["water", "sand", "trees"]


def test_finetune_with_polygon_labels(qgis_app, tmp_path):
    import processing
    import torch
    from helpers import dark_bright_polygons
    torch.set_num_threads(1)
    image, _ = write_scene(tmp_path, size=64)
    layer = dark_bright_polygons()
    result = processing.run("rsseg:finetune", _params(tmp_path, image, layer, LABEL_FIELD="kind", VAL_FRACTION=0.0))
    from training.checkpoint import Checkpoint
    ckpt = Checkpoint.load(result["OUTPUT_CHECKPOINT"])
    assert ckpt.class_names == ["bright", "dark"]            # text classes, sorted


def test_errors_name_the_parameter(qgis_app, tmp_path):
    import processing
    from helpers import write_geotiff
    from qgis.core import QgsProcessingException
    image, _ = write_scene(tmp_path, size=64)
    empty = write_geotiff(tmp_path / "empty.tif", np.full((64, 64), 255, np.uint8))
    with pytest.raises(QgsProcessingException, match="LABELS: empty.tif holds only the ignore value"):
        processing.run("rsseg:finetune", _params(tmp_path, image, str(empty)))
    with pytest.raises(QgsProcessingException, match="CLASSES: colour"):
        processing.run("rsseg:finetune", _params(tmp_path, image, str(empty), CLASSES="a:#12"))
    assert not (tmp_path / "m.pt").exists()

    from training.checkpoint import Checkpoint
    Checkpoint(method="sdcluster", config={}, bands=[1, 2, 3], band_offset=[0.0] * 3, band_scale=[1.0] * 3,
               model_state={}).save(tmp_path / "sd.pt")
    with pytest.raises(QgsProcessingException, match="rsseg:cluster_map"):
        processing.run("rsseg:export_onnx", {"CHECKPOINT": str(tmp_path / "sd.pt"),
                                             "OUTPUT_MODEL": str(tmp_path / "x.onnx")})
    assert not (tmp_path / "x.onnx").exists()


def test_form_choices_are_the_config_choices(qgis_app):
    """The form lists its enum options itself (no training import at load time); they must be
    the config's, or an option would map to the wrong value."""
    from plugin.algorithms import finetune as form
    from training import finetune_config as config

    assert tuple(form.ARCHITECTURES) == config.ARCHITECTURES
    assert tuple(form.CLASS_WEIGHTS) == config.CLASS_WEIGHTS
    assert tuple(form.KEEP_STATES) == config.KEEP_STATES
