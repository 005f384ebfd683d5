"""A graphical-modeler model chaining rsseg:segment with a native QGIS algorithm runs headless."""
from __future__ import annotations

import csv

import numpy as np
import pytest
from helpers import REPO
from test_qgis_process import SEGMENT_MODULE, qgis_process, red_blue_model, two_colour_scene

MODEL3 = REPO / "tests" / "segment_and_count.model3"

needs_segment = pytest.mark.skipif(
    not SEGMENT_MODULE.exists(), reason="plugin/algorithms/segment.py (rsseg:segment) is not written yet")


@needs_segment
def test_model_file_loads_and_is_valid(qgis_app):
    from qgis.core import QgsProcessingModelAlgorithm

    model = QgsProcessingModelAlgorithm()
    assert model.fromFile(str(MODEL3)), "tests/segment_and_count.model3 is not a readable model"
    ok, errors = model.validate()
    assert ok, errors
    assert sorted(c.algorithmId() for c in model.childAlgorithms().values()) == [
        "native:rasterlayeruniquevaluesreport", "rsseg:segment"]
    names = {p.name() for p in model.parameterDefinitions()}
    assert {"SCENE", "MODEL", "segment:CLASSES", "count:COUNTS"} <= names


@needs_segment
def test_model_runs_in_qgis_process(tmp_path):
    scene = two_colour_scene(tmp_path / "scene.tif")
    model = red_blue_model(tmp_path / "model.onnx")
    classes, counts = tmp_path / "classes.tif", tmp_path / "counts.csv"
    result = qgis_process("run", str(MODEL3), "--", f"SCENE={scene}", f"MODEL={model}",
                          f"segment:CLASSES={classes}", f"count:COUNTS={counts}")
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    assert classes.exists()
    with open(counts, newline="") as table:
        rows = {int(float(row["value"])): int(float(row["count"])) for row in csv.DictReader(table)}
    # half the 64x64 scene is red (class 0), half blue (class 1)
    assert rows == {0: 2048, 1: 2048}
    import rasterio

    with rasterio.open(classes) as raster:
        assert np.count_nonzero(raster.read(1) == 0) == 2048
