"""What leaves the machine is safe to share: model cards without folders, CSVs without formulas,
and a training value range that lets the engine catch wrongly scaled inputs."""
from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from helpers import write_geotiff

from engine.model_card import ModelCard
from engine.safeguards import check_value_range, csv_cell, public_config, value_range_from_normalization


def test_model_card_keeps_only_base_names_of_training_paths():
    config = {"images": ["/home/alice/secret project/tile_1.tif", "C:\\Users\\bob\\tile_2.tif"],
              "labels": ["relative/dir/labels.tif"], "pretrained": "/srv/models/grass.pt", "optimizer": "adamw",
              "learning_rate": 0.001, "inputs": [], "nested": {"folder": "/data/scenes/"}}
    meta = ModelCard(class_names=["a"], config=config).to_metadata()
    stored = json.loads(meta["rsseg_config"])
    assert stored["images"] == ["tile_1.tif", "tile_2.tif"]
    assert stored["labels"] == ["labels.tif"] and stored["pretrained"] == "grass.pt"
    assert stored["optimizer"] == "adamw" and stored["learning_rate"] == 0.001
    assert stored["nested"] == {"folder": "scenes"}
    assert "alice" not in meta["rsseg_config"] and "bob" not in meta["rsseg_config"]
    assert public_config(config)["images"] == stored["images"]


def test_exported_card_records_the_training_value_range(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    import onnx

    from training.export import export_module

    card = ModelCard(class_names=["a", "b"], bands=[1, 2], band_offset=[100.0, 50.0], band_scale=[20.0, 10.0])
    path = export_module(torch.nn.Conv2d(2, 2, 1), card, 2, tmp_path / "m.onnx", sample_size=16)
    read = ModelCard.from_metadata({p.key: p.value for p in onnx.load(str(path)).metadata_props})
    assert read.value_range == value_range_from_normalization([100.0, 50.0], [20.0, 10.0]) == [[0, 200], [0, 100]]


@pytest.mark.parametrize("name", ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "\tx"])
def test_csv_class_names_cannot_become_formulas(tmp_path, name):
    from engine.evaluate import evaluate_rasters

    labels = np.zeros((16, 16), np.uint8)
    labels[:, 8:] = 1
    pred = write_geotiff(tmp_path / "p.tif", labels)
    ref = write_geotiff(tmp_path / "r.tif", labels)
    evaluate_rasters(pred, ref, None, tmp_path / "s.csv", class_names=[name, "roads"])
    rows = list(csv.reader(io.StringIO((tmp_path / "s.csv").read_text())))
    cells = [cell for row in rows for cell in row]
    assert "'" + name in cells and name not in cells
    assert csv_cell("roads") == "roads" and csv_cell(3) == "3"


@pytest.mark.parametrize("values,warned", [
    (np.linspace(20, 220, 500)[None], ""),               # inside: silence
    (np.linspace(0, 600, 500)[None], "outside it"),      # a long tail: warned
    (np.full((1, 500), 0.4), "vary by only"),            # reflectance 0..1 into a 0..255 model
])
def test_value_range_checks(values, warned):
    messages: list[str] = []
    check_value_range(values, [100.0], [50.0], [[0.0, 255.0]], [1], messages.append, refuse=True)
    assert (warned in " ".join(messages)) if warned else messages == []


def test_value_range_refuses_only_when_the_range_is_known():
    uint16 = np.full((1, 100), 2500.0)
    with pytest.raises(ValueError, match="INPUT: band 3 of INPUT has median 2500"):
        check_value_range(uint16, [100.0], [50.0], [[0.0, 255.0]], [3], print, refuse=True)
    messages: list[str] = []
    check_value_range(uint16, [100.0], [50.0], None, [3], messages.append, refuse=False)
    assert "meaningless" in messages[0]
