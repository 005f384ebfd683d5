"""Tiny ONNX segmentation models built with ``onnx.helper`` (no torch, built in milliseconds).

``conv_model`` makes a stack of convolutions (kernel 1 or 3, 'same' padding, ReLU between)
ending in softmax, sigmoid or raw logits, optionally with a fixed input shape, a fixed
batch, an output cropped smaller than the input (as valid convolutions do), and a model
card in the metadata. Translation-equivariant, so tiled and whole-image runs agree.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from engine.model_card import ModelCard


def conv_model(
    path,
    in_channels: int = 3,
    n_classes: int = 3,
    *,
    kernel: int = 1,
    layers: int = 1,
    hidden: int = 8,
    final: str = "softmax",
    input_size: int | tuple[int, int] | None = None,
    fixed_batch: int | None = None,
    crop: int = 0,
    card: ModelCard | None = None,
    metadata: dict[str, str] | None = None,
    weights: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    seed: int = 0,
) -> Path:
    """Write the model to ``path`` and return it.

    ``final``: "softmax", "sigmoid" or "none" (logits). ``crop`` pixels are cut from every
    side of the output (512 in -> 512 - 2*crop out). ``weights`` (n_classes, in_channels)
    fix a single 1x1 layer exactly. ``metadata`` replaces the card entirely (Deepness-style
    files carry only Deepness keys).
    """
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    current, channels = "input", in_channels
    for layer in range(layers):
        last = layer == layers - 1
        out_ch = n_classes if last else hidden
        if weights is not None and layers == 1:
            w = np.asarray(weights, np.float32).reshape(out_ch, channels, 1, 1)
            k = 1
        else:
            k = kernel
            w = (rng.standard_normal((out_ch, channels, k, k)) / np.sqrt(channels * k * k)).astype(np.float32)
        b = np.zeros(out_ch, np.float32) if bias is None or not last else np.asarray(bias, np.float32)
        inits += [numpy_helper.from_array(w, f"w{layer}"), numpy_helper.from_array(b, f"b{layer}")]
        name = "scores" if last else f"h{layer}"
        nodes.append(helper.make_node("Conv", [current, f"w{layer}", f"b{layer}"], [name + "_c" if not last else name],
                                      kernel_shape=[k, k], pads=[k // 2] * 4))
        if not last:
            nodes.append(helper.make_node("Relu", [name + "_c"], [name]))
        current, channels = name, out_ch
    if crop:
        inits += [numpy_helper.from_array(np.array([crop, crop], np.int64), "crop_starts"),
                  numpy_helper.from_array(np.array([-crop, -crop], np.int64), "crop_ends"),
                  numpy_helper.from_array(np.array([2, 3], np.int64), "crop_axes")]
        nodes.append(helper.make_node("Slice", [current, "crop_starts", "crop_ends", "crop_axes"], ["cropped"]))
        current = "cropped"
    if final == "softmax":
        nodes.append(helper.make_node("Softmax", [current], ["output"], axis=1))
    elif final == "sigmoid":
        nodes.append(helper.make_node("Sigmoid", [current], ["output"]))
    elif final == "none":
        nodes.append(helper.make_node("Identity", [current], ["output"]))
    else:
        raise ValueError(final)

    if isinstance(input_size, int):
        input_size = (input_size, input_size)
    batch_dim = fixed_batch if fixed_batch else "N"
    h_dim, w_dim = input_size if input_size else ("H", "W")
    # same-size outputs reuse the input's symbolic dims, as training.export writes them
    out_h = h_dim - 2 * crop if isinstance(h_dim, int) else ("OH" if crop else h_dim)
    out_w = w_dim - 2 * crop if isinstance(w_dim, int) else ("OW" if crop else w_dim)
    graph = helper.make_graph(
        nodes, "rsseg_test_conv",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch_dim, in_channels, h_dim, w_dim])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [batch_dim, n_classes, out_h, out_w])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="rsseg-tests")
    model.ir_version = 8
    if metadata is not None:
        helper.set_model_props(model, metadata)
    else:
        card = card if card is not None else ModelCard(class_names=[f"class {k}" for k in range(n_classes)])
        helper.set_model_props(model, card.to_metadata())
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return Path(path)


def run_whole(model_path, image: np.ndarray) -> np.ndarray:
    """The model's output on a whole (C, H, W) float32 image in one go (reference for tiling)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: image[None].astype(np.float32)})[0][0]


def dilated_net(path, in_channels: int = 3, n_classes: int = 4, *, layers: int = 5, hidden: int = 12,
                seed: int = 0) -> Path:
    """A "real-ish" segmentation net: 3x3 convs dilated 1, 2, 4, 8, 16 with blur-like weights.

    Unlike ``conv_model``'s few plain 3x3 layers, its receptive field (63 px) reaches far
    past a tile's edge, and zero padding darkens every feature near it, so a tile's border
    predictions differ from the whole-image ones over a band as wide as a real network's:
    what makes seams visible when tiles are blended badly. Random weights, fixed seed.
    """
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    current, channels = "input", in_channels
    box = np.full((3, 3), 1.0 / 9.0, np.float32)
    for layer in range(layers):
        last = layer == layers - 1
        out_ch = n_classes if last else hidden
        mix = rng.standard_normal((out_ch, channels)).astype(np.float32) / np.sqrt(channels)
        inits += [numpy_helper.from_array((mix[:, :, None, None] * box).astype(np.float32), f"w{layer}"),
                  numpy_helper.from_array((rng.standard_normal(out_ch) * 0.1).astype(np.float32), f"b{layer}")]
        name = "scores" if last else f"h{layer}"
        d = 2 ** layer
        nodes.append(helper.make_node("Conv", [current, f"w{layer}", f"b{layer}"], [name if last else name + "_c"],
                                      kernel_shape=[3, 3], pads=[d] * 4, dilations=[d, d]))
        if not last:
            nodes.append(helper.make_node("Relu", [name + "_c"], [name]))
        current, channels = name, out_ch
    nodes.append(helper.make_node("Softmax", [current], ["output"], axis=1))
    graph = helper.make_graph(
        nodes, "rsseg_test_dilated",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", in_channels, "H", "W"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", n_classes, "H", "W"])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="rsseg-tests")
    model.ir_version = 8
    helper.set_model_props(model, ModelCard(class_names=[f"class {k}" for k in range(n_classes)]).to_metadata())
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return Path(path)
