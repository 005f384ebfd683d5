"""Shared test set-up: import paths, the `slow` marker, a headless QGIS, small data makers.

* ``engine``, ``training`` and ``plugin`` import from the repo root, as in the plugin.
* ``qgis_app`` (session): one QgsApplication without GUI, Processing initialised and the
  rsseg provider registered through the real entry point (``classFactory(None)`` then
  ``initProcessing()``), as qgis_process does.
* ``write_geotiff`` / ``make_onnx_model``: a GeoTIFF or a tiny ONNX model with a model card,
  made in the test's tmp_path. Other helpers live in ``tests/helpers_*.py``.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
QGIS_PLUGINS = "/usr/share/qgis/python/plugins"  # where Debian puts the `processing` plugin

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
if os.path.isdir(QGIS_PLUGINS) and QGIS_PLUGINS not in sys.path:
    sys.path.append(QGIS_PLUGINS)
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than ~20 s; excluded from `make test` (run `make test-slow`)")


def load_rsseg_package():
    """The repo's root ``__init__.py`` imported as package ``rsseg``, as QGIS imports it."""
    if "rsseg" in sys.modules:
        return sys.modules["rsseg"]
    spec = importlib.util.spec_from_file_location("rsseg", REPO / "__init__.py", submodule_search_locations=[str(REPO)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["rsseg"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def qgis_app(tmp_path_factory):
    """A headless QgsApplication with Processing and the rsseg provider loaded.

    Its settings live in a throw-away profile, so tests that change settings (the locale)
    never touch the user's QGIS profile.
    """
    from qgis.core import QgsApplication

    app = QgsApplication.instance()
    if app is None:
        os.environ["QGIS_CUSTOM_CONFIG_PATH"] = str(tmp_path_factory.mktemp("qgis_config"))
        app = QgsApplication([], False)
        app.initQgis()
    from processing.core.Processing import Processing

    Processing.initialize()
    plugin = load_rsseg_package().classFactory(None)
    plugin.initProcessing()
    app.rsseg_plugin = plugin  # keep a reference: the provider lives as long as the plugin
    yield app
    plugin.unload()


@pytest.fixture
def rsseg_provider(qgis_app):
    """The registered provider, looked up per test (a test may unload and reload the plugin)."""
    from qgis.core import QgsApplication

    provider = QgsApplication.processingRegistry().providerById("rsseg")
    assert provider is not None, "the rsseg provider was not registered"
    return provider


def write_geotiff(path, array, crs="EPSG:32640", transform=None, nodata=None, pixel_size=1.0) -> Path:
    """Write a (bands, H, W) or (H, W) array as a GeoTIFF; default grid: 1 m pixels near Dubai."""
    import rasterio
    from rasterio.transform import from_origin

    data = np.asarray(array)
    if data.ndim == 2:
        data = data[None]
    if transform is None:
        transform = from_origin(500000.0, 2800000.0, pixel_size, pixel_size)
    profile = dict(driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
                   dtype=data.dtype, crs=crs, transform=transform)
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return Path(path)


def make_onnx_model(path, weights, bias=None, card=None, opset: int = 17) -> Path:
    """A per-pixel linear classifier: 1x1 convolution then softmax over classes.

    ``weights`` is (classes, bands): pixel class = argmax(weights @ normalised bands + bias).
    The model card (``engine.model_card.ModelCard``) goes into ``metadata_props``.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from engine.model_card import ModelCard

    w = np.asarray(weights, dtype=np.float32)
    classes, bands = w.shape
    b = np.zeros(classes, np.float32) if bias is None else np.asarray(bias, dtype=np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["input", "W", "B"], ["logits"], kernel_shape=[1, 1]),
            helper.make_node("Softmax", ["logits"], ["output"], axis=1),
        ],
        "rsseg_test_linear",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", bands, "H", "W"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", classes, "H", "W"])],
        initializer=[numpy_helper.from_array(w.reshape(classes, bands, 1, 1), "W"), numpy_helper.from_array(b, "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="rsseg-tests")
    model.ir_version = 8  # readable by every onnxruntime >= 1.14
    card = card if card is not None else ModelCard(class_names=[f"class {k}" for k in range(classes)])
    helper.set_model_props(model, card.to_metadata())
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return Path(path)


@pytest.fixture
def geotiff_writer():
    return write_geotiff


@pytest.fixture
def onnx_model_maker():
    return make_onnx_model
