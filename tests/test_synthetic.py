"""The synthetic scene: deterministic, georeferenced, every class present, plausible spectra."""
from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio

from training.data import synthetic
from training.data.synthetic import CLASS_NAMES, IGNORE, make_scene, make_texture_scene


def test_scene_is_deterministic_and_has_every_class(tmp_path):
    a = make_scene(tmp_path / "a.tif", tmp_path / "a_labels.tif", size=(256, 256), seed=3)
    make_scene(tmp_path / "b.tif", tmp_path / "b_labels.tif", size=(256, 256), seed=3)
    make_scene(tmp_path / "c.tif", tmp_path / "c_labels.tif", size=(256, 256), seed=4)
    read = lambda p: rasterio.open(p).read()
    np.testing.assert_array_equal(read(tmp_path / "a.tif"), read(tmp_path / "b.tif"))
    np.testing.assert_array_equal(read(tmp_path / "a_labels.tif"), read(tmp_path / "b_labels.tif"))
    assert not np.array_equal(read(tmp_path / "a.tif"), read(tmp_path / "c.tif"))
    assert all(f > 0 for f in a.class_fractions), a.class_fractions
    assert sum(a.class_fractions) == pytest.approx(1.0)


def test_rasters_are_georeferenced_tiled_and_labelled(tmp_path):
    make_scene(tmp_path / "s.tif", tmp_path / "l.tif", size=(300, 280), bands=5, seed=0)
    with rasterio.open(tmp_path / "s.tif") as src:
        assert (src.count, src.height, src.width) == (5, 300, 280)
        assert src.crs.to_epsg() == 32632 and src.res == (1.0, 1.0)
        assert src.profile["tiled"] and src.dtypes[0] == "uint8"
        image = src.read().astype(float)
    with rasterio.open(tmp_path / "l.tif") as src:
        labels = src.read(1)
        assert src.nodata == IGNORE
        assert src.colormap(1)[1][:3] == synthetic.CLASS_COLORS[1]
        assert json.loads(src.tags(1)["class_names"]) == list(CLASS_NAMES)
    from engine.evaluate import category_names

    assert category_names(tmp_path / "l.tif") == list(CLASS_NAMES)
    assert set(np.unique(labels)) <= set(range(len(CLASS_NAMES))) | {IGNORE}
    assert 0.0 < (labels == IGNORE).mean() < 0.3   # class boundaries only
    # NIR (band 4) / red (band 3): high for vegetation, low for water
    ndvi = (image[3] - image[2]) / (image[3] + image[2] + 1e-6)
    mean = lambda c: ndvi[labels == c].mean()
    assert mean(synthetic.TREES) > 0.4 and mean(synthetic.CROP) > 0.3
    assert mean(synthetic.WATER) < -0.3
    assert mean(synthetic.TREES) > mean(synthetic.SOIL) > mean(synthetic.WATER)


def test_texture_scene(tmp_path):
    scene = make_texture_scene(tmp_path / "t.tif", tmp_path / "t_l.tif", size=(96, 128), bands=3, num_textures=3,
                               seed=1)
    with rasterio.open(tmp_path / "t_l.tif") as src:
        labels = src.read(1)
    assert set(np.unique(labels)) == {0, 1, 2}
    assert min(scene.class_fractions) > 0.1
    with pytest.raises(ValueError):
        make_texture_scene(tmp_path / "x.tif", num_textures=9)
