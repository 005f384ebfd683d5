"""The nodata rule training and inference share, and the one place they differ on purpose.

Inference classifies a pixel unless every band is at its nodata value; training drops a
pixel as soon as one band is (engine/nodata.py says why). Checked on the functions and on
the two real readers, so neither can drift back to a rule of its own.
"""
from __future__ import annotations

import numpy as np
import pytest
import rasterio
from helpers import write_geotiff

from engine.nodata import nodata_pixels
from engine.raster_io import RasterReader

# 3 bands, 1 x 4 pixels: all bands nodata | one band nodata | valid | NaN in one band
PIXELS = np.array([[[0, 0, 5, 7]], [[0, 9, 5, 7]], [[0, 9, 5, np.nan]]], dtype=np.float32)


def test_every_band_rule_for_inference_any_band_rule_for_training():
    assert nodata_pixels(PIXELS, 0, every_band=True).tolist() == [[True, False, False, True]]
    assert nodata_pixels(PIXELS, 0, every_band=False).tolist() == [[True, True, False, True]]


def test_per_band_values_and_bands_without_nodata():
    assert nodata_pixels(PIXELS, [0, 0, None], every_band=True).tolist() == [[False, False, False, True]]
    assert nodata_pixels(PIXELS, [None, 9, None], every_band=False).tolist() == [[False, True, False, True]]
    assert nodata_pixels(PIXELS, None, every_band=False).tolist() == [[False, False, False, True]]  # NaN only
    assert nodata_pixels(np.nan_to_num(PIXELS).astype(np.int16), None, every_band=True).tolist() == [[False] * 4]
    with pytest.raises(ValueError, match="2 nodata values for 3 bands"):
        nodata_pixels(PIXELS, [0, 0], every_band=True)


def test_the_readers_apply_their_rule(tmp_path):
    pytest.importorskip("torch")
    from training.data.rasters import valid_mask

    image = np.array([[[0, 0, 5, 7]], [[0, 9, 5, 7]], [[0, 9, 5, 8]]], dtype=np.uint8)
    path = write_geotiff(tmp_path / "image.tif", image, nodata=0)
    with rasterio.open(path) as src:
        _data, inference_valid = RasterReader(src, [1, 2, 3], [0.0] * 3, [1.0] * 3).read(0, 0, 1, 4)
        training_valid = valid_mask(src.read(), src.nodata)
    assert inference_valid.tolist() == [[False, True, True, True]]
    assert training_valid.tolist() == [[False, False, True, True]]
