"""Averaging overlapping tile scores in a strip of rows, so memory does not grow with height.

Tiles arrive row of tiles by row of tiles, left to right. A strip as tall as one output
tile and as wide as the column block holds the weighted sum of class scores and the sum of
weights. When a row of tiles is done, its top rows (down to where the next row of tiles
starts) are final: they are divided, turned into a class (argmax) and a confidence (max
probability), handed out, and the strip moves down.
"""
from __future__ import annotations

import numpy as np

from .tiling import ColumnBlock, TileGrid


class StripBlender:
    """Weighted average of class scores over one column block, one strip of rows at a time."""

    def __init__(self, grid: TileGrid, block: ColumnBlock, n_classes: int, window: np.ndarray):
        self.grid, self.block, self.window = grid, block, window
        rows, width = grid.out[0], block.stop - block.start
        self.scores = np.zeros((n_classes, rows, width), np.float32)
        self.weights = np.zeros((rows, width), np.float32)

    def add(self, probs: np.ndarray, i: int, j: int) -> None:
        """Add tile (i, j)'s (K, out_rows, out_cols) probabilities, clipped to the region and block."""
        grid, block = self.grid, self.block
        col = grid.cols[j]
        lo, hi = max(col, block.start), min(col + grid.out[1], block.stop)
        if hi <= lo:
            return
        rows = min(grid.out[0], grid.height - grid.rows[i])
        weight = self.window[:rows, lo - col:hi - col]
        self.scores[:, :rows, lo - block.start:hi - block.start] += probs[:, :rows, lo - col:hi - col] * weight
        self.weights[:rows, lo - block.start:hi - block.start] += weight

    def finish_row(self, i: int, valid: np.ndarray, want_confidence: bool, nodata: int):
        """Final rows of tile-row ``i``: (first row, classes, confidence or None); the strip moves down.

        ``valid`` is the input's validity mask for those rows (False -> nodata in outputs).
        """
        start, end = self.grid.final_rows(i)
        n = end - start
        probs = self.scores[:, :n] / self.weights[:n]
        classes = probs.argmax(axis=0).astype(np.uint8 if nodata == 255 else np.uint16)
        classes[~valid] = nodata
        confidence = None
        if want_confidence:
            confidence = probs.max(axis=0)
            confidence[~valid] = -1.0
        self._shift(n)
        return start, classes, confidence

    def _shift(self, n: int) -> None:
        """Drop the ``n`` finished rows; the rows below them (overlap) move to the top."""
        keep = self.scores.shape[1] - n
        if keep > 0:
            self.scores[:, :keep] = self.scores[:, n:]
            self.weights[:keep] = self.weights[n:]
        self.scores[:, max(keep, 0):] = 0.0
        self.weights[max(keep, 0):] = 0.0
