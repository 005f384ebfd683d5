"""Export trained networks to ONNX files that carry their model card, checked against torch.

Every model the engine runs goes through :func:`export_module`: eval mode, softmax inside
the graph (the engine and Deepness expect probabilities), opset 17, a dynamic batch, dynamic
spatial dimensions unless a fixed shape is asked for, and the
:class:`engine.model_card.ModelCard` in ``metadata_props``. The class dimension of the
output is always a static integer: the TorchScript exporter names it symbolically
(``Softmaxoutput_dim_1``), and Deepness, which counts classes from the declared output
shape, then fails after running every tile. Deepness also needs a fixed tile size (its
dialog takes the tile size from the input shape), hence ``fixed_shape``: batch dynamic,
height and width fixed to the card's tile size (docs/model_card.md).
The file is then run with onnxruntime on a random batch and compared with torch: an
export that changes the numbers by more than ``1e-4`` fails instead of producing a model
that silently segments differently. It is written to a temporary name and renamed when
everything passed, so a failed export never leaves a half-written model behind.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.atomic import atomic_path
from engine.model_card import ModelCard
from engine.progress import RunFeedback
from engine.safeguards import value_range_from_normalization
from engine.tiling import DEFAULT_OVERLAP_PERCENT, DEFAULT_TILE_SIZE
from training.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from training.nets.registry import build_segmentation_net

OPSET = 17
TOLERANCE = 1e-4


class ExportError(ValueError):
    """The network could not be exported faithfully."""


class WithSoftmax(nn.Module):
    """Logits -> class probabilities, so the ONNX graph outputs what the engine averages."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities (B, K, H, W)."""
        return torch.softmax(self.net(x), dim=1)


def export_module(
    module: nn.Module,
    card: ModelCard,
    in_channels: int,
    onnx_path: str | os.PathLike,
    *,
    sample_size: int = 64,
    check: bool = True,
    feedback: RunFeedback | None = None,
    add_softmax: bool = True,
    dynamic_spatial: bool = True,
) -> Path:
    """Write ``module`` (B, in_channels, H, W) -> (B, classes, H, W) as ONNX with ``card``.

    ``add_softmax`` appends a softmax over classes and sets ``card.outputs`` to
    "probabilities"; pass False for a module that already ends in probabilities (or whose
    card says "logits"). ``dynamic_spatial`` False fixes H and W to ``sample_size`` (networks
    that cannot take other sizes, or a Deepness export; the card's tile size should then
    match). The output's class dimension, and with fixed H and W its spatial ones, are
    declared as integers. The module is moved to the CPU and put in eval mode.
    """
    feedback = feedback or RunFeedback()
    target = Path(onnx_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    module = module.cpu().eval()
    graph = WithSoftmax(module).eval() if add_softmax else module
    if add_softmax:
        card.outputs = "probabilities"
    if card.value_range is None and card.band_offset is not None and card.band_scale is not None:
        card.value_range = value_range_from_normalization(card.band_offset, card.band_scale)  # docs/safety.md
    dummy = torch.randn(1, in_channels, sample_size, sample_size, generator=torch.Generator().manual_seed(0))
    axes = {0: "batch", 2: "height", 3: "width"} if dynamic_spatial else {0: "batch"}
    with atomic_path(target) as tmp_name:
        tmp = Path(tmp_name)
        feedback.log(f"exporting to ONNX (opset {OPSET})")
        with torch.no_grad(), warnings.catch_warnings():
            # the TorchScript exporter is the one verified here (dynamo=False); its deprecation is known
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                graph, (dummy,), str(tmp), dynamo=False, opset_version=OPSET,
                input_names=["input"], output_names=["output"],
                dynamic_axes={"input": axes, "output": axes},
            )
            produced = graph(dummy).shape
        static = {1: int(produced[1])} | ({} if dynamic_spatial else {2: int(produced[2]), 3: int(produced[3])})
        _write_metadata(tmp, card, static)
        if check:
            sizes = [sample_size] + ([sample_size + 32] if dynamic_spatial else [])
            for size in sizes:
                feedback.check_cancelled()
                difference = compare_with_torch(graph, tmp, in_channels, size)
                feedback.log(f"ONNX check at {size}x{size}: max difference to torch {difference:.2e}")
                if not difference <= TOLERANCE:
                    raise ExportError(
                        f"ONNX export differs from torch by {difference:.2e} (> {TOLERANCE:.0e}) at {size}x{size} "
                        "pixels; the model was not written"
                    )
    feedback.log(f"saved {target}")
    return target


