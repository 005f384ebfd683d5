"""Small PNG pictures of rasters, for reports: an image stretched for display, a class map in its colours.

Rasters of any size are read decimated (rasterio's ``out_shape``: GDAL reads overviews or
every n-th pixel), so a preview costs memory in the size of the picture, not the raster.
A raster with a colour table is drawn as classes (its own colours, unless the caller gives
colours, e.g. the prediction's, so that a reference is drawn like the prediction); any
other raster as an image: its first three bands (one band as grey), each stretched between
its 2nd and 98th percentiles. Class 255 (rsseg's and the reference's "no class") and nodata
are light grey.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import rasterio
from rasterio.enums import Resampling

from .model_card import default_color
from .png import label_to_rgb, stretch_to_rgb, write_png

MAX_EDGE = 480               # pixels of the longer side of a preview
NO_CLASS_RGB = (225, 225, 225)
NO_CLASS = 255


@dataclass(frozen=True)
class Preview:
    """One picture written for a report."""

    title: str
    path: str
    kind: str           # "image" or "classes"


def has_color_table(dataset) -> bool:
    """True when band 1 carries a colour table (rsseg class and cluster maps, most label rasters)."""
    try:
        return dataset.count == 1 and bool(dataset.colormap(1))
    except ValueError:
        return False


def preview_shape(height: int, width: int, max_edge: int = MAX_EDGE) -> tuple[int, int]:
    """(rows, cols) of a picture no larger than ``max_edge`` with the raster's aspect ratio; never upsampled."""
    scale = min(1.0, max_edge / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def image_rgb(dataset, max_edge: int = MAX_EDGE) -> np.ndarray:
    """(H, W, 3) uint8 display picture of an image raster (first three bands, or one as grey)."""
    rows, cols = preview_shape(dataset.height, dataset.width, max_edge)
    bands = list(range(1, min(3, dataset.count) + 1))
    data = dataset.read(bands, out_shape=(len(bands), rows, cols), resampling=Resampling.average, masked=True)
    filled = data.filled(np.nan).astype(np.float32) if np.ma.is_masked(data) else np.asarray(data, np.float32)
    valid = np.isfinite(filled).all(axis=0)
    if valid.any():
        fill = np.nanmedian(filled[:, valid], axis=1)[:, None, None]
        filled = np.where(np.isfinite(filled), filled, fill)
    rgb = stretch_to_rgb(filled)
    rgb[~valid] = NO_CLASS_RGB
    return rgb


def class_colors_of(dataset, n: int = 256) -> list[tuple[int, int, int]]:
    """The raster's colour table as RGB for ids 0..n-1 (palette colours where it has none)."""
    table = dataset.colormap(1) if has_color_table(dataset) else {}
    return [tuple(int(v) for v in table[i][:3]) if i in table else default_color(i) for i in range(n)]


def classes_rgb(dataset, colors: Sequence[tuple[int, int, int]] | None = None, max_edge: int = MAX_EDGE) -> np.ndarray:
    """(H, W, 3) uint8 picture of a class raster: nearest-neighbour decimation (ids are never averaged)."""
    rows, cols = preview_shape(dataset.height, dataset.width, max_edge)
    ids = dataset.read(1, out_shape=(rows, cols), resampling=Resampling.nearest)
    palette = list(colors) if colors else class_colors_of(dataset)
    palette = (palette + [default_color(i) for i in range(len(palette), 256)])[:256]
    palette[NO_CLASS] = NO_CLASS_RGB
    ids = np.asarray(ids)
    outside = (ids < 0) | (ids > 255)
    if dataset.nodata is not None and np.isfinite(dataset.nodata):
        outside |= ids == dataset.nodata
    rgb = label_to_rgb(np.where(outside, NO_CLASS, ids).astype(np.int64), palette)
    rgb[outside] = NO_CLASS_RGB
    return rgb


def slug(text: str) -> str:
    """A file-name-safe form of a title."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "preview"


def write_preview(dataset, title: str, target: str | os.PathLike, kind: str | None = None,
                  colors: Sequence[tuple[int, int, int]] | None = None, max_edge: int = MAX_EDGE) -> Preview:
    """Write the PNG of an open ``dataset`` (``kind`` None: classes when it has a colour table)."""
    kind = kind or ("classes" if has_color_table(dataset) else "image")
    rgb = classes_rgb(dataset, colors, max_edge) if kind == "classes" else image_rgb(dataset, max_edge)
    write_png(target, rgb)
    return Preview(title, str(target), kind)


def preview_path(report_path: str | os.PathLike, index: int, title: str) -> Path:
    """Where a report's k-th preview goes: beside the report, named after it."""
    report = Path(report_path)
    return report.with_name(f"{report.stem}_preview_{index}_{slug(title)}.png")


def order_extra_rasters(paths: Sequence[str]) -> tuple[list[str], list[str]]:
    """Extra rasters split into (images, class maps), so a report reads image | prediction |
    reference | cluster map: images go before the prediction, class maps after the reference."""
    images, classes = [], []
    for path in paths:
        with rasterio.open(path) as src:
            (classes if has_color_table(src) else images).append(path)
    return images, classes
