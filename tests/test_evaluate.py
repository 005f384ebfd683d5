"""engine.evaluate: streaming assessment over rasters with different grids and CRSs."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import rasterio
from rasterio.crs import CRS
from rasterio.transform import from_origin
from rasterio.warp import Resampling, reproject

from engine import evaluate as ev
from engine.evaluate import category_names, evaluate_rasters
from engine.progress import Cancelled, RunFeedback


def write(path, array, crs="EPSG:32633", transform=None, nodata=None):
    transform = transform or from_origin(500000, 4000000, 1, 1)
    with rasterio.open(path, "w", driver="GTiff", width=array.shape[1], height=array.shape[0], count=1,
                       dtype=array.dtype, crs=crs, transform=transform, nodata=nodata) as dst:
        dst.write(array, 1)
    return str(path)


def blocks(h, w, size=20, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, classes, size=(h // size + 1, w // size + 1)).astype(np.uint8)
    return np.kron(coarse, np.ones((size, size), dtype=np.uint8))[:h, :w]


def test_same_grid_scores_and_ignore(tmp_path):
    ref = blocks(100, 120)
    ref[:10] = 255                       # ignored rows
    pred = ref.copy()
    pred[:, :30] = np.where(ref[:, :30] == 255, 255, (ref[:, :30] + 1) % 3)  # wrong in 30 columns
    pred[50, 50] = 255                   # prediction nodata: skipped
    result = evaluate_rasters(write(tmp_path / "p.tif", pred), write(tmp_path / "r.tif", ref, nodata=255),
                              tmp_path / "report.html", tmp_path / "table.csv")
    assert result.scores["pixels"] == 90 * 120 - 1
    valid = (ref != 255) & (pred != 255)
    expected_oa = (pred[valid] == ref[valid]).mean()
    assert result.overall_accuracy == pytest.approx(expected_oa)
    assert (tmp_path / "report.html").read_text().count("<table") == 3
    rows = list(csv.reader((tmp_path / "table.csv").open()))
    assert rows[0][:3] == ["class_id", "class_name", "iou"]
    assert float(next(r for r in rows if r and r[0] == "miou")[1]) == pytest.approx(result.miou, abs=1e-6)
    assert not list(tmp_path.glob("*.tmp"))


def test_reference_on_a_different_grid_is_resampled_nearest(tmp_path):
    # reference: 1 m pixels; prediction: 3 m pixels shifted by 10 m, over part of the reference
    ref = blocks(300, 300, size=30, classes=4, seed=1)
    ref_path = write(tmp_path / "ref.tif", ref, transform=from_origin(500000, 4000000, 1, 1), nodata=255)
    # prediction pixel (i, j) has its centre at x = 10 + 3j + 1.5, y = 10 + 3i + 1.5 from the ref origin,
    # which is inside reference pixel (10 + 3i + 1, 10 + 3j + 1): sample it exactly
    h = w = 120  # extends 70 m beyond the reference: those pixels must be skipped
    truth = np.full((h, w), 255, dtype=np.uint8)
    rows = 10 + 3 * np.arange(h) + 1
    cols = 10 + 3 * np.arange(w) + 1
    inside_r, inside_c = rows < 300, cols < 300
    truth[np.ix_(inside_r, inside_c)] = ref[np.ix_(rows[inside_r], cols[inside_c])]
    pred = np.where(truth == 255, 0, truth).astype(np.uint8)
    pred[:5, :] = (pred[:5, :] + 1) % 4  # some errors
    pred_path = write(tmp_path / "pred.tif", pred, transform=from_origin(500010, 3999990, 3, 3))
    result = evaluate_rasters(pred_path, ref_path, None, tmp_path / "t.json")
    valid = truth != 255
    assert result.scores["pixels"] == valid.sum()
    expected = np.zeros((4, 4), dtype=np.int64)
    np.add.at(expected, (truth[valid], pred[valid]), 1)
    np.testing.assert_array_equal(result.confusion, expected)
    data = json.loads((tmp_path / "t.json").read_text())
    assert data["confusion_matrix"] == expected.tolist()


def test_reference_in_another_crs_is_reprojected(tmp_path):
    ref = blocks(240, 240, size=40, classes=3, seed=2)
    ref_path = write(tmp_path / "ref.tif", ref, crs="EPSG:32633", transform=from_origin(500000, 4000000, 2, 2),
                     nodata=255)
    # prediction: the reference reprojected to Web Mercator (a different CRS and grid)
    with rasterio.open(ref_path) as src:
        from rasterio.warp import calculate_default_transform

        transform, width, height = calculate_default_transform(src.crs, "EPSG:3857", src.width, src.height,
                                                               *src.bounds)
        pred = np.full((height, width), 255, dtype=np.uint8)
        reproject(ref, pred, src_transform=src.transform, src_crs=src.crs, dst_transform=transform,
                  dst_crs=CRS.from_string("EPSG:3857"), resampling=Resampling.nearest, src_nodata=255,
                  dst_nodata=255)
    pred_path = write(tmp_path / "pred.tif", pred, crs="EPSG:3857", transform=transform, nodata=255)
    result = evaluate_rasters(pred_path, ref_path, tmp_path / "r.html", None)
    assert result.scores["pixels"] > 0.9 * (pred != 255).sum()
    assert result.miou > 0.98  # same nearest warp both ways: agreement up to block edges
    assert result.kappa > 0.97


def test_cluster_mode_matches_permuted_ids(tmp_path):
    ref = blocks(80, 80, size=10, classes=3, seed=3)
    clusters = np.array([7, 2, 5], dtype=np.uint8)[ref]   # class c became cluster id [7, 2, 5][c]
    result = evaluate_rasters(write(tmp_path / "c.tif", clusters), write(tmp_path / "r.tif", ref),
                              tmp_path / "r.html", tmp_path / "t.csv", cluster_mode=True,
                              class_names=["a", "b", "c"])
    assert result.mapping == {7: 0, 2: 1, 5: 2}
    assert result.matching == "hungarian"
    assert result.miou == pytest.approx(1.0)
    assert "Cluster to class mapping" in (tmp_path / "r.html").read_text()
    # more clusters than classes: majority vote, several clusters per class allowed
    split = np.where((ref == 0) & (np.arange(80)[None, :] < 40), 9, clusters).astype(np.uint8)
    result = evaluate_rasters(write(tmp_path / "c2.tif", split), write(tmp_path / "r.tif", ref), None, None,
                              cluster_mode=True)
    assert result.matching == "majority"
    assert result.mapping[9] == 0 and result.mapping[7] == 0
    assert result.miou == pytest.approx(1.0)


def test_class_names_from_gdal_categories_and_given(tmp_path):
    from osgeo import gdal

    ref = blocks(40, 40, size=10, classes=2)
    path = write(tmp_path / "p.tif", ref)
    ds = gdal.Open(path, gdal.GA_Update)
    ds.GetRasterBand(1).SetCategoryNames(["water", "forest"])
    ds = None
    assert category_names(path) == ["water", "forest"]
    result = evaluate_rasters(path, write(tmp_path / "r.tif", ref), None, None)
    assert result.class_names == ["water", "forest"]
    result = evaluate_rasters(path, write(tmp_path / "r.tif", ref), None, None, class_names=["x", "y", "z"])
    assert result.class_names == ["x", "y", "z"] and result.confusion.shape == (3, 3)


def test_errors_name_the_parameter_and_cancel_leaves_no_output(tmp_path):
    ref = blocks(40, 40)
    probs = np.full((40, 40), 0.5, dtype=np.float32)
    with pytest.raises(ValueError, match="PREDICTION"):
        evaluate_rasters(write(tmp_path / "f.tif", probs), write(tmp_path / "r.tif", ref), None, None)
    far = write(tmp_path / "far.tif", ref, transform=from_origin(900000, 4000000, 1, 1))
    with pytest.raises(ValueError, match="REFERENCE"):
        evaluate_rasters(far, write(tmp_path / "r.tif", ref), None, None)
    with pytest.raises(Cancelled):
        evaluate_rasters(write(tmp_path / "p.tif", ref), write(tmp_path / "r.tif", ref), tmp_path / "o.html",
                         tmp_path / "o.csv", feedback=RunFeedback(is_cancelled=lambda: True))
    assert not (tmp_path / "o.html").exists() and not (tmp_path / "o.csv").exists()


def test_windows_are_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(ev, "WINDOW", 16)
    ref = blocks(50, 70, size=7, classes=3)
    pred = np.roll(ref, 3, axis=1)
    assert len(list(ev._windows(70, 50))) == 20
    small = evaluate_rasters(write(tmp_path / "p.tif", pred), write(tmp_path / "r.tif", ref), None, None)
    expected = np.zeros((3, 3), dtype=np.int64)
    np.add.at(expected, (ref.ravel(), pred.ravel()), 1)
    np.testing.assert_array_equal(small.confusion, expected)


def test_reference_names_are_matched_to_prediction_names(tmp_path):
    from osgeo import gdal

    ref = blocks(40, 40, size=10, classes=2, seed=4)   # reference ids: 0 forest, 1 water (sorted names)
    pred = (1 - ref).astype(np.uint8)                   # the model's ids: 0 water, 1 forest
    path = write(tmp_path / "p.tif", pred)
    ds = gdal.Open(path, gdal.GA_Update)
    ds.GetRasterBand(1).SetCategoryNames(["Water", "Forest"])
    ds = None
    result = evaluate_rasters(path, write(tmp_path / "r.tif", ref), None, None,
                              reference_class_names=["forest", "water"])
    assert result.miou == pytest.approx(1.0)
    assert result.class_names == ["Water", "Forest"]
    lookup, names = ev.name_lookup(["a", "c"], ["a", "b"])
    assert lookup == {0: 0, 1: 2} and names == ["a", "b", "c"]


def test_pooled_cluster_scoring_matches_per_image_pooling():
    """The benchmark pools per-image counts with add_confusion, then scores like rsseg:evaluate."""
    from engine.evaluate import add_confusion, score_clusters

    # image 1 uses clusters 0..2, image 2 also cluster 4 (a larger matrix)
    first = np.zeros((3, 3), np.int64)
    first[0, 2], first[1, 0], first[2, 1] = 10, 8, 6          # reference class -> cluster
    second = np.zeros((5, 5), np.int64)
    second[0, 2], second[1, 4], second[2, 1] = 5, 7, 3
    pooled = add_confusion(add_confusion(np.zeros((0, 0), np.int64), first), second)
    assert pooled.shape == (5, 5) and pooled.sum() == first.sum() + second.sum()
    assert first.sum() == 24  # inputs are not modified
    cm, cluster_cm, mapping, matching = score_clusters(pooled, 3)
    assert matching == "majority"                    # 4 clusters used for 3 classes
    assert mapping == {0: 1, 1: 2, 2: 0, 4: 1}
    assert np.trace(cm) == cm.sum() == pooled.sum()  # every cluster is pure
    assert cluster_cm.shape == (5, 3)
