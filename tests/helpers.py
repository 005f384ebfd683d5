"""Helpers the tests import: paths, a GeoTIFF writer, polygon layers, a tiny ONNX model, the plugin loader.

``tests/`` is on sys.path while pytest runs (conftest.py sits there without an
``__init__.py``), so tests write ``from helpers import write_geotiff``.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
QGIS_PLUGINS = "/usr/share/qgis/python/plugins"  # where Debian puts the `processing` plugin


def load_rsseg_package():
    """The repo's root ``__init__.py`` imported as package ``rsseg``, as QGIS imports it."""
    if "rsseg" in sys.modules:
        return sys.modules["rsseg"]
    spec = importlib.util.spec_from_file_location("rsseg", REPO / "__init__.py", submodule_search_locations=[str(REPO)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["rsseg"] = module
    spec.loader.exec_module(module)
    return module


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


def polygon_layer(field: str, rectangles: dict, name: str = "labels", crs: str = "EPSG:32640"):
    """A QGIS memory layer of rectangles, one feature per ``{value: (xmin, ymin, xmax, ymax)}``.

    ``field`` holds the value (a text field for str values, an integer one otherwise): the
    polygon labels and references that fine-tuning and evaluation rasterize, built in one place.
    """
    from qgis.core import QgsFeature, QgsField, QgsGeometry, QgsRectangle, QgsVectorLayer
    from qgis.PyQt.QtCore import QVariant

    layer = QgsVectorLayer(f"Polygon?crs={crs}", name, "memory")
    text = all(isinstance(value, str) for value in rectangles)
    layer.dataProvider().addAttributes([QgsField(field, QVariant.String if text else QVariant.Int)])
    layer.updateFields()
    features = []
    for value, rect in rectangles.items():
        feature = QgsFeature(layer.fields())
        feature.setGeometry(QgsGeometry.fromRect(QgsRectangle(*rect)))
        feature[field] = value
        features.append(feature)
    layer.dataProvider().addFeatures(features)
    return layer


def dark_bright_polygons():
    """Polygon labels of ``finetune_scene.write_scene(tmp, 64)``: field ``kind``, 'dark' left half, 'bright' right."""
    return polygon_layer("kind", {"dark": (500000, 2799936, 500032, 2800000),
                                  "bright": (500032, 2799936, 500064, 2800000)})


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


def calibrate_batchnorm(net, x):
    """Set every BN's running statistics to those of ``x`` (as after real training), so
    eval-mode outputs are of order 1 and comparisons mean something (the classifier, which
    starts with tiny weights as in the official HRNet, gets trained-looking ones too)."""
    import torch

    for name, m in net.named_modules():
        if name.endswith("head.1"):
            torch.nn.init.normal_(m.weight, std=0.2)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # cumulative average: one batch -> its exact statistics
    net.train()
    with torch.no_grad():
        net(x)
    return net.eval()


def cancel_after(polls: int):
    """An ``is_cancelled`` callback that answers False ``polls`` times, then True: a run that
    polls once per optimiser step is cancelled after that many steps."""
    calls = {"n": 0}

    def is_cancelled() -> bool:
        calls["n"] += 1
        return calls["n"] > polls

    return is_cancelled
