"""Labelled imagery for fine-tuning: (image, label) raster pairs read window by window.

A label raster may come on another grid or CRS than its image (a mask exported from
another tool, a coarser land-cover product): it is read through a GDAL warped VRT onto the
image's grid with nearest-neighbour resampling, so class ids are never blended and
nothing is written to disk. Pixels outside the label raster, its nodata pixels and the
image's nodata pixels all become the ignore value and never count in the loss or metrics.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import rasterio
import torch
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window
from torch.utils.data import Dataset

from engine.safeguards import open_raster
from training.data.rasters import Normalization, valid_mask


@dataclass(frozen=True)
class LabeledPair:
    """One image raster and the label raster that goes with it."""

    image: Path
    label: Path
    width: int
    height: int
    image_nodata: float | None
    aligned: bool                # True: same grid, read directly; False: warped onto the image grid


def make_pairs(images: Sequence[str | os.PathLike], labels: Sequence[str | os.PathLike]) -> list[LabeledPair]:
    """Pair images with labels by position and decide, per pair, whether to warp the label."""
    if len(images) != len(labels):
        raise ValueError(f"LABELS: {len(labels)} label raster(s) for {len(images)} image(s); give one per image")
    pairs = []
    for image, label in zip(images, labels):
        image, label = Path(image), Path(label)
        for path, name in ((image, "INPUT"), (label, "LABELS")):
            if not path.is_file():
                raise ValueError(f"{name}: {path} is not a raster file")
        with open_raster(image, "INPUT") as img, open_raster(label, "LABELS") as lab:
            if lab.count < 1:
                raise ValueError(f"LABELS: {label.name} has no band")
            aligned = _same_grid(img, lab)
            if not aligned and (img.crs is None or lab.crs is None):
                raise ValueError(
                    f"LABELS: {label.name} ({lab.width}x{lab.height}) is not on the grid of {image.name} "
                    f"({img.width}x{img.height}) and one of them has no CRS, so it cannot be resampled; "
                    "georeference both rasters or give a label of the image's size"
                )
            pairs.append(LabeledPair(image, label, img.width, img.height, img.nodata, aligned))
    return pairs


def _same_grid(img, lab) -> bool:
    if (img.width, img.height) != (lab.width, lab.height):
        return False
    if img.crs is None or lab.crs is None:
        return True  # same size, no georeferencing on one side: pixel-aligned masks (PNG, plain TIFF)
    return img.crs == lab.crs and img.transform.almost_equals(lab.transform)


@contextmanager
def open_label(pair: LabeledPair, ignore_index: int = 255) -> Iterator:
    """A dataset reading the label on the image grid (direct or through a warped VRT)."""
    with rasterio.open(pair.label) as lab:
        if pair.aligned:
            yield lab
            return
        with rasterio.open(pair.image) as img:
            crs, transform = img.crs, img.transform
        with WarpedVRT(
            lab, crs=crs, transform=transform, width=pair.width, height=pair.height,
            resampling=Resampling.nearest, src_nodata=lab.nodata, nodata=ignore_index,
        ) as vrt:
            yield vrt


def read_label(source, window: Window, ignore_index: int = 255) -> np.ndarray:
    """(H, W) int64 labels of a window; the label raster's nodata becomes ``ignore_index``."""
    values = source.read(1, window=window, boundless=False)
    out = values.astype(np.int64)
    if source.nodata is not None and source.nodata != ignore_index:
        out[values == source.nodata] = ignore_index
    out[(out < 0) | (out > 255)] = ignore_index  # not a class id: negative or beyond 8 bits
    return out


def label_histogram(pair: LabeledPair, ignore_index: int = 255, block: int = 1024) -> np.ndarray:
    """(256,) pixel count per label value over the whole raster (ignore value included)."""
    counts = np.zeros(256, dtype=np.int64)
    with open_label(pair, ignore_index) as src:
        for row in range(0, pair.height, block):
            for col in range(0, pair.width, block):
                window = Window(col, row, min(block, pair.width - col), min(block, pair.height - row))
                counts += np.bincount(read_label(src, window, ignore_index).ravel(), minlength=256)[:256]
    return counts