def _write_metadata(path: Path, card: ModelCard, static_output_dims: dict[int, int]) -> None:
    """Write ``card`` into the file and declare ``static_output_dims`` (axis -> size) of the output as integers.

    The TorchScript exporter leaves the class dimension symbolic after Softmax
    ("Softmaxoutput_dim_1"): fixed, the engine reads the output shape from the graph instead
    of running a probe tile, and Deepness can count the classes.
    """
    import onnx

    model = onnx.load(str(path))
    for output in model.graph.output:
        dims = output.type.tensor_type.shape.dim
        for axis, size in static_output_dims.items():
            if axis < len(dims):
                dims[axis].Clear()
                dims[axis].dim_value = size
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, card.to_metadata())
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def compare_with_torch(
    module: nn.Module, onnx_file: str | os.PathLike, in_channels: int, size: int, batch: int = 2
) -> float:
    """Max absolute difference between torch and onnxruntime outputs on a random batch."""
    import onnxruntime as ort

    sample = torch.randn(batch, in_channels, size, size, generator=torch.Generator().manual_seed(size))
    with torch.no_grad():
        expected = module(sample).numpy()
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    try:
        (got,) = session.run(None, {session.get_inputs()[0].name: sample.numpy()})
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise ExportError(
            f"onnxruntime could not run the exported model on a {batch}x{in_channels}x{size}x{size} batch ({exc}); "
            "if the network only takes one tile size, export with dynamic_spatial=False"
        ) from None
    if got.shape != expected.shape:
        raise ExportError(f"ONNX output shape {got.shape} differs from torch's {expected.shape}")
    return float(np.max(np.abs(got - expected)))


# ----------------------------------------------------------------------------- checkpoints
def load_finetuned(checkpoint_path: str | os.PathLike, parameter: str = "CHECKPOINT") -> Checkpoint:
    """A fine-tuned checkpoint, or a message saying what to do with other kinds."""
    checkpoint = load_checkpoint(checkpoint_path, parameter)
    if checkpoint.method != "supervised" or not checkpoint.architecture:
        raise CheckpointError(
            f"{parameter}: {Path(checkpoint_path).name} is a {checkpoint.method} pretraining checkpoint, which has "
            "no segmentation head: fine-tune it first (rsseg:finetune with PRETRAINED, or "
            "'python -m training finetune --pretrained ...'); for SDCluster cluster maps use rsseg:cluster_map"
        )
    return checkpoint


