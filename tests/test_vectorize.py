"""Polygons and area statistics from a class raster (engine.vectorize, engine.areas), without QGIS."""
from __future__ import annotations

import csv
import os

import numpy as np
import pytest
from helpers import write_geotiff
from osgeo import ogr
from rasterio.transform import from_origin

from engine.areas import class_area_statistics, geodesic_cell_areas, row_areas_m2, write_area_csv
from engine.progress import Cancelled, RunFeedback
from engine.vectorize import min_area_pixels, vector_driver, vectorize_classes

NAMES = ["ground", "roof", "water"]


@pytest.fixture
def classes(tmp_path):
    """60 x 80 class map of 2 m pixels: a roof, a pond, one stray water pixel, a nodata strip."""
    grid = np.zeros((60, 80), np.uint8)
    grid[10:30, 10:40] = 1
    grid[40:50, 50:70] = 2
    grid[5, 5] = 2
    grid[55:, :] = 255
    conf = np.where(grid == 1, 0.9, 0.6).astype(np.float32)
    conf[40:45, 50:70] = 0.4  # the pond's mean is (0.4 + 0.6) / 2
    path = write_geotiff(tmp_path / "classes.tif", grid, nodata=255, pixel_size=2.0)
    conf_path = write_geotiff(tmp_path / "conf.tif", conf, pixel_size=2.0)
    return tmp_path, str(path), str(conf_path)


def read_features(path):
    source = ogr.Open(str(path))
    layer = source.GetLayer(0)
    rows = [(f.GetField("class_id"), f.GetField("class_name"), f.GetField("area_m2"), f.GetField("confidence"),
             f.GetGeometryRef().Clone()) for f in layer]
    return rows


def test_one_polygon_per_region_with_attributes(classes):
    tmp, path, conf = classes
    result = vectorize_classes(path, str(tmp / "regions.gpkg"), NAMES, confidence_path=conf)
    rows = read_features(result.path)
    assert result.polygons == len(rows) == 4
    by_class = sorted((r[0], r[1], r[2]) for r in rows)
    assert by_class == [(0, "ground", 55 * 80 * 4 - 600 * 4 - 201 * 4), (1, "roof", 600 * 4), (2, "water", 4),
                        (2, "water", 200 * 4)]
    pond = [r for r in rows if r[0] == 2 and r[2] == 800][0]
    assert pond[3] == pytest.approx(0.5, abs=1e-6)
    roof = [r for r in rows if r[0] == 1][0]
    assert roof[3] == pytest.approx(0.9, abs=1e-6)
    assert roof[4].GetArea() == pytest.approx(roof[2])  # polygon geometry = its pixels (metric CRS)
    assert not [n for n in os.listdir(tmp) if n.startswith(".")]  # no temporary file left


def test_min_area_merges_small_regions_and_simplify_thins_outlines(classes):
    tmp, path, conf = classes
    assert min_area_pixels(8.0, 4.0) == 2 and min_area_pixels(9.0, 4.0) == 3 and min_area_pixels(0, 4.0) == 0
    sieved = vectorize_classes(path, str(tmp / "sieved.gpkg"), NAMES, confidence_path=conf, min_area_m2=8.0)
    rows = read_features(sieved.path)
    assert sieved.min_area_pixels == 2 and len(rows) == 3
    assert sum(r[2] for r in rows if r[0] == 0) == (55 * 80 - 800) * 4  # the stray pixel joined the ground
    wobbly = np.zeros((40, 40), np.uint8)
    wobbly[10:30, 10:30] = 1
    wobbly[10:30:2, 9] = 1  # a toothed edge
    wobbly_path = write_geotiff(tmp / "wobbly.tif", wobbly, nodata=255)
    plain = read_features(vectorize_classes(str(wobbly_path), str(tmp / "w0.gpkg"), NAMES).path)
    simple = read_features(vectorize_classes(str(wobbly_path), str(tmp / "w1.gpkg"), NAMES, simplify=1.5).path)

    def points(rows):
        return sum(r[4].GetGeometryRef(0).GetPointCount() for r in rows if r[0] == 1)
    assert points(simple) < points(plain)
    assert [r[2] for r in simple if r[0] == 1] == [r[2] for r in plain if r[0] == 1]  # area_m2: the pixels'


def test_formats_and_parameter_errors(classes):
    tmp, path, _ = classes
    assert vector_driver("a.shp") == "ESRI Shapefile"
    with pytest.raises(ValueError, match="OUTPUT_VECTOR: cannot write '.kml'"):
        vector_driver("a.kml")
    with pytest.raises(ValueError, match="MIN_AREA"):
        min_area_pixels(-1, 4.0)
    with pytest.raises(ValueError, match="SIMPLIFY"):
        vectorize_classes(path, str(tmp / "x.gpkg"), NAMES, simplify=-1)
    shp = vectorize_classes(path, str(tmp / "regions.shp"), NAMES)
    assert len(read_features(shp.path)) == 4 and os.path.exists(tmp / "regions.dbf")
    assert not [n for n in os.listdir(tmp) if n.startswith(".")]


def test_cancel_leaves_nothing(classes):
    tmp, path, _ = classes
    with pytest.raises(Cancelled):
        vectorize_classes(path, str(tmp / "c.gpkg"), NAMES, feedback=RunFeedback(is_cancelled=lambda: True))
    assert not (tmp / "c.gpkg").exists()
    assert not [n for n in os.listdir(tmp) if n.startswith(".")]


def test_area_statistics_and_csv(classes):
    tmp, path, _ = classes
    areas = class_area_statistics(path, NAMES + ["unused"])
    assert [(a.class_id, a.pixels, a.area_m2) for a in areas] == [
        (0, 3599, 3599 * 4.0), (1, 600, 2400.0), (2, 201, 804.0), (3, 0, 0.0)]
    assert sum(a.percent for a in areas) == pytest.approx(100.0)
    write_area_csv(str(tmp / "areas.csv"), areas)
    with open(tmp / "areas.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[1] == {"class_id": "1", "class_name": "roof", "pixels": "600", "area_m2": "2400.000",
                       "percent": f"{100 * 600 / 4400:.4f}"}


def test_geodesic_areas_on_a_geographic_grid(tmp_path):
    # a 1 x 1 degree cell at the equator on WGS 84: 12 308.8 km2 (ellipsoidal band formula)
    cell = geodesic_cell_areas(np.array([1.0]), np.array([0.0]), 1.0, 6378137.0, 298.257223563)[0]
    assert cell / 1e6 == pytest.approx(12308.8, rel=1e-4)
    sphere = geodesic_cell_areas(np.array([60.0]), np.array([0.0]), 360.0, 6371000.0, 0.0)[0]
    assert sphere == pytest.approx(2 * np.pi * 6371000.0**2 * np.sin(np.radians(60)), rel=1e-12)
    path = write_geotiff(tmp_path / "geo.tif", np.zeros((10, 10), np.uint8), crs="EPSG:4326",
                         transform=from_origin(55.0, 60.0, 0.001, 0.001))
    from osgeo import gdal

    rows = row_areas_m2(gdal.Open(str(path)))
    assert rows[0] < rows[-1]  # pixels shrink towards the pole
    assert rows[0] == pytest.approx(111.7 * 55.8, rel=0.01)  # ~111.7 m x ~55.8 m at 60 N
