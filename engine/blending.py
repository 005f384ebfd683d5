"""Averaging overlapping tile scores in a strip of rows, so memory does not grow with height.

Tiles arrive row of tiles by row of tiles, left to right. A strip as tall as one output
tile and as wide as the column block holds the weighted sum of class scores. When a row of
tiles is done, its top rows (down to where the next row of tiles starts) are final: they
get a class (argmax) and a confidence (max probability), are handed out, and only the
overlap rows below them move to the top of the strip.

Costs are kept low because this runs beside the model on the same cores:

* each tile is weighted into a preallocated scratch tile and added in place (no per-tile
  temporaries, float32 throughout);
* the sum of weights is not accumulated: the raised-cosine window is separable and the
  grid is a product of row and column starts, so the sum is (row sums) x (column sums),
  two 1-D arrays;
* the class is the argmax of the weighted *sums* (dividing every class by the same positive
  weight cannot change the winner); only the confidence is divided, and only when asked;
* finished rows are processed in chunks of ``CHUNK_ROWS`` so temporaries stay small.

Column blocks (very wide regions) share the tiles straddling their edges: a
:class:`TileCarry` keeps the right part of those tiles' scores in an unlinked temporary
file while the left block runs, and hands them back in the same order to the right block,
so no tile is computed twice and memory still does not grow with the raster's height.
"""
from __future__ import annotations

import os
import tempfile

import numpy as np

from .tiling import ColumnBlock, TileGrid, axis_weight_sum, blend_profile

CHUNK_ROWS = 64


class StripBlender:
    """Weighted average of class scores over one column block, one strip of rows at a time."""

    def __init__(self, grid: TileGrid, block: ColumnBlock, n_classes: int):
        self.grid, self.block = grid, block
        rows, width = grid.out[0], block.stop - block.start
        self.row_profile, col_profile = blend_profile(grid.out[0]), blend_profile(grid.out[1])
        self.window = np.outer(self.row_profile, col_profile).astype(np.float32)
        self.scores = np.zeros((n_classes, rows, width), np.float32)
        self._scratch = np.empty((n_classes, *grid.out), np.float32)
        self.col_weights = axis_weight_sum(grid.cols, col_profile, grid.width, block.start, block.stop)

    def add(self, probs: np.ndarray, i: int, j: int, first_col: int | None = None) -> None:
        """Add tile (i, j)'s (K, out_rows, cols) probabilities, clipped to the region and block.

        ``first_col``: the region column of ``probs``' first column when it is only the right
        part of the tile (a tile carried over from the block on the left); default the tile's own.
        """
        grid, block = self.grid, self.block
        col = grid.cols[j] if first_col is None else first_col
        lo, hi = max(col, block.start), min(col + probs.shape[2], block.stop)
        if hi <= lo:
            return
        rows = min(grid.out[0], grid.height - grid.rows[i])
        weighted = self._scratch[:, :rows, :hi - lo]
        w0 = lo - grid.cols[j]  # window column of region column lo
        np.multiply(probs[:, :rows, lo - col:hi - col], self.window[:rows, w0:w0 + hi - lo], out=weighted)
        target = self.scores[:, :rows, lo - block.start:hi - block.start]
        np.add(target, weighted, out=target)

    def finish_row(self, i: int, valid: np.ndarray, want_confidence: bool, nodata: int):
        """Final rows of tile-row ``i``: (first row, classes, confidence or None); the strip moves down.

        ``valid`` is the input's validity mask for those rows (False -> nodata in outputs).
        """
        start, end = self.grid.final_rows(i)
        n = end - start
        classes = np.empty((n, self.scores.shape[2]), np.uint8 if nodata == 255 else np.uint16)
        confidence = np.empty(classes.shape, np.float32) if want_confidence else None
        row_weights = axis_weight_sum(self.grid.rows, self.row_profile, self.grid.height, start, end)
        for r0 in range(0, n, CHUNK_ROWS):
            r1 = min(n, r0 + CHUNK_ROWS)
            best = argmax_classes(self.scores[:, r0:r1], out=classes[r0:r1])
            if confidence is not None:
                np.divide(best, row_weights[r0:r1, None], out=best)
                np.divide(best, self.col_weights, out=confidence[r0:r1])
        if not valid.all():
            invalid = ~valid
            classes[invalid] = nodata
            if confidence is not None:
                confidence[invalid] = -1.0
        self._shift(n)
        return start, classes, confidence

    def _shift(self, n: int) -> None:
        """Drop the ``n`` finished rows; the rows below them (overlap) move to the top."""
        keep = self.scores.shape[1] - n
        for plane in self.scores:  # plane by plane: numpy would copy a whole strip it sees as overlapping
            if keep > 0:
                plane[:keep] = plane[n:]
            plane[max(keep, 0):] = 0.0


class TileCarry:
    """First-in first-out store of the tiles' scores one column block hands to the next.

    The left block writes the part of each straddling tile at or right of the edge
    (``edge``) as it blends it; the right block reads them back in the same order (row of
    tiles by row of tiles, left to right), one row of tiles at a time. An unlinked temporary
    file holds them, so memory stays bounded by one tile whatever the raster's height; disk
    use is K x out_rows x (tile columns past the edge) x 4 bytes per straddling tile.
    """

    def __init__(self, n_classes: int, out_rows: int, edge: int, grid_cols: tuple[int, ...], tile_cols: int,
                 folder: str | None = None) -> None:
        self.n_classes, self.out_rows, self.edge = n_classes, out_rows, edge
        self.widths = {j: c + tile_cols - edge for j, c in enumerate(grid_cols) if c < edge < c + tile_cols}
        self._file = tempfile.TemporaryFile(prefix="rsseg_carry_", dir=folder) if self.widths else None
        self.written = self.read = 0

    def keeps(self, j: int) -> bool:
        """Whether tile column ``j`` straddles this edge (its right part must be kept)."""
        return j in self.widths

    def put(self, probs: np.ndarray, j: int) -> None:
        """Keep tile column ``j``'s scores right of the edge (``probs``: the full tile)."""
        part = np.ascontiguousarray(probs[:, :, probs.shape[2] - self.widths[j]:], dtype=np.float32)
        self._file.write(part.data)
        self.written += 1

    def get(self, j: int) -> tuple[np.ndarray, int]:
        """The next kept tile, which must be of column ``j``: (scores, first region column)."""
        if self.read == 0:
            self._file.flush()
            self._file.seek(0, os.SEEK_SET)
        shape = (self.n_classes, self.out_rows, self.widths[j])
        raw = self._file.read(int(np.prod(shape)) * 4)
        self.read += 1
        return np.frombuffer(raw, np.float32).reshape(shape), self.edge

    def close(self) -> None:
        """Delete the temporary file (it is unlinked already: closing frees the disk space)."""
        if self._file is not None:
            self._file.close()
            self._file = None


def argmax_classes(scores: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Index of the best class of (K, rows, cols) ``scores`` written into ``out``; returns the best score.

    Same answer as ``scores.argmax(axis=0)`` (ties go to the first class) but one plane at a
    time, without int64 indices: a reduction over the slow axis is what made ``argmax`` costly.
    """
    best = scores[0].copy()
    out[...] = 0
    better = np.empty(best.shape, bool)
    for k in range(1, scores.shape[0]):
        np.greater(scores[k], best, out=better)
        np.copyto(out, k, where=better)
        np.maximum(best, scores[k], out=best)
    return best
