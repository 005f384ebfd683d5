"""When is a pixel nodata? One rule for training and inference, with one documented switch.

A band "matches" at a pixel when its value equals that band's nodata value (NaN matches a
NaN nodata value); a band without a nodata value never matches. A non-finite value (NaN,
inf) in any band always makes the pixel nodata: no network can use it.

* Inference (``every_band=True``) skips a pixel only when EVERY band matches: a dark pixel
  whose blue band happens to equal the nodata value is still imagery and gets a class, so
  the map has no holes where the data has none (GDAL's warper reads multi-band nodata the
  same way).
* Training (``every_band=False``) drops a pixel when ANY band matches: a fill value in one
  band would teach the network a colour that does not exist, and the normalisation
  statistics would count it; losing a few real pixels costs nothing there.

tests/test_nodata.py holds both cases, so the difference cannot drift unnoticed.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def per_band(nodata: float | Sequence[float | None] | None, bands: int) -> list[float | None]:
    """One nodata value per band: a single value is every band's, None is no band's."""
    if nodata is None or np.isscalar(nodata):
        return [nodata] * bands
    values = list(nodata)
    if len(values) != bands:
        raise ValueError(f"{len(values)} nodata values for {bands} bands")
    return values


def nodata_pixels(pixels: np.ndarray, nodata: float | Sequence[float | None] | None, every_band: bool) -> np.ndarray:
    """(H, W) bool, True where the (bands, H, W) ``pixels`` are nodata under the rule above."""
    values = per_band(nodata, pixels.shape[0])
    if all(v is None for v in values):
        out = np.zeros(pixels.shape[1:], dtype=bool)
    else:
        hits = [_matches(band, value) for band, value in zip(pixels, values)]
        out = np.logical_and.reduce(hits) if every_band else np.logical_or.reduce(hits)
    if np.issubdtype(pixels.dtype, np.floating):
        out |= ~np.isfinite(pixels).all(axis=0)
    return out


def _matches(band: np.ndarray, value: float | None) -> np.ndarray:
    if value is None:
        return np.zeros(band.shape, dtype=bool)
    if np.isnan(value):
        return np.isnan(band)
    return band == value