def check_labels(pairs: Sequence[LabeledPair], ignore_index: int = 255) -> np.ndarray:
    """Summed histogram of all pairs; a label raster with no usable pixel is an error.

    A label raster whose pixels are all ``ignore_index`` (or nodata), or which does not
    overlap its image at all (every pixel outside it), cannot teach anything: name it.
    """
    total = np.zeros(256, dtype=np.int64)
    for pair in pairs:
        counts = label_histogram(pair, ignore_index)
        labelled = counts.sum() - counts[ignore_index]
        if labelled == 0:
            reason = (
                "does not overlap its image" if not pair.aligned and _no_overlap(pair)
                else f"holds only the ignore value {ignore_index} (or nodata)"
            )
            raise ValueError(
                f"LABELS: {pair.label.name} {reason} ({pair.image.name}); give a label raster with class ids "
                f"0..{ignore_index - 1} over the image"
            )
        total += counts
    return total


def _no_overlap(pair: LabeledPair) -> bool:
    from rasterio.warp import transform_bounds

    with rasterio.open(pair.image) as img, rasterio.open(pair.label) as lab:
        left, bottom, right, top = transform_bounds(lab.crs, img.crs, *lab.bounds)
        i = img.bounds
    return right <= i.left or left >= i.right or top <= i.bottom or bottom >= i.top


def class_ids_present(histogram: np.ndarray, ignore_index: int = 255) -> list[int]:
    """Label values with at least one pixel, the ignore value excluded."""
    return [int(k) for k in np.flatnonzero(histogram) if k != ignore_index]


def class_names_for(num_classes: int, names: Sequence[str] | None) -> list[str]:
    """Names for ids 0..num_classes-1: those given, then "class k"."""
    names = [str(n) for n in (names or [])][:num_classes]
    return names + [f"class {k}" for k in range(len(names), num_classes)]


@dataclass(frozen=True)
class PatchWindow:
    """A square window of one pair: ``pair`` index, pixel ``col``/``row`` of its corner, ``size``."""

    pair: int
    col: int
    row: int
    size: int

    @property
    def window(self) -> Window:
        """The rasterio window of this patch, for reading image and labels alike."""
        return Window(self.col, self.row, self.size, self.size)


class LabeledPatchDataset(Dataset):
    """(image (C, P, P) float32 normalised, label (P, P) int64) for a list of windows.

    Image nodata pixels get value 0 (the band mean after normalisation) and the ignore
    label, so they never count. Files are opened lazily, once per DataLoader worker.
    """

    def __init__(
        self,
        pairs: Sequence[LabeledPair],
        windows: Sequence[PatchWindow],
        bands: Sequence[int],
        normalization: Normalization,
        ignore_index: int = 255,
    ) -> None:
        self.pairs = list(pairs)
        self.windows = list(windows)
        self.bands = list(bands)
        self.normalization = normalization
        self.ignore_index = ignore_index
        self._images: dict[int, rasterio.io.DatasetReader] = {}
        self._labels: dict[int, object] = {}
        self._contexts: list = []

    def __len__(self) -> int:
        return len(self.windows)

    def _image(self, index: int):
        if index not in self._images:
            self._images[index] = rasterio.open(self.pairs[index].image)
        return self._images[index]

    def _label(self, index: int):
        if index not in self._labels:
            context = open_label(self.pairs[index], self.ignore_index)
            self._labels[index] = context.__enter__()
            self._contexts.append(context)
        return self._labels[index]

    def read(self, window: PatchWindow) -> tuple[np.ndarray, np.ndarray]:
        """Normalised image and label ids of one window; image nodata becomes 0 and ignore in the labels."""
        pair = self.pairs[window.pair]
        pixels = self._image(window.pair).read(self.bands, window=window.window)
        label = read_label(self._label(window.pair), window.window, self.ignore_index)
        keep = valid_mask(pixels, pair.image_nodata)
        image = self.normalization.apply(pixels)
        image[:, ~keep] = 0.0
        label[~keep] = self.ignore_index
        return image, label

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image, label = self.read(self.windows[index])
        return torch.from_numpy(image), torch.from_numpy(label)

    def close(self) -> None:
        """Close the rasters opened lazily on first read (each data-loader worker has its own)."""
        for context in self._contexts:
            context.__exit__(None, None, None)
        for handle in self._images.values():
            handle.close()
        self._images, self._labels, self._contexts = {}, {}, []

    def __getstate__(self):  # rasterio handles do not pickle: workers reopen
        state = self.__dict__.copy()
        state["_images"], state["_labels"], state["_contexts"] = {}, {}, []
        return state
