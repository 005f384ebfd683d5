"""engine.report and engine.previews: the coloured confusion matrix, and previews beside and inside the report."""
from __future__ import annotations

import base64
import re
import struct
import zlib

import numpy as np
import rasterio
from helpers import write_geotiff

from engine.evaluate import evaluate_rasters
from engine.previews import classes_rgb, preview_shape
from engine.report import cell_color, confusion_html

COLORS = {0: (0, 0, 255, 255), 1: (255, 255, 0, 255), 2: (0, 128, 0, 255)}


def read_png(data: bytes) -> np.ndarray:
    """(H, W, 3) pixels of an RGB PNG as engine.png writes them (filter 0 rows)."""
    width, height = struct.unpack(">II", data[16:24])
    chunks, pos = b"", 8
    while pos < len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        if data[pos + 4:pos + 8] == b"IDAT":
            chunks += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    raw = np.frombuffer(zlib.decompress(chunks), np.uint8).reshape(height, 1 + 3 * width)
    return raw[:, 1:].reshape(height, width, 3)


def class_raster(path, ids: np.ndarray, colormap=COLORS):
    write_geotiff(path, ids.astype(np.uint8))
    if colormap:
        with rasterio.open(path, "r+") as dst:
            dst.write_colormap(1, colormap)
    return str(path)


def test_cell_colours_grow_with_the_row_share():
    assert cell_color(0.0, True) == cell_color(0.0, False) == "#ffffff"
    assert cell_color(1.0, True) == "#46aa46" and cell_color(1.0, False) == "#d73c32"
    half = cell_color(0.5, False)
    assert int(half[1:3], 16) > 0xd7 and int(half[3:5], 16) > 0x3c     # lighter than full red
    table = confusion_html(np.array([[9, 1], [0, 0]]), ["a", "b"], [(1, 2, 3), (4, 5, 6)])
    assert "90.0 %" in table and "10.0 %" in table and "#010203" in table      # shares and swatches
    assert table.count(f"background:{cell_color(0.9, True)}") == 1


def test_previews_are_decimated_nearest_and_coloured(tmp_path):
    assert preview_shape(2000, 1000) == (480, 240) and preview_shape(100, 50) == (100, 50)
    ids = np.zeros((960, 960), np.uint8)
    ids[:, 480:] = 2
    ids[0, 0] = 255
    with rasterio.open(class_raster(tmp_path / "c.tif", ids)) as src:
        rgb = classes_rgb(src)
    assert rgb.shape == (480, 480, 3)
    assert tuple(rgb[10, 10]) == (0, 0, 255) and tuple(rgb[10, 470]) == (0, 128, 0)
    assert len({tuple(p) for p in rgb.reshape(-1, 3)}) <= 3       # ids never averaged into new colours


def test_report_shows_image_prediction_reference_cluster_map_in_that_order(tmp_path):
    rng = np.random.default_rng(0)
    ref = np.kron(rng.integers(0, 3, (6, 6)), np.ones((20, 20), int))
    pred = ref.copy()
    pred[:, :20] = (pred[:, :20] + 1) % 3
    reference = class_raster(tmp_path / "ref.tif", ref, colormap=None)     # no colours: drawn like the prediction
    prediction = class_raster(tmp_path / "pred.tif", pred)
    clusters = class_raster(tmp_path / "clusters.tif", (ref + 1) % 3, {0: (9, 9, 9, 255), 1: (99, 0, 0, 255),
                                                                       2: (0, 99, 0, 255)})
    image = write_geotiff(tmp_path / "scene.tif", rng.integers(0, 255, (3, 120, 120)).astype(np.uint8))
    out = tmp_path / "out" / "evaluation.html"
    result = evaluate_rasters(prediction, reference, out, None, preview_rasters=[str(clusters), str(image)])
    assert [p.title for p in result.previews] == ["scene", "prediction", "reference", "clusters"]
    assert [p.kind for p in result.previews] == ["image", "classes", "classes", "classes"]
    files = sorted(f.name for f in out.parent.glob("*.png"))
    assert files == ["evaluation_preview_1_scene.png", "evaluation_preview_2_prediction.png",
                     "evaluation_preview_3_reference.png", "evaluation_preview_4_clusters.png"]
    page = out.read_text(encoding="utf-8")
    embedded = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    assert len(embedded) == 4
    reference_png = read_png(base64.b64decode(embedded[2]))
    assert tuple(reference_png[0, 30]) == COLORS[int(ref[0, 30])][:3]     # the reference in the prediction's colours
    assert "background:#" in page and "class='swatch' style='background:#0000ff'" in page
    assert result.class_colors[:3] == [(0, 0, 255), (255, 255, 0), (0, 128, 0)]


def test_previews_can_be_turned_off(tmp_path):
    ids = np.kron(np.arange(4).reshape(2, 2) % 3, np.ones((10, 10), int))
    path = class_raster(tmp_path / "p.tif", ids)
    result = evaluate_rasters(path, path, tmp_path / "r.html", None, previews=False)
    assert result.previews == [] and not list(tmp_path.glob("*.png"))
    assert "data:image/png" not in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_evaluate_algorithm_takes_preview_layers(rsseg_provider, tmp_path):
    import processing

    ids = np.kron(np.arange(9).reshape(3, 3) % 3, np.ones((16, 16), int))
    prediction = class_raster(tmp_path / "pred.tif", ids)
    image = write_geotiff(tmp_path / "image.tif", np.full((3, 48, 48), 100, np.uint8))
    result = processing.run("rsseg:evaluate", {"PREDICTION": prediction, "REFERENCE": prediction,
                                               "PREVIEW_LAYERS": [str(image)],
                                               "OUTPUT_HTML": str(tmp_path / "report.html")})
    assert result["MIOU"] == 1.0
    assert sorted(f.name for f in tmp_path.glob("report_preview_*.png")) == [
        "report_preview_1_image.png", "report_preview_2_prediction.png", "report_preview_3_reference.png"]
