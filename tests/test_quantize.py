"""int8 export: calibrated on real patches, checked against fp32, recorded in the model card."""
from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import write_geotiff
from helpers_onnx import conv_model

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime.quantization")

from engine.progress import RunFeedback
from engine.segment import segment_raster
from training.quantize import patch_cells, quantize_model

QUIET = RunFeedback(log=lambda _m: None)


def card_config(path) -> dict:
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    return json.loads(meta["rsseg_config"])


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    folder = tmp_path_factory.mktemp("int8")
    rng = np.random.default_rng(0)
    base = rng.random((3, 20, 20))
    image = (np.repeat(np.repeat(base, 10, 1), 10, 2) * 200 + rng.random((3, 200, 200)) * 55).astype(np.uint8)
    raster = write_geotiff(folder / "in.tif", image)
    return folder, raster, conv_model(folder / "fp32.onnx", 3, 4, kernel=3, layers=3, hidden=16)


def test_int8_model_agrees_with_fp32_and_says_so_in_log_and_card(scene):
    folder, raster, fp32 = scene
    logs: list[str] = []
    check = quantize_model(fp32, folder / "int8.onnx", [str(raster)], patch_size=48,
                           feedback=RunFeedback(log=logs.append))
    assert check.class_agreement > 0.95 and check.check_patches > 0 and check.calibration_patches > 0
    assert any("int8 check on" in line and "keep their fp32 class" in line for line in logs)
    recorded = card_config(folder / "int8.onnx")["quantization"]
    assert recorded["class_agreement"] == check.class_agreement and recorded["miou_vs_fp32"] == check.miou_vs_fp32
    ops = {node.op_type for node in onnx.load(str(folder / "int8.onnx")).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    # the engine runs it like any model
    result = segment_raster(str(raster), str(folder / "int8.onnx"), str(folder / "map.tif"), tile_size=64,
                            feedback=QUIET)
    assert result.timing["tiles"] > 0


def test_calibration_and_check_patches_are_disjoint_and_reproducible():
    cells = patch_cells([(100, 130), (64, 64)], 32)
    assert cells == patch_cells([(100, 130), (64, 64)], 32) and len(cells) == len(set(cells)) == 3 * 4 + 2 * 2


def test_no_calibration_raster_names_the_parameter(scene, tmp_path):
    _, _, fp32 = scene
    with pytest.raises(ValueError, match="CALIBRATION"):
        quantize_model(fp32, tmp_path / "x.onnx", [])
    with pytest.raises(ValueError, match="CALIBRATION"):
        quantize_model(fp32, tmp_path / "x.onnx", [str(tmp_path / "missing.tif")])
    assert not (tmp_path / "x.onnx").exists()


def test_export_checkpoint_int8_calibrates_on_the_training_rasters(tmp_path):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    from finetune_scene import tiny_config, write_scene

    from training.export import export_checkpoint
    from training.finetune import finetune

    image, label = write_scene(tmp_path, size=64)
    checkpoint = finetune(tiny_config(image, label, val_fraction=0.0, patches_per_epoch=4), tmp_path / "m.pt",
                          feedback=QUIET).checkpoint
    logs: list[str] = []
    path = export_checkpoint(checkpoint, tmp_path / "m8.onnx", tile_size=64, int8=True,
                             feedback=RunFeedback(log=logs.append))
    assert path.exists() and "quantization" in card_config(path)
    assert any("int8: calibrating" in line for line in logs)
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".onnx") == ["m8.onnx"]  # no fp32 left over


def test_cli_export_has_int8_and_calibration_options():
    from training.cli import build_parser

    args = build_parser().parse_args(["export", "m.pt", "m.onnx", "--int8", "--calibration", "a.tif, b.tif"])
    assert args.int8 and args.calibration == "a.tif, b.tif"
