"""rsseg:segment and rsseg:cluster_map as map makers, in a headless QGIS: polygons, area table,
web tiles (a local XYZ tile set, no network), VRT mosaics, the pixel limit and the vector style."""
from __future__ import annotations

import csv
import json
import shutil
import subprocess

import numpy as np
import pytest
import rasterio
from helpers import write_geotiff
from helpers_onnx import conv_model
from osgeo import gdal, ogr

from engine.model_card import ModelCard

GDAL2TILES = shutil.which("gdal2tiles.py") or shutil.which("gdal2tiles")
CARD = ModelCard(class_names=["red", "green"], class_colors=[(230, 0, 0), (0, 200, 0)])


def halves(height=96, width=96):
    """Left half red, right half green; a per-pixel model separates them exactly."""
    data = np.zeros((3, height, width), np.uint8)
    data[0, :, : width // 2] = 220
    data[1, :, width // 2:] = 220
    return data


@pytest.fixture
def model(tmp_path):
    return str(conv_model(tmp_path / "m.onnx", 3, 2, weights=[[1, -1, 0], [-1, 1, 0]], card=CARD))


def polygons(path):
    source = ogr.Open(str(path))
    return [(f.GetField("class_id"), f.GetField("class_name"), f.GetField("area_m2"), f.GetField("confidence"))
            for f in source.GetLayer(0)]


def test_segment_writes_polygons_and_area_table(qgis_app, tmp_path, model):
    import processing

    data = halves()
    data[:, 10, 10] = (0, 220, 0)  # one green pixel in the red half: merged away by MIN_AREA
    raster = write_geotiff(tmp_path / "in.tif", data, pixel_size=0.5)
    results = processing.run("rsseg:segment", {
        "INPUT": str(raster), "MODEL": model, "TILE_SIZE": 32, "DEVICE": 1, "MIN_AREA": 1.0,
        "OUTPUT": str(tmp_path / "classes.tif"), "OUTPUT_VECTOR": str(tmp_path / "classes.gpkg"),
        "OUTPUT_AREAS": str(tmp_path / "areas.csv"),
    })
    rows = polygons(results["OUTPUT_VECTOR"])
    assert sorted((r[0], r[1], r[2]) for r in rows) == [(0, "red", 1152.0), (1, "green", 1152.0)]  # sieved
    assert all(0.5 < r[3] <= 1.0 for r in rows)
    areas = json.loads(results["CLASS_AREAS"])
    assert [(a["class_name"], a["pixels"]) for a in areas] == [("red", 48 * 96 - 1), ("green", 48 * 96 + 1)]
    assert areas[1]["area_m2"] == pytest.approx((48 * 96 + 1) * 0.25)
    with open(results["OUTPUT_AREAS"], newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [row["class_name"] for row in table] == ["red", "green"]
    assert float(table[0]["percent"]) + float(table[1]["percent"]) == pytest.approx(100.0, abs=1e-3)


def test_polygons_open_styled_with_the_class_colours(qgis_app, tmp_path):
    from qgis.core import QgsCategorizedSymbolRenderer, QgsProcessingContext, QgsProcessingFeedback, QgsVectorLayer

    from plugin.styling import ClassStylePostProcessor

    grid = np.zeros((8, 8), np.uint8)
    grid[:, 4:] = 1
    from engine.vectorize import vectorize_classes

    path = vectorize_classes(str(write_geotiff(tmp_path / "c.tif", grid, nodata=255)), str(tmp_path / "p.gpkg"),
                             ["red", "green"]).path
    layer = QgsVectorLayer(path, "polygons", "ogr")
    processor = ClassStylePostProcessor.create(["red", "green"], [(230, 0, 0), (0, 200, 0)])
    processor.postProcessLayer(layer, QgsProcessingContext(), QgsProcessingFeedback())
    renderer = layer.renderer()
    assert isinstance(renderer, QgsCategorizedSymbolRenderer) and renderer.classAttribute() == "class_id"
    categories = renderer.categories()  # keep the copies alive while their symbols are read
    assert [(c.value(), c.label()) for c in categories] == [(0, "red"), (1, "green")]
    assert categories[1].symbol().color().getRgb()[:3] == (0, 200, 0)


def test_vrt_mosaic_is_read_directly(qgis_app, tmp_path, model):
    import processing
    from rasterio.transform import from_origin

    left = write_geotiff(tmp_path / "left.tif", halves(64, 64)[:, :, :32].copy(),
                         transform=from_origin(500000.0, 2800000.0, 1.0, 1.0))
    right = write_geotiff(tmp_path / "right.tif", halves(64, 64)[:, :, 32:].copy(),
                          transform=from_origin(500032.0, 2800000.0, 1.0, 1.0))
    mosaic = str(tmp_path / "mosaic.vrt")
    gdal.BuildVRT(mosaic, [str(left), str(right)]).FlushCache()
    results = processing.run("rsseg:segment", {"INPUT": mosaic, "MODEL": model, "TILE_SIZE": 32, "DEVICE": 1,
                                               "OUTPUT": str(tmp_path / "classes.tif")})
    with rasterio.open(results["OUTPUT"]) as src:
        values = src.read(1)
    assert values.shape == (64, 64) and (values[:, :32] == 0).all() and (values[:, 32:] == 1).all()


@pytest.fixture
def xyz_layer(qgis_app, tmp_path):
    """A local XYZ tile set (gdal2tiles, zoom 15-17) of a 256 m square near Dubai, as a QGIS 'wms' layer."""
    from qgis.core import QgsRasterLayer

    if GDAL2TILES is None:
        pytest.skip("gdal2tiles is not installed (Debian: gdal-bin / python3-gdal)")
    source = write_geotiff(tmp_path / "scene.tif", halves(256, 256), pixel_size=1.0)
    tiles = tmp_path / "tiles"
    subprocess.run([GDAL2TILES, "--xyz", "-z", "15-17", "-w", "none", "-q", str(source), str(tiles)],
                   check=True, capture_output=True, timeout=120)
    url = f"file://{tiles}/%7Bz%7D/%7Bx%7D/%7By%7D.png"
    layer = QgsRasterLayer(f"type=xyz&url={url}&zmin=15&zmax=17", "local tiles", "wms")
    assert layer.isValid()
    return layer


def utm_box_in_mercator(xmin, ymin, xmax, ymax):
    """An EPSG:32640 box as an EXTENT string in EPSG:3857."""
    from osgeo import osr

    utm, mercator = osr.SpatialReference(), osr.SpatialReference()
    utm.ImportFromEPSG(32640)
    mercator.ImportFromEPSG(3857)
    for srs in (utm, mercator):
        srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    transform = osr.CoordinateTransformation(utm, mercator)
    x0, y0, _ = transform.TransformPoint(xmin, ymin)
    x1, y1, _ = transform.TransformPoint(xmax, ymax)
    return f"{x0},{x1},{y0},{y1} [EPSG:3857]"


def test_xyz_tiles_are_read_through_the_provider(xyz_layer, tmp_path, model):
    import processing

    extent = utm_box_in_mercator(500040.0, 2799800.0, 500216.0, 2799960.0)
    results = processing.run("rsseg:segment", {
        "INPUT": xyz_layer, "MODEL": model, "EXTENT": extent, "RESOLUTION": 100, "TILE_SIZE": 64, "DEVICE": 1,
        "OUTPUT": str(tmp_path / "classes.tif"), "OUTPUT_VECTOR": str(tmp_path / "classes.gpkg"),
    })
    with rasterio.open(results["OUTPUT"]) as src:
        assert src.crs.to_epsg() == 32640 and src.res == pytest.approx((1.0, 1.0))  # web Mercator -> local UTM
        values = src.read(1)
        col = int(round((500128.0 - src.bounds.left) / src.res[0]))
    inner = values[10:-10]
    assert (inner[:, 10:col - 3] == 0).mean() > 0.98 and (inner[:, col + 3:-10] == 1).mean() > 0.98
    assert {r[1] for r in polygons(results["OUTPUT_VECTOR"])} == {"red", "green"}


def test_web_layer_needs_extent_and_respects_the_pixel_limit(xyz_layer, tmp_path, model):
    import processing
    from qgis.core import QgsProcessingException

    with pytest.raises(QgsProcessingException, match="EXTENT: layer 'local tiles' is a web or tile layer"):
        processing.run("rsseg:segment", {"INPUT": xyz_layer, "MODEL": model, "OUTPUT": str(tmp_path / "a.tif")})
    extent = utm_box_in_mercator(500000.0, 2799744.0, 500256.0, 2800000.0)
    with pytest.raises(QgsProcessingException, match=r"MAX_PIXELS: .* above MAX_PIXELS \(10,000\)"):
        processing.run("rsseg:segment", {"INPUT": xyz_layer, "MODEL": model, "EXTENT": extent, "RESOLUTION": 100,
                                         "MAX_PIXELS": 10000, "OUTPUT": str(tmp_path / "b.tif")})
    assert not (tmp_path / "a.tif").exists() and not (tmp_path / "b.tif").exists()


def test_cluster_map_writes_polygons_too(qgis_app, tmp_path, model):
    import processing

    raster = write_geotiff(tmp_path / "in.tif", halves(64, 64))
    results = processing.run("rsseg:cluster_map", {
        "CHECKPOINT": model, "INPUT": str(raster), "TILE_SIZE": 32, "DEVICE": 1,
        "OUTPUT": str(tmp_path / "clusters.tif"), "OUTPUT_VECTOR": str(tmp_path / "clusters.gpkg"),
        "OUTPUT_AREAS": str(tmp_path / "areas.csv"),
    })
    assert sorted(r[0] for r in polygons(results["OUTPUT_VECTOR"])) == [0, 1]
    assert [a["pixels"] for a in json.loads(results["CLASS_AREAS"])] == [64 * 32, 64 * 32]
    assert (tmp_path / "areas.csv").exists()


def virtual_layer(source, formula: str, name: str):
    """A raster-calculator ('virtualraster' provider) layer over ``source``: no file behind it."""
    from qgis.core import QgsRasterDataProvider, QgsRasterLayer

    reference = QgsRasterLayer(str(source), "one", "gdal")
    virtual = QgsRasterDataProvider.VirtualRasterParameters()
    virtual.crs, virtual.extent = reference.crs(), reference.extent()
    virtual.width, virtual.height = reference.width(), reference.height()
    virtual.formula = formula
    layer_input = QgsRasterDataProvider.VirtualRasterInputLayers()
    layer_input.name, layer_input.uri, layer_input.provider = "one", str(source), "gdal"
    virtual.rInputLayers = [layer_input]
    layer = QgsRasterLayer(QgsRasterDataProvider.encodeVirtualRasterProviderUri(virtual), name, "virtualraster")
    assert layer.isValid()
    return layer


def test_virtual_raster_layer_is_read_through_the_provider(qgis_app, tmp_path):
    import processing

    image = np.zeros((64, 64), np.uint8)
    image[:, 32:] = 200
    layer = virtual_layer(write_geotiff(tmp_path / "one.tif", image), '"one@1" / 2', "halved")
    model = conv_model(tmp_path / "grey.onnx", 1, 2, weights=[[-1.0], [1.0]], bias=[0.2, 0.0], card=CARD)
    results = processing.run("rsseg:segment", {"INPUT": layer, "MODEL": str(model), "TILE_SIZE": 32, "DEVICE": 1,
                                               "OUTPUT": str(tmp_path / "classes.tif")})
    with rasterio.open(results["OUTPUT"]) as src:
        values = src.read(1)
        assert src.crs.to_epsg() == 32640 and src.res == (1.0, 1.0)
    assert (values[:, :32] == 0).all() and (values[:, 32:] == 1).all()


def test_bad_map_outputs_are_refused_before_any_work(qgis_app, tmp_path, model):
    import processing
    from qgis.core import QgsProcessingException

    raster = write_geotiff(tmp_path / "in.tif", halves(32, 32))
    base = {"INPUT": str(raster), "MODEL": model, "DEVICE": 1, "OUTPUT": str(tmp_path / "classes.tif")}
    with pytest.raises(QgsProcessingException, match="OUTPUT_VECTOR: cannot write '.kml'"):
        processing.run("rsseg:segment", {**base, "OUTPUT_VECTOR": str(tmp_path / "p.kml")})
    with pytest.raises(QgsProcessingException, match="OUTPUT_AREAS: .* is also OUTPUT_VECTOR"):
        processing.run("rsseg:segment", {**base, "OUTPUT_VECTOR": str(tmp_path / "p.gpkg"),
                                         "OUTPUT_AREAS": str(tmp_path / "p.gpkg")})
    assert not (tmp_path / "classes.tif").exists()


def test_layer_copy_stops_on_cancel_and_leaves_nothing(qgis_app, tmp_path):
    from qgis.core import QgsProcessingException, QgsProcessingFeedback, QgsRasterLayer

    from plugin.raster_adapter import layer_to_raster

    source = write_geotiff(tmp_path / "one.tif", np.zeros((16, 16), np.uint8))
    layer = QgsRasterLayer(str(source), "one", "gdal")
    assert layer_to_raster(layer, "INPUT", None, None, 100, str(tmp_path), None) == (str(source), False)  # direct
    computed = virtual_layer(source, '"one@1" + 1', "plus one")
    feedback = QgsProcessingFeedback()
    feedback.cancel()
    folder = tmp_path / "copy"
    folder.mkdir()
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        layer_to_raster(computed, "INPUT", None, None, 10**6, str(folder), feedback)
    assert not list(folder.iterdir())


def test_geodesic_pixel_areas_match_qgis_ellipsoidal_areas(qgis_app):
    from qgis.core import QgsCoordinateReferenceSystem, QgsDistanceArea, QgsGeometry, QgsProject

    from engine.areas import geodesic_cell_areas

    distance = QgsDistanceArea()
    distance.setSourceCrs(QgsCoordinateReferenceSystem("EPSG:4326"), QgsProject.instance().transformContext())
    distance.setEllipsoid("WGS84")
    for lat in (0.0, 25.0, 60.0, -45.0):
        cell = QgsGeometry.fromWkt(f"POLYGON((55 {lat}, 55.01 {lat}, 55.01 {lat + 0.01}, 55 {lat + 0.01}, 55 {lat}))")
        ours = geodesic_cell_areas(lat + 0.01, lat, 0.01, 6378137.0, 298.257223563)
        assert float(ours) == pytest.approx(distance.measureArea(cell), rel=1e-4)


def test_temporary_outputs_work(qgis_app, tmp_path, model):
    import processing

    raster = write_geotiff(tmp_path / "in.tif", halves(32, 32))
    results = processing.run("rsseg:segment", {"INPUT": str(raster), "MODEL": model, "DEVICE": 1,
                                               "OUTPUT": "TEMPORARY_OUTPUT", "OUTPUT_VECTOR": "TEMPORARY_OUTPUT",
                                               "OUTPUT_AREAS": "TEMPORARY_OUTPUT"})
    assert results["OUTPUT_VECTOR"].endswith(".gpkg") and len(polygons(results["OUTPUT_VECTOR"])) == 2
    assert results["OUTPUT_AREAS"].endswith(".csv")
