"""Tile grid, column blocks and blending weights."""
from __future__ import annotations

import numpy as np
import pytest

from engine.tiling import axis_starts, blend_window, column_blocks, make_grid


def coverage(length, size, starts):
    covered = np.zeros(length, int)
    for s in starts:
        covered[s:s + size] += 1
    return covered


@pytest.mark.parametrize("length,size,stride",
                         [(100, 32, 24), (32, 32, 24), (10, 32, 24), (1000, 256, 256), (257, 256, 200)])
def test_axis_starts_cover_without_leaving(length, size, stride):
    starts = axis_starts(length, size, stride)
    assert starts[0] == 0 and list(starts) == sorted(set(starts))
    assert (coverage(length, size, starts)[:length] >= 1).all()
    if length >= size:
        assert starts[-1] + size == length  # never past the edge: no padding needed
    assert all(b - a <= stride for a, b in zip(starts, starts[1:]))


def test_grid_centre_crop_alignment():
    grid = make_grid(300, 200, tile=(64, 64), out=(52, 52), overlap_percent=10)
    assert grid.margin == (6, 6)
    assert grid.input_origin(0, 0) == (-6, -6)
    assert grid.rows[-1] + 52 == 300 and grid.cols[-1] + 52 == 200
    starts = [grid.final_rows(i) for i in range(len(grid.rows))]
    assert starts[0][0] == 0 and starts[-1][1] == 300
    assert all(a[1] == b[0] for a, b in zip(starts, starts[1:]))  # final rows partition the region


def test_grid_errors():
    with pytest.raises(ValueError, match="OVERLAP"):
        make_grid(10, 10, (8, 8), (8, 8), 100)
    with pytest.raises(ValueError, match="EXTENT"):
        make_grid(0, 10, (8, 8), (8, 8), 10)


def test_column_blocks_cover_every_tile_touching_them():
    grid = make_grid(100, 1000, (64, 64), (64, 64), 25)
    blocks = column_blocks(grid, 256)
    assert [b.start for b in blocks] == [0, 256, 512, 768] and blocks[-1].stop == 1000
    for block in blocks:
        cover = np.zeros(grid.width, int)
        for j in block.tile_cols:
            cover[grid.cols[j]:grid.cols[j] + 64] += 1
        # every column of the block is covered exactly as in the full grid
        full = coverage(grid.width, 64, grid.cols)
        np.testing.assert_array_equal(cover[block.start:block.stop], full[block.start:block.stop])
    assert len(column_blocks(grid, 0)) == 1


def test_blend_window_is_positive_and_peaks_in_the_centre():
    w = blend_window(64, 48)
    assert w.shape == (64, 48) and w.min() > 0 and w.max() <= 1
    assert w[32, 24] > 0.99 and w[0, 0] < 0.01
    np.testing.assert_allclose(w, w[::-1, ::-1])