def rebuild_network(checkpoint: Checkpoint) -> nn.Module:
    """The fine-tuned network with its weights, rebuilt from ``architecture_kwargs``."""
    num_classes = len(checkpoint.class_names) or int(checkpoint.extra_state.get("num_classes", 0))
    net = build_segmentation_net(
        checkpoint.architecture, checkpoint.in_channels, num_classes, pretrained=None, **checkpoint.architecture_kwargs
    )
    try:
        net.load_state_dict(checkpoint.model_state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(
            f"CHECKPOINT: its weights do not fit a {checkpoint.architecture} network "
            f"({str(exc).strip().splitlines()[0]}); it was probably written by another version of rsseg"
        ) from None
    return net.eval()


def card_for_checkpoint(checkpoint: Checkpoint, tile_size: int | None = None,
                        overlap_percent: float | None = None) -> ModelCard:
    """Model card of a fine-tuned checkpoint: classes, bands, normalisation, tiling, provenance.

    Tile size defaults to the training patch size: the network then sees at inference the
    geometry it was trained on (DeepLabV3+'s ASPP taps at rates 12/18 fall off a 16 x 16
    feature map but not off a 32 x 32 one, and its image pooling averages over the tile;
    Diff-HRNet's fixed-noise tile is the patch size). Overlap defaults to
    :mod:`engine.tiling`'s 15 %.
    """
    patch = checkpoint.extra_state.get("patch_size") or checkpoint.config.get("patch_size")
    config: dict[str, Any] = dict(checkpoint.config)
    if checkpoint.extra_state.get("pretrained_method"):
        config["pretrained_method"] = checkpoint.extra_state["pretrained_method"]
    config["architecture_kwargs"] = dict(checkpoint.architecture_kwargs)
    return ModelCard(
        class_names=list(checkpoint.class_names),
        class_colors=[tuple(int(v) for v in c) for c in checkpoint.class_colors],
        bands=list(checkpoint.bands),
        band_offset=[float(v) for v in checkpoint.band_offset],
        band_scale=[float(v) for v in checkpoint.band_scale],
        tile_size=int(tile_size) if tile_size else int(patch or DEFAULT_TILE_SIZE),
        tile_overlap_percent=float(overlap_percent) if overlap_percent is not None else DEFAULT_OVERLAP_PERCENT,
        nodata=checkpoint.nodata,
        resolution_cm=checkpoint.extra_state.get("resolution_cm"),
        outputs="probabilities",
        task="segmentation",
        method=checkpoint.method,
        config=config,
    )


def export_checkpoint(
    checkpoint_path: str | os.PathLike,
    onnx_path: str | os.PathLike,
    *,
    tile_size: int | None = None,
    overlap_percent: float | None = None,
    fixed_shape: bool = False,
    feedback: RunFeedback | None = None,
    int8: bool = False,
    calibration: list[str] | None = None,
    fp16: bool = False,
) -> Path:
    """Fine-tuned checkpoint -> checked ONNX model with its card.

    ``int8``: write a static-QDQ int8 model instead (``training.quantize``), calibrated on
    ``calibration`` rasters or else the checkpoint's training rasters, checked against fp32.
    ``fp16``: a half-precision model for GPUs (float32 inputs and outputs kept).
    ``fixed_shape`` (FIXED_SHAPE, ``--fixed-shape``) fixes the input's height and width to the
    card's tile size, the batch staying dynamic: the form Deepness loads.
    """
    if int8 and fp16:
        raise ValueError("QUANTIZE: choose int8 or fp16, not both")
    if tile_size is not None and tile_size and tile_size < 32:
        raise ValueError(f"TILE_SIZE must be at least 32 pixels, got {tile_size}")
    if overlap_percent is not None and not 0 <= overlap_percent < 100:
        raise ValueError(f"OVERLAP must be a percentage in [0, 100), got {overlap_percent}")
    checkpoint = load_finetuned(checkpoint_path)
    net = rebuild_network(checkpoint)
    card = card_for_checkpoint(checkpoint, tile_size, overlap_percent)
    shape = {"dynamic_spatial": False, "sample_size": int(card.tile_size)} if fixed_shape else {}

    def fp32_export(target):
        return export_module(net, card, checkpoint.in_channels, target, feedback=feedback, **shape)

    if int8:
        from training.quantize import export_quantized, training_rasters

        rasters = list(calibration or []) or training_rasters(checkpoint.config)
        return export_quantized(fp32_export, onnx_path, rasters, feedback)
    if fp16:
        from training.quantize import export_fp16

        return export_fp16(fp32_export, onnx_path, feedback)
    return fp32_export(onnx_path)
