"""Raster inputs for training: file lists, band selection, normalisation, random patches.

Every method reads imagery the same way: a list of raster files (or folders of them), a
selection of 1-based bands, per-band normalisation computed once on a sample of valid
pixels, and random square windows. Windows are read straight from disk with rasterio so
memory does not grow with the size or number of rasters.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import rasterio
import torch
from rasterio.windows import Window
from torch.utils.data import Dataset

from engine.nodata import nodata_pixels
from engine.safeguards import check_rasters

RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".img", ".jp2", ".png", ".jpg")


def expand_inputs(inputs: Iterable[str | os.PathLike]) -> list[Path]:
    """Files as given, folders replaced by the rasters they hold (sorted, not recursive).

    Files whose names end in ``_label.tif`` / ``_mask.tif`` inside a folder are skipped:
    a folder of image/label pairs can be given as-is for pretraining.
    """
    paths: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(
                p for p in path.iterdir()
                if p.suffix.lower() in RASTER_SUFFIXES and not p.stem.lower().endswith(("_label", "_mask", "_labels"))
            )
            if not found:
                raise ValueError(f"INPUT: folder {path} holds no raster files ({', '.join(RASTER_SUFFIXES)})")
            paths.extend(found)
        elif path.is_file():
            paths.append(path)
        else:
            raise ValueError(f"INPUT: {path} is neither a raster file nor a folder")
    if not paths:
        raise ValueError("INPUT: no raster given; choose at least one raster layer or a folder")
    check_rasters(paths, "INPUT")  # a 0-byte or damaged file is named now, not as a traceback mid-epoch
    return paths


def bands_to_read(path: str | os.PathLike, bands: Sequence[int] | None) -> list[int]:
    """The 1-based bands to read: all bands when ``bands`` is empty, validated otherwise.

    Named apart from ``engine.segment.resolve_bands``, which chooses the bands a MODEL reads
    (card, Deepness rule); this one checks the bands a user asked of a raster for training.
    """
    with rasterio.open(path) as src:
        count = src.count
    if not bands:
        return list(range(1, count + 1))
    bad = [b for b in bands if b < 1 or b > count]
    if bad:
        raise ValueError(f"BANDS: raster {Path(path).name} has {count} bands, cannot read band(s) {bad}")
    return [int(b) for b in bands]


@dataclass(frozen=True)
class Normalization:
    """Per-band affine map: the network sees ``(value - offset) / scale``."""

    offset: tuple[float, ...]
    scale: tuple[float, ...]

    def apply(self, pixels: np.ndarray) -> np.ndarray:
        """Normalise a (bands, H, W) array to float32."""
        off = np.asarray(self.offset, dtype=np.float32)[:, None, None]
        sc = np.asarray(self.scale, dtype=np.float32)[:, None, None]
        return (pixels.astype(np.float32) - off) / sc


def valid_mask(pixels: np.ndarray, nodata: float | Sequence[float | None] | None) -> np.ndarray:
    """(H, W) bool: pixels training may use. The engine's rule (:mod:`engine.nodata`) with
    ``every_band=False``: one band at its nodata value already drops the pixel, where
    inference would still classify it; the module says why they differ."""
    return ~nodata_pixels(pixels, nodata, every_band=False)


def compute_normalization(
    paths: Sequence[Path], bands: Sequence[int], samples_per_raster: int = 16, window: int = 256, seed: int = 0
) -> Normalization:
    """Mean and standard deviation of valid pixels on a sample of windows of every raster.

    Reading a few windows per raster keeps this fast on large mosaics while seeing every
    file; nodata pixels never count. A raster set with no valid pixel is an error.
    """
    rng = np.random.default_rng(seed)
    total = np.zeros(len(bands))
    total_sq = np.zeros(len(bands))
    count = 0
    for path in paths:
        with rasterio.open(path) as src:
            size = min(window, src.width), min(window, src.height)
            for _ in range(samples_per_raster):
                col = int(rng.integers(0, src.width - size[0] + 1))
                row = int(rng.integers(0, src.height - size[1] + 1))
                pixels = src.read(list(bands), window=Window(col, row, size[0], size[1])).astype(np.float64)
                keep = valid_mask(pixels, src.nodata)
                values = pixels[:, keep]
                total += values.sum(axis=1)
                total_sq += (values**2).sum(axis=1)
                count += values.shape[1]
    if count == 0:
        raise ValueError("INPUT: the rasters hold only nodata pixels; choose imagery with valid data")
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
    std = np.where(std < 1e-6, 1.0, std)  # constant band: do not divide by zero
    return Normalization(tuple(float(m) for m in mean), tuple(float(s) for s in std))


@dataclass(frozen=True)
class RasterInfo:
    """What sampling needs of one raster without keeping it open in every worker."""

    path: Path
    width: int
    height: int
    nodata: float | None


class UnlabeledPatchDataset(Dataset):
    """Random normalised patches (bands, P, P) from a set of rasters, labels unused.

    Each index draws a window from one raster, chosen with probability proportional to its
    area; the draw depends only on (seed, epoch, index), so runs are reproducible and each
    epoch sees new windows (call :meth:`set_epoch`). Windows with more than
    ``max_nodata_fraction`` nodata are redrawn; remaining nodata pixels become 0 after
    normalisation (the band mean).
    """

    def __init__(
        self,
        paths: Sequence[Path],
        bands: Sequence[int],
        patch_size: int,
        patches_per_epoch: int,
        normalization: Normalization,
        seed: int = 0,
        max_nodata_fraction: float = 0.5,
    ) -> None:
        if patch_size < 8:
            raise ValueError(f"PATCH_SIZE must be at least 8 pixels, got {patch_size}")
        self.infos: list[RasterInfo] = []
        for path in paths:
            with rasterio.open(path) as src:
                self.infos.append(RasterInfo(Path(path), src.width, src.height, src.nodata))
        usable = [i for i in self.infos if i.width >= patch_size and i.height >= patch_size]
        if not usable:
            largest = max(self.infos, key=lambda i: i.width * i.height)
            raise ValueError(
                f"PATCH_SIZE {patch_size} is larger than every raster (largest: {largest.path.name}, "
                f"{largest.width}x{largest.height}); use a PATCH_SIZE of at most "
                f"{min(largest.width, largest.height)}"
            )
        self.infos = usable
        areas = np.array([i.width * i.height for i in usable], dtype=np.float64)
        self.weights = areas / areas.sum()
        self.bands = list(bands)
        self.patch_size = patch_size
        self.patches_per_epoch = patches_per_epoch
        self.normalization = normalization
        self.seed = seed
        self.epoch = 0
        self.max_nodata_fraction = max_nodata_fraction
        self._handles: dict[Path, rasterio.io.DatasetReader] = {}

    def set_epoch(self, epoch: int) -> None:
        """Epoch number for the sampler: each epoch draws other windows, reproducibly."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.patches_per_epoch

    def _open(self, path: Path):
        handle = self._handles.get(path)
        if handle is None:  # opened lazily so each DataLoader worker has its own handles
            handle = self._handles[path] = rasterio.open(path)
        return handle

    def read_patch(self, rng: np.random.Generator) -> np.ndarray:
        """One normalised (bands, P, P) float32 window."""
        p = self.patch_size
        for _attempt in range(20):
            info = self.infos[int(rng.choice(len(self.infos), p=self.weights))]
            col = int(rng.integers(0, info.width - p + 1))
            row = int(rng.integers(0, info.height - p + 1))
            pixels = self._open(info.path).read(self.bands, window=Window(col, row, p, p))
            keep = valid_mask(pixels, info.nodata)
            if 1.0 - keep.mean() <= self.max_nodata_fraction:
                break
        else:
            raise ValueError(
                "INPUT: 20 random windows in a row were mostly nodata; the rasters hold too little valid "
                "imagery for this PATCH_SIZE"
            )
        out = self.normalization.apply(pixels)
        out[:, ~keep] = 0.0
        return out

    def __getitem__(self, index: int) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        return torch.from_numpy(self.read_patch(rng))

    def __getstate__(self):  # rasterio handles do not pickle: workers reopen
        state = self.__dict__.copy()
        state["_handles"] = {}
        return state


def patches_per_epoch_for(paths: Sequence[Path], patch_size: int, minimum: int = 64) -> int:
    """A default epoch length: about one pass over the imagery's area in patches."""
    area = 0
    for path in paths:
        with rasterio.open(path) as src:
            area += src.width * src.height
    return max(minimum, math.ceil(area / (patch_size * patch_size)))
