"""Images, labels, tiles and pixel samples of a linear probe.

The probe reads a few labelled images whole (it is meant for ~1000 x 1000 px images and a
handful of them), keeps the raw pixels in memory once, and normalises them per network
(a pretrained network gets its checkpoint's normalisation, the random one statistics of
the probe's images). Networks run tile by tile: tiles of ``tile`` px (a multiple of 32)
with ``margin`` px of context on every side, cut from the image reflect-padded to a
multiple of 32, so no tile seam shows in the features.

Without test images the probe holds out a spatial part of each training image: its bottom
``holdout_fraction`` of rows is scored, the rows above it minus a ``gap`` are used for
fitting, so no scored pixel is a fitted one and their neighbourhoods barely touch.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import rasterio
from rasterio.windows import Window

from training.data.labels import make_pairs, open_label, read_label
from training.data.rasters import Normalization, valid_mask

ALIGN = 32          # tiles and padding are multiples of this (the coarsest network stride)
MARGIN = 32         # context around each tile, pixels


@dataclass
class ProbeImage:
    """One labelled image and the rows of it used for fitting and for scoring."""

    image: Path
    pixels: np.ndarray                       # raw (bands, H, W), as read
    valid: np.ndarray                        # (H, W) bool: no band is nodata
    labels: np.ndarray                       # (H, W) int64, ignore where invalid
    train_rows: tuple[int, int] | None       # [start, end) rows fitted on, None = not a training image
    test_rows: tuple[int, int] | None        # [start, end) rows scored, None = not a test image

    @property
    def height(self) -> int:
        """Rows of the image."""
        return int(self.labels.shape[0])

    @property
    def width(self) -> int:
        """Columns of the image."""
        return int(self.labels.shape[1])


def read_probe_image(image: str | Path, label: str | Path, bands: Sequence[int], ignore_index: int,
                     parameter: str = "LABELS") -> ProbeImage:
    """Read one image/label pair whole (labels on another grid are warped onto the image's)."""
    try:
        (pair,) = make_pairs([image], [label])
    except ValueError as exc:
        raise ValueError(str(exc).replace("LABELS:", f"{parameter}:", 1)) from None
    with rasterio.open(pair.image) as src:
        pixels = src.read(list(bands))
    with open_label(pair, ignore_index) as lab:
        labels = read_label(lab, Window(0, 0, pair.width, pair.height), ignore_index)
    valid = valid_mask(pixels, pair.image_nodata)
    labels[~valid] = ignore_index
    return ProbeImage(pair.image, pixels, valid, labels, None, None)


def plan_split(train: list[ProbeImage], test: list[ProbeImage], holdout_fraction: float,
               gap: int = MARGIN) -> list[ProbeImage]:
    """Set the fitted and scored rows; returns every image once (training images first)."""
    if test:
        for item in train:
            item.train_rows = (0, item.height)
        for item in test:
            item.test_rows = (0, item.height)
        return train + test
    for item in train:
        split = int(round(item.height * (1.0 - holdout_fraction)))
        if split - gap < ALIGN or item.height - split < ALIGN:
            raise ValueError(
                f"TEST_IMAGES: none given, and {item.image.name} ({item.height} rows) is too small to hold out "
                f"{holdout_fraction:.0%} of its rows; give TEST_IMAGES/TEST_LABELS"
            )
        item.train_rows = (0, split - gap)
        item.test_rows = (split, item.height)
    return train


def label_class_names(path: str | Path) -> list[str]:
    """Class names stored with a label raster (rsseg's ``class_names`` tag), or []."""
    try:
        with rasterio.open(path) as src:
            text = src.tags(1).get("class_names")
        names = json.loads(text) if text else []
        return [str(n) for n in names] if isinstance(names, list) else []
    except (rasterio.errors.RasterioError, ValueError):
        return []


def normalised(item: ProbeImage, normalization: Normalization) -> np.ndarray:
    """(bands, H, W) float32 in network units, nodata pixels at 0 (the band mean)."""
    out = normalization.apply(item.pixels)
    out[:, ~item.valid] = 0.0
    return out


# ----------------------------------------------------------------------------- tiles
@dataclass(frozen=True)
class Tile:
    """A tile's rows/cols in image pixels; the network sees it with ``MARGIN`` around."""

    row: int
    col: int
    height: int
    width: int


def padded_image(image: np.ndarray) -> np.ndarray:
    """Reflect-pad (C, H, W) by MARGIN on every side plus up to a multiple of ALIGN."""
    _c, h, w = image.shape
    extra_h, extra_w = -h % ALIGN, -w % ALIGN
    return np.pad(image, ((0, 0), (MARGIN, MARGIN + extra_h), (MARGIN, MARGIN + extra_w)), mode="reflect")


def tiles_over(height: int, width: int, rows: tuple[int, int], tile: int) -> list[Tile]:
    """Tiles covering rows [start, end) of an image, all dimensions multiples of ALIGN."""
    full_h, full_w = height + (-height % ALIGN), width + (-width % ALIGN)
    start = (rows[0] // ALIGN) * ALIGN
    out = []
    for row in range(start, min(rows[1], full_h), tile):
        for col in range(0, full_w, tile):
            out.append(Tile(row, col, min(tile, full_h - row), min(tile, full_w - col)))
    return out


def tile_input(padded: np.ndarray, tile: Tile) -> np.ndarray:
    """The network input of ``tile``: its pixels plus MARGIN on every side."""
    return padded[:, tile.row:tile.row + tile.height + 2 * MARGIN, tile.col:tile.col + tile.width + 2 * MARGIN]


def spread_tiles(tiles: list[Tile], count: int) -> list[Tile]:
    """At most ``count`` tiles, evenly spaced in the list (BatchNorm recalibration)."""
    if count <= 0 or len(tiles) <= count:
        return list(tiles)
    index = np.linspace(0, len(tiles) - 1, count).round().astype(int)
    return [tiles[i] for i in index]


# ----------------------------------------------------------------------------- pixel samples
def sample_pixels(item: ProbeImage, count: int, seed: int, image_index: int, ignore_index: int) -> np.ndarray:
    """(N, 2) (row, col) of up to ``count`` labelled pixels of the training rows, uniform
    without replacement; depends only on (seed, image_index)."""
    if item.train_rows is None:
        return np.zeros((0, 2), dtype=np.int64)
    start, end = item.train_rows
    labels = item.labels[start:end]
    rows, cols = np.nonzero((labels != ignore_index) & (labels >= 0))
    if rows.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    rng = np.random.default_rng([int(seed), int(image_index)])
    pick = rng.choice(rows.size, size=min(count, rows.size), replace=False)
    pick.sort()
    return np.stack([rows[pick] + start, cols[pick]], axis=1).astype(np.int64)


def positions_in_tile(positions: np.ndarray, tile: Tile) -> np.ndarray:
    """Indices of the (row, col) positions that fall inside ``tile``."""
    r, c = positions[:, 0], positions[:, 1]
    inside = (r >= tile.row) & (r < tile.row + tile.height) & (c >= tile.col) & (c < tile.col + tile.width)
    return np.flatnonzero(inside)


def iter_tiles(items: Sequence[ProbeImage], which: str, tile: int) -> Iterator[tuple[int, ProbeImage, list[Tile]]]:
    """(index, image, its tiles over the ``which`` rows: 'train' or 'test') for images that have them."""
    for index, item in enumerate(items):
        rows = item.train_rows if which == "train" else item.test_rows
        if rows is not None:
            yield index, item, tiles_over(item.height, item.width, rows, tile)
