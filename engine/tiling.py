"""Where the tiles go, and how much each pixel of a tile counts when tiles overlap.

Coordinates are in pixels of the *region* being segmented (the raster, or the part of it
inside EXTENT), origin at its top-left corner.

A model maps an input tile of ``tile`` pixels to an output of ``out`` pixels. When the
output is smaller (valid convolutions: 512 -> 484), it covers the centred part of the
tile, ``margin = (tile - out) // 2`` pixels in from the top-left. The grid is laid out in
*output* pixels so that the outputs cover the whole region; input tiles then reach
``margin`` pixels outside, into real neighbouring pixels or padding.

Output tiles start every ``stride`` pixels; the last one is moved back to end at the
region's edge (never past it), so only a region smaller than one tile needs padding.
Outputs falling outside the region are dropped, which gives padding a weight of 0.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The one definition of the tiling defaults: the segmenter uses them when neither the user nor
# the model card gives a value, and every exporter writes them into its model card. 15 % is
# also Deepness's default overlap, so a card reads the same in both plugins; with the
# raised-cosine blending (engine/blending.py) it leaves no seams, and 25 % would cost
# (0.85 / 0.75)^2 = 1.28x the tiles.
DEFAULT_TILE_SIZE = 512
DEFAULT_OVERLAP_PERCENT = 15.0


def card_tile_size(tile_size: int | None, patch_size: int | None = None) -> int:
    """Tile edge an exporter writes into a model card: ``tile_size`` when given, else
    :data:`DEFAULT_TILE_SIZE` or the training patch when that is larger (a network trained on
    large patches sees too little context on smaller tiles)."""
    if tile_size:
        return int(tile_size)
    return max(DEFAULT_TILE_SIZE, int(patch_size or 0))


@dataclass(frozen=True)
class TileGrid:
    """Tile layout over a region of ``height`` x ``width`` pixels."""

    height: int
    width: int
    tile: tuple[int, int]     # input tile (rows, cols)
    out: tuple[int, int]      # model output per tile (rows, cols)
    rows: tuple[int, ...]     # top row of each output tile
    cols: tuple[int, ...]     # left column of each output tile

    @property
    def margin(self) -> tuple[int, int]:
        """Offset of the output inside the input tile (centre-crop alignment)."""
        return (self.tile[0] - self.out[0]) // 2, (self.tile[1] - self.out[1]) // 2

    @property
    def n_tiles(self) -> int:
        """Tiles in the grid (each is run through the model once)."""
        return len(self.rows) * len(self.cols)

    def final_rows(self, i: int) -> tuple[int, int]:
        """Rows no tile after tile-row ``i`` touches: they are finished once row ``i`` is.

        Tile rows start in increasing order, so rows above the next tile row's top are final.
        """
        end = self.rows[i + 1] if i + 1 < len(self.rows) else self.height
        return self.rows[i], end

    def input_origin(self, i: int, j: int) -> tuple[int, int]:
        """Top-left of the input tile (i, j) in region pixels (may be negative)."""
        my, mx = self.margin
        return self.rows[i] - my, self.cols[j] - mx


def axis_starts(length: int, size: int, stride: int) -> tuple[int, ...]:
    """Starts of windows of ``size`` every ``stride`` covering [0, length); last one flush with the end."""
    if length <= size:
        return (0,)
    starts = list(range(0, length - size, stride))
    starts.append(length - size)
    return tuple(dict.fromkeys(starts))  # the flush window may coincide with a regular one


def make_grid(height: int, width: int, tile: tuple[int, int], out: tuple[int, int], overlap_percent: float) -> TileGrid:
    """Grid of tiles whose outputs overlap by ``overlap_percent`` of the output tile."""
    if height <= 0 or width <= 0:
        raise ValueError("EXTENT: the region to segment is empty")
    if not 0 <= overlap_percent < 100:
        raise ValueError(f"OVERLAP: expected a percentage in [0, 100), got {overlap_percent}")
    if out[0] > tile[0] or out[1] > tile[1]:
        raise ValueError(f"MODEL: output {out} is larger than its input tile {tile}; "
                         "rsseg expects the same size or a centre crop")
    strides = [max(1, size - int(round(size * overlap_percent / 100.0))) for size in out]
    return TileGrid(
        height=height,
        width=width,
        tile=tuple(tile),
        out=tuple(out),
        rows=axis_starts(height, out[0], strides[0]),
        cols=axis_starts(width, out[1], strides[1]),
    )


@dataclass(frozen=True)
class ColumnBlock:
    """A band of output columns [start, stop) and the tile columns that touch it.

    Very wide regions are processed block by block so memory stays bounded by the block
    width. A tile straddling a block edge touches both blocks but is computed once, in the
    left block; the part of its scores the right block needs is kept for it
    (:func:`carried_cols`, ``engine.blending.TileCarry``).
    """

    start: int
    stop: int
    tile_cols: tuple[int, ...]


def column_blocks(grid: TileGrid, block_width: int) -> list[ColumnBlock]:
    """Split the region's columns into blocks of ``block_width`` (0 = one block).

    A last block narrower than one output tile is merged into the one before it, so every
    block has a tile starting inside it (that tile carries the rows' validity and closes
    each row of tiles).
    """
    if block_width <= 0 or block_width >= grid.width:
        return [ColumnBlock(0, grid.width, tuple(range(len(grid.cols))))]
    starts = list(range(0, grid.width, block_width))
    if len(starts) > 1 and grid.width - starts[-1] < grid.out[1]:
        starts.pop()
    blocks = []
    for k, start in enumerate(starts):
        stop = starts[k + 1] if k + 1 < len(starts) else grid.width
        touching = tuple(j for j, c in enumerate(grid.cols) if c < stop and c + grid.out[1] > start)
        blocks.append(ColumnBlock(start, stop, touching))
    return blocks


def carried_cols(blocks: list[ColumnBlock], b: int) -> tuple[int, ...]:
    """Tile columns of block ``b`` that block ``b - 1`` already computed (they straddle its edge)."""
    if b == 0:
        return ()
    before = set(blocks[b - 1].tile_cols)
    return tuple(j for j in blocks[b].tile_cols if j in before)


def computed_cols(blocks: list[ColumnBlock], b: int) -> tuple[int, ...]:
    """Tile columns block ``b`` runs through the model: its own, minus those carried over."""
    carried = set(carried_cols(blocks, b))
    return tuple(j for j in blocks[b].tile_cols if j not in carried)


def blend_profile(n: int, floor: float = 0.0) -> np.ndarray:
    """Raised-cosine weights along one axis of an output tile, in (floor, 1] (float64).

    Sampled at pixel centres, so even with ``floor`` 0 every weight is positive (the edge
    pixel of a 512-px tile weighs ~1e-5): a pixel covered by one tile only (the region's
    border) still gets its class, and the weight rises from ~0 where a tile starts.
    """
    x = (np.arange(n, dtype=np.float64) + 0.5) / n
    return floor + (1.0 - floor) * np.sin(np.pi * x) ** 2


def blend_window(rows: int, cols: int, floor: float = 0.0) -> np.ndarray:
    """Separable raised-cosine weights for one output tile, in (floor, 1].

    Overlapping tiles are averaged with these weights, so each tile's border (where its
    context was cut, and convolutions saw padding) counts little next to a neighbour's
    centre, and the blend changes smoothly: no seams. The floor used to be 0.02: a tile's
    share then jumped from 0 to ~9 % on the line where it starts (0.02 against the
    neighbour's ~0.2 at 15 % overlap), and class changes along tile borders were 1.5x
    those of the interior (docs/performance.md, ``seam_excess``). Weights now start at ~0.
    """
    return np.outer(blend_profile(rows, floor), blend_profile(cols, floor)).astype(np.float32)


def axis_weight_sum(starts: tuple[int, ...], profile: np.ndarray, length: int, lo: int, hi: int) -> np.ndarray:
    """Sum of ``profile`` over the tiles starting at ``starts``, for pixels [lo, hi) of an axis.

    Because the window is an outer product and tiles sit on a product grid, the total weight
    of a pixel is (this for its row) x (this for its column): no 2-D weight sum is stored.
    Tiles are clipped at ``length`` (the region's edge), as their outputs are.
    """
    total = np.zeros(hi - lo, np.float64)
    size = len(profile)
    for start in starts:
        a, b = max(start, lo), min(start + size, hi, length)
        if b > a:
            total[a - lo:b - lo] += profile[a - start:b - start]
    return total.astype(np.float32)
