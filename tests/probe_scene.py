"""A generated scene whose classes differ in texture only, for the linear-probe tests.

Regions (Voronoi cells of jittered grid centres) each hold one of three textures: fine
grain (white noise), oriented stripes (period 8 px, a random orientation per region) and
blobs (smooth noise about 3 px wide). Each region's texture is standardised to zero mean
and unit variance, then given a random brightness and contrast drawn from the SAME
distribution for every class, the same in every band. So a pixel's value, and the mean and
variance of any region, say nothing about its class: only the spatial pattern does.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from helpers import write_geotiff

TEXTURES = ("grain", "stripes", "blobs")


def _blobs(shape: tuple[int, int], scale: float, rng: np.random.Generator) -> np.ndarray:
    h, w = shape
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    sigma = 1.0 / scale
    spectrum = np.fft.rfft2(rng.standard_normal(shape)) * np.exp(-(fx**2 + fy**2) / (2 * sigma**2))
    return np.fft.irfft2(spectrum, s=shape)


def texture_arrays(size: int = 256, cells: int = 4, seed: int = 0, bands: int = 3,
                   nuisance: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(bands, size, size) uint8 image and (size, size) uint8 labels 0..2; without
    ``nuisance`` every region has the same brightness (125) and contrast (24)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    step = size / cells
    centres = [((i + rng.uniform(0.25, 0.75)) * step, (j + rng.uniform(0.25, 0.75)) * step)
               for i in range(cells) for j in range(cells)]
    region = np.argmin(np.stack([np.hypot(yy - r, xx - c) for r, c in centres]), axis=0)
    classes = rng.permutation(np.resize(np.arange(len(TEXTURES)), len(centres)))
    labels = classes[region].astype(np.uint8)
    grey = np.zeros((size, size))
    for k, cls in enumerate(classes):
        inside = region == k
        if cls == 0:
            pattern = rng.standard_normal((size, size))
        elif cls == 1:
            angle = rng.uniform(0, np.pi)
            pattern = np.sin(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / 8.0 + rng.uniform(0, 6.3))
            pattern = pattern + 0.3 * rng.standard_normal((size, size))
        else:
            pattern = _blobs((size, size), 3.0, rng)
        values = pattern[inside]
        values = (values - values.mean()) / (values.std() + 1e-9)
        brightness, contrast = (rng.uniform(90, 160), rng.uniform(18, 30)) if nuisance else (125.0, 24.0)
        grey[inside] = brightness + contrast * values
    image = np.stack([grey * rng.uniform(0.9, 1.1) for _ in range(bands)])
    return np.clip(image, 0, 255).round().astype(np.uint8), labels


def write_texture_scene(folder: Path, name: str, size: int = 256, cells: int = 4, seed: int = 0,
                        nuisance: bool = True) -> tuple[Path, Path]:
    """``<name>.tif`` and ``<name>_labels.tif`` in ``folder``."""
    image, labels = texture_arrays(size, cells, seed, nuisance=nuisance)
    folder.mkdir(parents=True, exist_ok=True)
    return write_geotiff(folder / f"{name}.tif", image), write_geotiff(folder / f"{name}_labels.tif", labels)
