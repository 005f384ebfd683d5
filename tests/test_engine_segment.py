"""segment_raster end to end on generated rasters and tiny ONNX models."""
from __future__ import annotations

import json
import os
import tracemalloc

import numpy as np
import pytest
import rasterio
from helpers import write_geotiff
from helpers_onnx import conv_model, run_whole
from rasterio.transform import from_origin

from engine.model_card import ModelCard
from engine.progress import Cancelled, RunFeedback
from engine.segment import segment_raster

QUIET = RunFeedback(log=lambda message: None)


def random_image(shape, dtype=np.uint8, high=255, seed=0):
    rng = np.random.default_rng(seed)
    # smooth-ish content so classes form regions rather than salt and pepper
    base = rng.random((shape[0], shape[1] // 8 + 1, shape[2] // 8 + 1))
    up = np.repeat(np.repeat(base, 8, axis=1), 8, axis=2)[:, : shape[1], : shape[2]]
    noise = rng.random(shape) * 0.2
    return ((up * 0.8 + noise) * high).astype(dtype)


def read(path):
    with rasterio.open(path) as src:
        return src.read(1), src.profile


def test_tiled_equals_whole_for_pointwise_model(tmp_path):
    image = random_image((3, 150, 230))
    raster = write_geotiff(tmp_path / "in.tif", image)
    model = conv_model(tmp_path / "m.onnx", 3, 4, kernel=1, layers=2)
    result = segment_raster(str(raster), str(model), str(tmp_path / "out.tif"), tile_size=64, overlap=20,
                            confidence_path=str(tmp_path / "conf.tif"), feedback=QUIET)
    whole = run_whole(model, image.astype(np.float32) / 255.0)
    classes, profile = read(result.output_path)
    confidence, _ = read(result.confidence_path)
    assert classes.shape == (150, 230)
    np.testing.assert_allclose(confidence, whole.max(axis=0), atol=1e-5)  # blending identical tiles changes nothing
    agree = classes == whole.argmax(axis=0)
    assert agree.mean() > 0.999  # ties between classes may round either way
    assert result.provider == "CPUExecutionProvider"


def test_no_seams_with_3x3_convolutions(tmp_path):
    """Tile borders see zero padding; with overlap and blending the map matches the whole-image run."""
    image = random_image((3, 200, 260), seed=1)
    raster = write_geotiff(tmp_path / "in.tif", image)
    model = conv_model(tmp_path / "m.onnx", 3, 3, kernel=3, layers=3)
    result = segment_raster(str(raster), str(model), str(tmp_path / "out.tif"), tile_size=64, overlap=25,
                            confidence_path=str(tmp_path / "conf.tif"), feedback=QUIET)
    whole = run_whole(model, image.astype(np.float32) / 255.0)
    classes, _ = read(result.output_path)
    confidence, _ = read(result.confidence_path)
    assert (classes == whole.argmax(axis=0)).mean() > 0.995
    assert np.abs(confidence - whole.max(axis=0)).mean() < 2e-3
    # the error along tile borders is no worse than elsewhere: no visible seams
    err = np.abs(confidence - whole.max(axis=0))
    assert err.max() < 0.05


def test_georeferencing_and_nodata_preserved(tmp_path):
    image = random_image((3, 120, 90), seed=2)
    image[:, 10:30, 20:50] = 0
    transform = from_origin(300000.0, 4100000.0, 30.0, 30.0)
    raster = write_geotiff(tmp_path / "in.tif", image, crs="EPSG:32618", transform=transform, nodata=0)
    model = conv_model(tmp_path / "m.onnx", 3, 2)
    result = segment_raster(str(raster), str(model), str(tmp_path / "out.tif"), tile_size=64,
                            confidence_path=str(tmp_path / "conf.tif"), feedback=QUIET)
    classes, profile = read(result.output_path)
    confidence, conf_profile = read(result.confidence_path)
    assert profile["crs"].to_epsg() == 32618 and profile["transform"] == transform
    assert conf_profile["transform"] == transform and conf_profile["dtype"] == "float32"
    assert profile["nodata"] == 255 and profile["tiled"] and profile["compress"] == "deflate"
    assert (classes[10:30, 20:50] == 255).all() and (confidence[10:30, 20:50] == -1).all()
    assert (classes[40:] != 255).all()
    with rasterio.open(result.output_path) as src:
        assert src.colormap(1)[1][:3] == result.class_colors[1]
    assert "<Category>class 1</Category>" in (tmp_path / "out.tif.aux.xml").read_text()


def test_uint16_multiband_with_band_selection_and_card_normalisation(tmp_path):
    image = random_image((5, 100, 100), dtype=np.uint16, high=10000, seed=3)
    raster = write_geotiff(tmp_path / "in.tif", image)
    card = ModelCard(class_names=["water", "land", "cloud"], class_colors=[(0, 0, 255), (0, 255, 0), (255, 255, 255)],
                     bands=[4, 2, 5], band_offset=[1000.0, 2000.0, 3000.0], band_scale=[5000.0, 4000.0, 3000.0])
    weights = np.array([[1, -1, 0.5], [-1, 1, 0], [0.3, 0.2, -1]], np.float32)
    model = conv_model(tmp_path / "m.onnx", 3, 3, weights=weights, card=card)
    result = segment_raster(str(raster), str(model), str(tmp_path / "out.tif"), tile_size=64, feedback=QUIET)
    assert result.bands == [4, 2, 5] and result.class_names == ["water", "land", "cloud"]
    x = (image[[3, 1, 4]].astype(np.float32) - np.array([1000, 2000, 3000], np.float32)[:, None, None]) \
        / np.array([5000, 4000, 3000], np.float32)[:, None, None]
    expected = np.einsum("kc,chw->khw", weights, x).argmax(axis=0)
    classes, _ = read(result.output_path)
    assert (classes == expected).mean() > 0.999
    # explicit BANDS override the card
    other = segment_raster(str(raster), str(model), str(tmp_path / "out2.tif"), bands=[1, 2, 3], tile_size=64,
                           feedback=QUIET)
    assert other.bands == [1, 2, 3]


def test_extent_clips_output_to_the_raster_grid(tmp_path):
    image = random_image((3, 100, 100), seed=4)
    raster = write_geotiff(tmp_path / "in.tif", image)  # origin (500000, 2800000), 1 m pixels
    model = conv_model(tmp_path / "m.onnx", 3, 3)
    extent = (500010.5, 2800000.0 - 70.2, 500060.0, 2800000.0 - 20.0)  # cols 10..60, rows 20..71
    result = segment_raster(str(raster), str(model), str(tmp_path / "out.tif"), extent=extent, tile_size=32,
                            feedback=QUIET)
    classes, profile = read(result.output_path)
    assert classes.shape == (51, 50)
    assert profile["transform"] == from_origin(500010.0, 2800000.0 - 20.0, 1.0, 1.0)
    full = segment_raster(str(raster), str(model), str(tmp_path / "full.tif"), tile_size=32, feedback=QUIET)
    whole, _ = read(full.output_path)
    assert (classes == whole[20:71, 10:60]).mean() > 0.999


def test_deepness_style_fixed_model_with_cropped_output_and_rgba(tmp_path):
    """Deepness keys only, fixed 1x3x64x64 input, 64 -> 52 output, RGBA raster, alpha as nodata."""
    rgb = random_image((3, 90, 130), seed=5)
    alpha = np.full((1, 90, 130), 255, np.uint8)
    alpha[0, :, :15] = 0
    raster = tmp_path / "rgba.tif"
    with rasterio.open(raster, "w", driver="GTiff", width=130, height=90, count=4, dtype="uint8", crs="EPSG:32640",
                       transform=from_origin(1000.0, 5000.0, 1.0, 1.0), photometric="RGB", alpha="YES") as dst:
        dst.write(np.concatenate([rgb, alpha]))
    meta = {"model_type": json.dumps("Segmentor"), "class_names": json.dumps({"0": "bg", "1": "fg"}),
            "tiles_size": json.dumps(64), "tiles_overlap": json.dumps(20),
            "standardization_mean": json.dumps([0.5] * 3),
            "standardization_std": json.dumps([0.25] * 3)}
    model = conv_model(tmp_path / "d.onnx", 3, 2, kernel=1, layers=2, input_size=64, fixed_batch=1, crop=6,
                       metadata=meta)
    result = segment_raster(str(raster), str(model), str(tmp_path / "out.tif"), batch_size=8, feedback=QUIET)
    assert result.tile_size == (64, 64) and result.batch_size == 1 and result.class_names == ["bg", "fg"]
    classes, _ = read(result.output_path)
    assert (classes[:, :15] == 255).all()
    expected = run_whole(model, np.zeros((3, 64, 64), np.float32))  # shape check of the reference model
    assert expected.shape == (2, 52, 52)
    # pointwise model: every valid pixel is classified as the whole-image run would (centre crop aligned)
    x = (rgb.astype(np.float32) / 255.0 - 0.5) / 0.25
    ref_model = conv_model(tmp_path / "dyn.onnx", 3, 2, kernel=1, layers=2)  # same seed, same weights, dynamic
    ref = run_whole(ref_model, x).argmax(axis=0)
    assert (classes[:, 15:] == ref[:, 15:]).mean() > 0.999


def test_sigmoid_single_channel_is_two_classes(tmp_path):
    image = random_image((1, 70, 70), seed=6)
    raster = write_geotiff(tmp_path / "in.tif", image)
    model = conv_model(tmp_path / "s.onnx", 1, 1, final="sigmoid", weights=np.array([[4.0]]), bias=np.array([-2.0]),
                       metadata={"model_type": json.dumps("Segmentor")})
    result = segment_raster(str(raster), str(model), str(tmp_path / "out.tif"), tile_size=32, feedback=QUIET)
    classes, _ = read(result.output_path)
    assert len(result.class_names) == 2
    np.testing.assert_array_equal(classes, (image[0] / 255.0 * 4 - 2 > 0).astype(np.uint8))


def test_logits_output_gets_softmax(tmp_path):
    image = random_image((3, 40, 40), seed=7)
    raster = write_geotiff(tmp_path / "in.tif", image)
    model = conv_model(tmp_path / "l.onnx", 3, 3, final="none", card=ModelCard(outputs="logits"))
    result = segment_raster(str(raster), str(model), str(tmp_path / "out.tif"), tile_size=32,
                            confidence_path=str(tmp_path / "c.tif"), feedback=QUIET)
    conf, _ = read(result.confidence_path)
    logits = run_whole(model, image.astype(np.float32) / 255)
    p = np.exp(logits - logits.max(0)) / np.exp(logits - logits.max(0)).sum(0)
    np.testing.assert_allclose(conf, p.max(0), atol=1e-5)


def test_raster_smaller_than_a_tile_is_padded(tmp_path):
    image = random_image((3, 20, 37), seed=8)
    raster = write_geotiff(tmp_path / "in.tif", image)
    model = conv_model(tmp_path / "m.onnx", 3, 3, input_size=64, fixed_batch=1)
    result = segment_raster(str(raster), str(model), str(tmp_path / "out.tif"), feedback=QUIET)
    classes, _ = read(result.output_path)
    assert classes.shape == (20, 37) and (classes != 255).all()


def test_column_blocks_give_the_same_map(tmp_path):
    image = random_image((3, 80, 700), seed=9)
    raster = write_geotiff(tmp_path / "in.tif", image)
    model = conv_model(tmp_path / "m.onnx", 3, 3, kernel=3, layers=2)
    one = segment_raster(str(raster), str(model), str(tmp_path / "a.tif"), tile_size=32, overlap=25,
                         confidence_path=str(tmp_path / "ac.tif"), feedback=QUIET, max_strip_mb=0)
    blocks = segment_raster(str(raster), str(model), str(tmp_path / "b.tif"), tile_size=32, overlap=25,
                            confidence_path=str(tmp_path / "bc.tif"), feedback=QUIET, max_strip_mb=0.01)
    np.testing.assert_array_equal(read(one.output_path)[0], read(blocks.output_path)[0])
    np.testing.assert_allclose(read(one.confidence_path)[0], read(blocks.confidence_path)[0], atol=1e-6)


# ---------------------------------------------------------------------------- errors
@pytest.fixture
def small_case(tmp_path):
    raster = write_geotiff(tmp_path / "in.tif", random_image((4, 40, 40)))
    model = conv_model(tmp_path / "m.onnx", 3, 2)
    return tmp_path, str(raster), str(model)


def test_error_band_mismatch(small_case, tmp_path):
    tmp, raster, model = small_case
    with pytest.raises(ValueError, match=r"BANDS: BANDS lists 2 bands, model expects 3"):
        segment_raster(raster, model, str(tmp / "o.tif"), bands=[1, 2], feedback=QUIET)
    with pytest.raises(ValueError, match=r"BANDS: raster has 4 bands, cannot read band\(s\) \[7\]"):
        segment_raster(raster, model, str(tmp / "o.tif"), bands=[1, 2, 7], feedback=QUIET)
    one_band = write_geotiff(tmp / "one.tif", random_image((1, 40, 40)))
    with pytest.raises(ValueError, match=r"BANDS: raster has 1 band, model expects 3: set BANDS"):
        segment_raster(str(one_band), model, str(tmp / "o.tif"), feedback=QUIET)


def test_error_extent(small_case):
    tmp, raster, model = small_case
    with pytest.raises(ValueError, match="EXTENT: .* does not overlap the raster"):
        segment_raster(raster, model, str(tmp / "o.tif"), extent=(0, 0, 10, 10), feedback=QUIET)
    with pytest.raises(ValueError, match="EXTENT: empty extent"):
        segment_raster(raster, model, str(tmp / "o.tif"), extent=(500010, 2799990, 500010, 2799995), feedback=QUIET)


def test_error_not_an_onnx_model_and_unwritable_output(small_case):
    tmp, raster, model = small_case
    bogus = tmp / "bogus.onnx"
    bogus.write_bytes(b"not a protobuf at all")
    with pytest.raises(ValueError, match="MODEL: .*bogus.onnx is not an ONNX model"):
        segment_raster(raster, str(bogus), str(tmp / "o.tif"), feedback=QUIET)
    with pytest.raises(ValueError, match="OUTPUT: folder .* does not exist"):
        segment_raster(raster, model, str(tmp / "missing" / "o.tif"), feedback=QUIET)
    with pytest.raises(ValueError, match="DEVICE: 'cuda' asked for"):
        segment_raster(raster, model, str(tmp / "o.tif"), device="cuda", feedback=QUIET)


def test_cancel_leaves_no_output(tmp_path):
    raster = write_geotiff(tmp_path / "in.tif", random_image((3, 200, 200)))
    model = conv_model(tmp_path / "m.onnx", 3, 2)
    calls = []

    def cancelled():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(Cancelled):
        segment_raster(str(raster), str(model), str(tmp_path / "out.tif"), tile_size=32, batch_size=1,
                       confidence_path=str(tmp_path / "conf.tif"),
                       feedback=RunFeedback(log=lambda m: None, is_cancelled=cancelled))
    assert sorted(os.listdir(tmp_path)) == ["in.tif", "m.onnx"]


def numpy_peak_segmenting(tmp_path, name, height, width):
    raster = tmp_path / f"{name}.tif"
    with rasterio.open(raster, "w", driver="GTiff", width=width, height=height, count=3, dtype="uint8",
                       crs="EPSG:32640", transform=from_origin(1000.0, 5000.0, 1.0, 1.0), tiled=True) as dst:
        for row in range(0, height, 500):
            rows = min(500, height - row)
            dst.write(random_image((3, rows, width), seed=row), window=rasterio.windows.Window(0, row, width, rows))
    model = conv_model(tmp_path / "m.onnx", 3, 2)
    tracemalloc.start()
    try:
        segment_raster(str(raster), str(model), str(tmp_path / f"{name}_out.tif"), tile_size=128, batch_size=4,
                       feedback=QUIET)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    classes, _ = read(tmp_path / f"{name}_out.tif")
    assert classes.shape == (height, width) and (classes != 255).all()
    return peak


def test_memory_does_not_grow_with_raster_height(tmp_path):
    """Numpy's peak (tracemalloc) for a raster 16x taller stays near the short one's and below
    one full-raster plane.

    The peak depends a little on thread timing (how many batches sit in the queues at the
    worst moment, and a longer run meets that moment more often), so the bound allows 1.5x:
    memory growing with height would be ~16x here."""
    short = numpy_peak_segmenting(tmp_path, "short", 500, 384)
    tall = numpy_peak_segmenting(tmp_path, "tall", 8000, 384)
    full_plane = 8000 * 384 * 4  # one float32 band of the tall raster
    assert tall < 1.5 * short, f"peak {short / 1e6:.1f} MB -> {tall / 1e6:.1f} MB"
    assert tall < full_plane, f"numpy peak {tall / 1e6:.1f} MB"
