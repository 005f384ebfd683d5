"""The processing grid (engine.resample) and the whole map run (engine.maps), without QGIS."""
from __future__ import annotations

import numpy as np
import pytest
import rasterio
from helpers import write_geotiff
from helpers_onnx import conv_model
from osgeo import ogr
from rasterio.transform import from_origin

from engine.maps import MapOptions, read_model_card, segment_to_map
from engine.model_card import ModelCard
from engine.resample import choose_target, needs_metric_crs, plan_grid, utm_for
from engine.segment import segment_raster


def image(height=64, width=80):
    """Left half red, right half green: a per-pixel model separates them exactly."""
    data = np.zeros((3, height, width), np.uint8)
    data[0, :, : width // 2] = 220
    data[1, :, width // 2:] = 220
    return data


def test_target_resolution_rules():
    assert choose_target(50.0, None, 30.0) == (30.0, "the model card's resolution")
    assert choose_target(50.0, 0, 30.0)[0] is None  # 0 = native, whatever the card says
    assert choose_target(50.0, 20.0, 30.0) == (20.0, "RESOLUTION")
    assert choose_target(50.0, None, None)[0] is None
    with pytest.raises(ValueError, match="RESOLUTION"):
        choose_target(50.0, -1, None)
    assert utm_for(55.3, 25.2).GetAuthorityCode(None) == "32640"
    assert utm_for(-70.0, -33.0).GetAuthorityCode(None) == "32719"


def test_metric_raster_within_tolerance_keeps_its_grid(tmp_path):
    path = str(write_geotiff(tmp_path / "in.tif", image(), pixel_size=1.0))
    plan = plan_grid(path, (500010.0, 2799950.0, 500050.0, 2799990.0), str(tmp_path), card_resolution_cm=103.0)
    assert not plan.warped and plan.path == path and plan.extent is not None
    assert "within 5%" in plan.message


def test_resampled_to_the_model_resolution_with_extent(tmp_path):
    path = str(write_geotiff(tmp_path / "in.tif", image(), pixel_size=1.0))
    extent = (500000.0, 2799950.0, 500060.0, 2800000.0)
    plan = plan_grid(path, extent, str(tmp_path), card_resolution_cm=200.0)
    assert plan.warped and plan.extent is None and plan.target_cm == 200.0
    assert "100 cm/px in EPSG:32640 -> 200 cm/px in EPSG:32640" in plan.message
    with rasterio.open(plan.path) as src:
        assert src.res == (2.0, 2.0) and (src.width, src.height) == (30, 25)
        assert src.bounds.left == 500000.0 and src.bounds.top == 2800000.0
    with pytest.raises(ValueError, match="EXTENT: .* does not overlap"):
        plan_grid(path, (0.0, 0.0, 10.0, 10.0), str(tmp_path), card_resolution_cm=200.0)


def test_geographic_raster_runs_in_utm_and_maps_end_to_end(tmp_path):
    from osgeo import osr

    wgs84 = osr.SpatialReference()
    wgs84.ImportFromEPSG(4326)
    assert needs_metric_crs(wgs84)
    path = str(write_geotiff(tmp_path / "geo.tif", image(), crs="EPSG:4326",
                             transform=from_origin(55.0, 25.0, 1e-5, 1e-5)))
    card = ModelCard(class_names=["red", "green"], class_colors=[(255, 0, 0), (0, 255, 0)], resolution_cm=150.0)
    model = str(conv_model(tmp_path / "m.onnx", 3, 2, weights=[[1, -1, 0], [-1, 1, 0]], card=card))
    assert read_model_card(model).resolution_cm == 150.0
    output = str(tmp_path / "classes.tif")

    def segment(src, extent, confidence, feedback):
        return segment_raster(src, model, output, extent=extent, confidence_path=confidence, tile_size=32,
                              feedback=feedback)

    logs = []
    from engine.progress import RunFeedback

    options = MapOptions(vector_path=str(tmp_path / "polygons.gpkg"), areas_csv=str(tmp_path / "areas.csv"))
    result = segment_to_map(path, None, output, options, segment, card.resolution_cm, RunFeedback(log=logs.append))
    assert result.grid.warped and result.grid.crs == "EPSG:32640"
    assert any("resampled on the fly" in line and "EPSG:4326 -> 150 cm/px in EPSG:32640" in line for line in logs)
    with rasterio.open(output) as src:
        assert src.crs.to_epsg() == 32640 and src.res == (1.5, 1.5)
        values = src.read(1)
    counts = {a.class_name: a.pixels for a in result.areas}
    assert counts["red"] == pytest.approx(counts["green"], rel=0.1)  # the two halves, on the model's grid
    assert int((values == 255).sum()) > 0  # the rotated footprint leaves nodata corners
    polygons = ogr.Open(options.vector_path)  # keep the dataset alive while its layer is read
    totals = {}
    for feature in polygons.GetLayer(0):
        name = feature.GetField("class_name")
        totals[name] = totals.get(name, 0) + feature.GetField("area_m2")
        assert 0.5 <= feature.GetField("confidence") <= 1.0
    assert totals == pytest.approx({a.class_name: a.area_m2 for a in result.areas})
    assert not list(tmp_path.glob("*.vrt"))
