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
"""
from __future__ import annotations

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

    def add(self, probs: np.ndarray, i: int, j: int) -> None:
        """Add tile (i, j)'s (K, out_rows, out_cols) probabilities, clipped to the region and block."""
        grid, block = self.grid, self.block
        col = grid.cols[j]
        lo, hi = max(col, block.start), min(col + grid.out[1], block.stop)
        if hi <= lo:
            return
        rows = min(grid.out[0], grid.height - grid.rows[i])
        weighted = self._scratch[:, :rows, :hi - lo]
        np.multiply(probs[:, :rows, lo - col:hi - col], self.window[:rows, lo - col:hi - col], out=weighted)
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
