"""Headless runs through scripts/qgis_process, exactly as a user or a server would do them."""
from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest
from helpers import REPO, make_onnx_model, write_geotiff

QGIS_PROCESS = REPO / "scripts" / "qgis_process"
SEGMENT_MODULE = REPO / "plugin" / "algorithms" / "segment.py"


def qgis_process(*args: str, timeout: int = 180) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "QGIS_CUSTOM_CONFIG_PATH"}  # the wrapper's own profile
    return subprocess.run([str(QGIS_PROCESS), *args], capture_output=True, text=True, timeout=timeout, env=env)


def two_colour_scene(path, size: int = 64):
    """Left half reddish, right half bluish (3 bands, uint8), with a little texture."""
    rng = np.random.default_rng(0)
    data = rng.integers(0, 40, size=(3, size, size)).astype(np.uint8)
    data[0, :, : size // 2] += 180  # red on the left
    data[2, :, size // 2:] += 180  # blue on the right
    return write_geotiff(path, data, crs="EPSG:32640")


def red_blue_model(path):
    """Class 0 'red' when red > blue, class 1 'blue' otherwise."""
    from engine.model_card import ModelCard

    weights = [[8.0, 0.0, -8.0], [-8.0, 0.0, 8.0]]
    return make_onnx_model(path, weights, card=ModelCard(class_names=["red", "blue"], tile_size=32))


def expected_classes(size: int = 64) -> np.ndarray:
    expected = np.ones((size, size), np.uint8)
    expected[:, : size // 2] = 0
    return expected


def test_list_shows_the_rsseg_provider():
    result = qgis_process("list")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "\nrsseg\n" in result.stdout, result.stdout[-2000:]


def test_help_of_one_algorithm_per_group(rsseg_provider):
    """qgis_process builds the forms (one call per algorithm costs ~2 s, so one per group)."""
    per_group = {alg.groupId(): alg for alg in reversed(rsseg_provider.algorithms())}
    if not per_group:
        pytest.skip("no rsseg algorithm loaded")
    for alg in per_group.values():
        result = qgis_process("help", alg.id())
        assert result.returncode == 0, result.stderr[-2000:]
        for parameter in alg.parameterDefinitions():
            assert parameter.name() in result.stdout, f"{alg.id()}: {parameter.name()} missing from help"


@pytest.mark.skipif(not SEGMENT_MODULE.exists(), reason="plugin/algorithms/segment.py (rsseg:segment) is missing")
def test_segment_end_to_end(tmp_path):
    import rasterio

    scene = two_colour_scene(tmp_path / "scene.tif")
    model = red_blue_model(tmp_path / "model.onnx")
    output = tmp_path / "classes.tif"
    result = qgis_process("run", "rsseg:segment", "--", f"INPUT={scene}", f"MODEL={model}", f"OUTPUT={output}",
                          "TILE_SIZE=32")
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    assert output.exists(), result.stdout[-3000:]
    with rasterio.open(output) as classes, rasterio.open(scene) as source:
        assert classes.crs == source.crs
        assert classes.transform == source.transform
        assert (classes.width, classes.height) == (source.width, source.height)
        np.testing.assert_array_equal(classes.read(1), expected_classes())
    assert not list(tmp_path.glob("*.tmp*")), "a temporary output was left behind"


@pytest.mark.skipif(not SEGMENT_MODULE.exists(), reason="plugin/algorithms/segment.py (rsseg:segment) is missing")
def test_segment_reports_a_bad_model_path_clearly(tmp_path):
    scene = two_colour_scene(tmp_path / "scene.tif", size=16)
    result = qgis_process("run", "rsseg:segment", "--", f"INPUT={scene}", f"MODEL={tmp_path / 'missing.onnx'}",
                          f"OUTPUT={tmp_path / 'out.tif'}")
    assert result.returncode != 0
    assert "MODEL" in result.stdout + result.stderr
    assert not (tmp_path / "out.tif").exists()
