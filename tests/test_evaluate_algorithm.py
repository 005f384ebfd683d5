"""rsseg:evaluate through processing.run in a headless QGIS, raster and polygon references."""
from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import write_geotiff

pytest.importorskip("qgis.core")


def _scene(tmp_path):
    ref = np.zeros((60, 80), dtype=np.uint8)
    ref[:, 40:] = 1
    pred = ref.copy()
    pred[:30, 30:40] = 1          # 300 pixels of class 0 predicted as 1
    pred_path = write_geotiff(tmp_path / "pred.tif", pred, nodata=255)
    ref_path = write_geotiff(tmp_path / "ref.tif", ref, nodata=255)
    return pred_path, ref_path


def test_raster_reference_gives_numbers_and_files(qgis_app, tmp_path):
    import processing

    pred_path, ref_path = _scene(tmp_path)
    result = processing.run("rsseg:evaluate", {
        "PREDICTION": str(pred_path), "REFERENCE": str(ref_path), "IGNORE_VALUE": 255, "MODE": 0,
        "OUTPUT_HTML": str(tmp_path / "report.html"), "OUTPUT_TABLE": str(tmp_path / "scores.json"),
    })
    # class 0: 2400 reference pixels, 2100 right; class 1: 2400 right + 300 false positives
    assert result["OVERALL_ACCURACY"] == pytest.approx(4500 / 4800)
    assert result["MIOU"] == pytest.approx((2100 / 2400 + 2400 / 2700) / 2)
    assert 0 < result["KAPPA"] < 1
    data = json.loads((tmp_path / "scores.json").read_text())
    assert data["confusion_matrix"] == [[2100, 300], [0, 2400]]
    assert "Confusion matrix" in (tmp_path / "report.html").read_text()


def test_polygon_reference_is_rasterized_on_the_prediction_grid(qgis_app, tmp_path):
    import processing
    from qgis.core import QgsFeature, QgsField, QgsGeometry, QgsVectorLayer
    from qgis.PyQt.QtCore import QVariant

    pred_path, _ = _scene(tmp_path)
    layer = QgsVectorLayer("Polygon?crs=EPSG:32640", "reference", "memory")
    layer.dataProvider().addAttributes([QgsField("cls", QVariant.Int)])
    layer.updateFields()
    x0, y0 = 500000.0, 2800000.0  # conftest grid: 1 m pixels from this top-left corner
    features = []
    for cls, (xa, xb) in enumerate([(0, 40), (40, 80)]):
        f = QgsFeature(layer.fields())
        f.setGeometry(QgsGeometry.fromWkt(
            f"POLYGON(({x0 + xa} {y0}, {x0 + xb} {y0}, {x0 + xb} {y0 - 60}, {x0 + xa} {y0 - 60}, {x0 + xa} {y0}))"))
        f["cls"] = cls
        features.append(f)
    layer.dataProvider().addFeatures(features)
    result = processing.run("rsseg:evaluate", {
        "PREDICTION": str(pred_path), "REFERENCE": layer, "REFERENCE_FIELD": "cls", "MODE": 0,
        "OUTPUT_HTML": str(tmp_path / "report.html"), "OUTPUT_TABLE": str(tmp_path / "scores.csv"),
    })
    assert result["OVERALL_ACCURACY"] == pytest.approx(4500 / 4800)
    assert (tmp_path / "scores.csv").read_text().startswith("class_id,class_name,iou")


def test_cluster_mode_and_bad_table_name(qgis_app, tmp_path):
    import processing
    from qgis.core import QgsProcessingException

    _, ref_path = _scene(tmp_path)
    ref = np.zeros((60, 80), dtype=np.uint8)
    ref[:, 40:] = 1
    clusters = write_geotiff(tmp_path / "clusters.tif", np.where(ref == 1, 4, 9).astype(np.uint8))
    result = processing.run("rsseg:evaluate", {
        "PREDICTION": str(clusters), "REFERENCE": str(ref_path), "MODE": 1,
        "OUTPUT_HTML": str(tmp_path / "c.html"),
    })
    assert result["MIOU"] == pytest.approx(1.0)
    assert "Cluster to class mapping" in (tmp_path / "c.html").read_text()
    with pytest.raises(QgsProcessingException, match="OUTPUT_TABLE"):
        processing.run("rsseg:evaluate", {
            "PREDICTION": str(clusters), "REFERENCE": str(ref_path), "MODE": 1,
            "OUTPUT_HTML": str(tmp_path / "d.html"), "OUTPUT_TABLE": str(tmp_path / "d.txt"),
        })
