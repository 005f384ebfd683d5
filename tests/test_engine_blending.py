"""The cheap blending and writing paths give the same numbers as the obvious full-raster ones."""
from __future__ import annotations

import numpy as np
import pytest
import rasterio
from helpers import write_geotiff

from engine.blending import StripBlender, argmax_classes
from engine.raster_io import ClassRasterWriter, Region
from engine.segment import gdal_cache_bytes
from engine.tiling import axis_weight_sum, blend_profile, blend_window, column_blocks, make_grid


def full_average(grid, probs):
    """Reference: weighted sums and weights over the whole region, then divided."""
    k = next(iter(probs.values())).shape[0]
    scores = np.zeros((k, grid.height, grid.width), np.float64)
    weights = np.zeros((grid.height, grid.width), np.float64)
    window = blend_window(*grid.out).astype(np.float64)
    for (i, j), p in probs.items():
        r, c = grid.rows[i], grid.cols[j]
        h, w = min(grid.out[0], grid.height - r), min(grid.out[1], grid.width - c)
        scores[:, r:r + h, c:c + w] += p[:, :h, :w] * window[:h, :w]
        weights[r:r + h, c:c + w] += window[:h, :w]
    return scores / weights, weights


def random_probs(grid, k, seed=0):
    rng = np.random.default_rng(seed)
    probs = {}
    for i in range(len(grid.rows)):
        for j in range(len(grid.cols)):
            p = rng.random((k, *grid.out)).astype(np.float32)
            probs[i, j] = p / p.sum(axis=0, keepdims=True)
    return probs


def test_separable_weight_sums_equal_the_accumulated_window():
    grid = make_grid(150, 95, (40, 40), (36, 36), 30)
    _, weights = full_average(grid, random_probs(grid, 2))
    rows = axis_weight_sum(grid.rows, blend_profile(grid.out[0]), grid.height, 0, grid.height)
    cols = axis_weight_sum(grid.cols, blend_profile(grid.out[1]), grid.width, 20, 70)
    np.testing.assert_allclose(np.outer(rows, cols), weights[:, 20:70], rtol=1e-5)


def test_region_smaller_than_a_tile_weights_only_its_pixels():
    grid = make_grid(10, 7, (32, 32), (32, 32), 15)
    _, weights = full_average(grid, random_probs(grid, 2))
    rows = axis_weight_sum(grid.rows, blend_profile(32), grid.height, 0, grid.height)
    cols = axis_weight_sum(grid.cols, blend_profile(32), grid.width, 0, grid.width)
    np.testing.assert_allclose(np.outer(rows, cols), weights, rtol=1e-5)


def test_argmax_classes_matches_numpy_including_ties():
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 3, (4, 9, 11)).astype(np.float32)  # many ties: the first class must win
    out = np.empty((9, 11), np.uint8)
    best = argmax_classes(scores, out)
    np.testing.assert_array_equal(out, scores.argmax(axis=0))
    np.testing.assert_array_equal(best, scores.max(axis=0))


@pytest.mark.parametrize("block_width", [0, 64])
def test_strip_blender_equals_full_raster_average(block_width):
    grid = make_grid(130, 150, (32, 32), (30, 30), 25)
    probs = random_probs(grid, 3, seed=1)
    expected, _ = full_average(grid, probs)
    classes = np.full((grid.height, grid.width), 99, np.uint8)
    confidence = np.zeros((grid.height, grid.width), np.float32)
    for block in column_blocks(grid, block_width):
        blender = StripBlender(grid, block, 3)
        for i in range(len(grid.rows)):
            for j in block.tile_cols:
                blender.add(probs[i, j], i, j)
            start, end = grid.final_rows(i)
            valid = np.ones((end - start, block.stop - block.start), bool)
            valid[0, 0] = False
            row, c, f = blender.finish_row(i, valid, True, 255)
            classes[row:row + c.shape[0], block.start:block.stop] = c
            confidence[row:row + c.shape[0], block.start:block.stop] = f
    invalid = classes == 255
    assert invalid.sum() == len(grid.rows) * len(column_blocks(grid, block_width))
    np.testing.assert_array_equal(classes[~invalid], expected.argmax(axis=0)[~invalid])
    np.testing.assert_allclose(confidence[~invalid], expected.max(axis=0)[~invalid], atol=1e-6)
    assert (confidence[invalid] == -1.0).all()


def test_writer_buffers_rows_arriving_in_uneven_chunks(tmp_path):
    source = write_geotiff(tmp_path / "in.tif", np.zeros((1, 700, 300), np.uint8))
    expected = np.random.default_rng(5).integers(0, 4, (700, 300)).astype(np.uint8)
    with rasterio.open(source) as src:
        writer = ClassRasterWriter(str(tmp_path / "out.tif"), src, Region(0, 0, 700, 300), ["a", "b", "c", "d"],
                                   [(0, 0, 0)] * 4, str(tmp_path / "conf.tif"))
        for block, (start, stop) in enumerate([(0, 170), (170, 300)]):  # two column blocks
            row = 0
            for n in (100, 37, 300, 1, 262):
                part = expected[row:row + n, start:stop]
                writer.add_rows(row, start, part, part.astype(np.float32) / 4)
                row += n
        writer.commit()
    with rasterio.open(tmp_path / "out.tif") as out, rasterio.open(tmp_path / "conf.tif") as conf:
        np.testing.assert_array_equal(out.read(1), expected)
        np.testing.assert_array_equal(conf.read(1), expected.astype(np.float32) / 4)


def test_gdal_cache_is_sized_in_bytes_from_tile_and_block(tmp_path):
    """Rasterio passes an integer GDAL_CACHEMAX to GDAL as bytes: 64 once meant a 64-byte cache."""
    gdal = pytest.importorskip("osgeo.gdal")
    raster = write_geotiff(tmp_path / "in.tif", np.zeros((3, 64, 3000), np.uint8))
    with rasterio.open(raster) as src:
        small = make_grid(64, 64, (64, 64), (64, 64), 15)
        floor = gdal_cache_bytes(src, small, column_blocks(small, 0), want_confidence=False)
        wide = make_grid(64, 3000, (512, 512), (512, 512), 15)
        size = gdal_cache_bytes(src, wide, column_blocks(wide, 0), want_confidence=True)
    assert floor == 8 * 2**20 < size <= 128 * 2**20
    with rasterio.Env(GDAL_CACHEMAX=size):
        assert gdal.GetCacheMax() == size
