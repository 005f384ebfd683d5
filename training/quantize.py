"""int8 models: onnxruntime static QDQ quantization, calibrated on real patches, checked against fp32.

Why static QDQ: activations get fixed scales measured once on imagery like the user's, so
inference runs integer convolutions end to end (dynamic quantization re-measures every
activation at run time and only covers MatMul/Gemm well, not the convolutions that are a
segmentation network's whole cost). QDQ (QuantizeLinear/DequantizeLinear pairs around
each quantized op) is the format onnxruntime fuses best on every execution provider.

Patches come from the rasters the checkpoint was trained on (``config["images"]``), or from
rasters given explicitly, read and normalised exactly as ``engine.segment`` reads them
(``engine.raster_io.RasterReader`` with the model card's bands and normalisation). The
patch cells of all rasters are shuffled once (fixed seed) and split: the first
``calibration_patches`` calibrate, the next ``check_patches`` (disjoint pixels) compare the
int8 model with the fp32 one. The check reports the share of pixels given the same class
and the mIoU of the int8 classes taking the fp32 classes as reference; both go into the log
and into the model card (``config["quantization"]``), so the file says what it lost.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from engine.atomic import atomic_path, atomic_write_with, commit
from engine.metrics import scores_from_confusion
from engine.model_card import ModelCard
from engine.progress import RunFeedback
from engine.run_scope import register_temp

CALIBRATION_PATCHES = 32
CHECK_PATCHES = 16
PATCH_SIZE = 256
# Softmax, Resize and the like stay in float: quantizing them saves nothing and costs accuracy.
QUANTIZED_OPS = ("Conv", "MatMul", "Gemm")


@dataclass
class QuantizationCheck:
    """How the int8 model compares with the fp32 one on held-out patches."""

    class_agreement: float      # share of pixels with the same class (0-1)
    miou_vs_fp32: float         # mIoU (%) of int8 classes, fp32 classes as reference
    calibration_patches: int
    check_patches: int
    patch_size: int
    sources: list[str]


def patch_cells(shapes: list[tuple[int, int]], size: int, seed: int = 0) -> list[tuple[int, int, int]]:
    """(raster index, row, col) of every non-overlapping ``size`` cell, shuffled with ``seed``."""
    cells = [(k, r, c) for k, (h, w) in enumerate(shapes)
             for r in range(0, max(1, h - size + 1), size) for c in range(0, max(1, w - size + 1), size)]
    order = np.random.default_rng(seed).permutation(len(cells))
    return [cells[i] for i in order]


def read_patches(rasters: list[str], card: ModelCard, size: int, counts: tuple[int, int], seed: int = 0,
                 fixed: bool = False) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(calibration, check) lists of (1, C, size, size) float32 inputs from disjoint cells.

    ``size`` is halved (down to 32) while the rasters hold fewer than two cells, unless
    ``fixed`` (a model that only takes ``size``).
    """
    import rasterio

    from engine.raster_io import RasterReader

    sources = []
    for path in rasters:
        if not os.path.isfile(path):
            raise ValueError(f"CALIBRATION: raster {path} does not exist; give rasters like the imagery to segment")
        sources.append(rasterio.open(path))
    try:
        bands = list(card.bands or []) or list(range(1, sources[0].count + 1))
        offset, scale = card.normalization(len(bands))
        shapes = [(s.height, s.width) for s in sources]
        cells = patch_cells(shapes, size, seed)
        while len(cells) < 2 and size > 32 and not fixed:  # small rasters: smaller patches, still disjoint
            size //= 2
            cells = patch_cells(shapes, size, seed)
        if len(cells) < 2:
            raise ValueError(f"CALIBRATION: the rasters hold {len(cells)} patch of {size} px; "
                             "give larger or more rasters")
        n_cal = min(counts[0], max(1, len(cells) // 2))
        n_check = min(counts[1], len(cells) - n_cal)
        readers = [RasterReader(s, bands, offset, scale, card.nodata) for s in sources]
        patches = [readers[k].read(r, c, size, size)[0][None] for k, r, c in cells[:n_cal + n_check]]
    finally:
        for src in sources:
            src.close()
    return patches[:n_cal], patches[n_cal:]


class _Patches:
    """onnxruntime's CalibrationDataReader protocol over a list of input batches."""

    def __init__(self, input_name: str, batches: list[np.ndarray]) -> None:
        self._items = iter([{input_name: b} for b in batches])

    def get_next(self):
        """Next feed dict, or None when done (the protocol's end marker)."""
        return next(self._items, None)


def quantize_file(fp32_path: str | os.PathLike, int8_path: str | os.PathLike, calibration: list[np.ndarray]) -> Path:
    """Static QDQ int8 copy of ``fp32_path`` (per-channel int8 weights, uint8 activations)."""
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    input_name = ort.InferenceSession(str(fp32_path), providers=["CPUExecutionProvider"]).get_inputs()[0].name
    with tempfile.TemporaryDirectory(prefix="rsseg_quant_") as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        # folds BatchNorm-free graphs' constants and infers shapes: what quantize_static expects
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=False)
        quantize_static(
            str(prepared), str(int8_path), _Patches(input_name, calibration),
            quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            per_channel=True, calibrate_method=CalibrationMethod.MinMax,
            op_types_to_quantize=list(QUANTIZED_OPS),
            extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
        )
    # quantization keeps metadata_props only sometimes, and may loosen the output's declared
    # shape: copy both over from the fp32 file (the engine reads the output shape from it)
    source, target = onnx.load(str(fp32_path)), onnx.load(str(int8_path))
    del target.metadata_props[:]
    target.metadata_props.extend(source.metadata_props)
    target.graph.output[0].type.CopyFrom(source.graph.output[0].type)
    onnx.save(target, str(int8_path))
    return Path(int8_path)


def compare_classes(fp32_path: str | os.PathLike, int8_path: str | os.PathLike,
                    batches: list[np.ndarray]) -> tuple[float, float]:
    """(class agreement 0-1, mIoU % of int8 classes against fp32 classes) on ``batches``."""
    import onnxruntime as ort

    sessions = [ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in (fp32_path, int8_path)]
    name = sessions[0].get_inputs()[0].name
    confusion, same, total = None, 0, 0
    for batch in batches:
        outputs = [s.run(None, {name: batch})[0] for s in sessions]
        k = outputs[0].shape[1]
        ref, got = (o.argmax(axis=1).ravel() for o in outputs)
        counts = np.bincount(ref * k + got, minlength=k * k).reshape(k, k)
        confusion = counts if confusion is None else confusion + counts
        same, total = same + int((ref == got).sum()), total + ref.size
    return same / max(total, 1), 100.0 * float(scores_from_confusion(confusion)["miou"])


def quantize_model(fp32_path: str | os.PathLike, int8_path: str | os.PathLike, rasters: list[str], *,
                   patch_size: int = PATCH_SIZE, calibration_patches: int = CALIBRATION_PATCHES,
                   check_patches: int = CHECK_PATCHES, feedback: RunFeedback | None = None) -> QuantizationCheck:
    """Write the int8 model of ``fp32_path`` to ``int8_path`` (temp name + rename), checked and carded."""
    import onnx

    feedback = feedback or RunFeedback()
    if not rasters:
        raise ValueError("CALIBRATION: no rasters to calibrate on; the checkpoint records none, give some")
    model = onnx.load(str(fp32_path))
    card = ModelCard.from_metadata({p.key: p.value for p in model.metadata_props})
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    fixed = len(dims) == 4 and dims[2] > 0 and dims[2] == dims[3]  # a fixed-shape export takes one tile size
    calibration, held_out = read_patches(rasters, card, dims[2] if fixed else patch_size,
                                         (calibration_patches, check_patches), fixed=fixed)
    patch_size = calibration[0].shape[-1]
    feedback.log(f"int8: calibrating on {len(calibration)} patches of {patch_size} px from {len(rasters)} raster(s)")
    target = Path(int8_path)
    with atomic_path(target) as tmp_name:  # engine/atomic.py: temp beside it, fsync, rename
        tmp = Path(tmp_name)
        feedback.check_cancelled()
        quantize_file(fp32_path, tmp, calibration)
        feedback.check_cancelled()
        agreement, miou = compare_classes(fp32_path, tmp, held_out)
        check = QuantizationCheck(round(agreement, 5), round(miou, 2), len(calibration), len(held_out), patch_size,
                                  [os.path.basename(r) for r in rasters])
        feedback.log(f"int8 check on {len(held_out)} held-out patches: {100 * agreement:.2f} % of pixels keep "
                     f"their fp32 class, mIoU {miou:.2f} % against the fp32 classes")
        _record(tmp, card, check)
    return check


def _record(path: Path, card: ModelCard, check: QuantizationCheck) -> None:
    """Store the check in the model card (``config["quantization"]``)."""
    import onnx

    card.config = {**card.config, "quantization": {"format": "int8 static QDQ (onnxruntime)", **asdict(check)}}
    model = onnx.load(str(path))
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, card.to_metadata())
    onnx.save(model, str(path))


def training_rasters(config: dict) -> list[str]:
    """The image rasters a checkpoint was fine-tuned on (its FinetuneConfig ``images``), if still there."""
    return [p for p in (config.get("images") or []) if isinstance(p, str) and os.path.isfile(p)]


def export_quantized(write_fp32, onnx_path: str | os.PathLike, rasters: list[str],
                     feedback: RunFeedback | None = None) -> Path:
    """int8 export: ``write_fp32(path)`` writes the checked fp32 model beside the target, then
    it is quantized into ``onnx_path`` (the fp32 file is removed; export it separately to keep it)."""
    feedback = feedback or RunFeedback()
    target = Path(onnx_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not rasters:
        raise ValueError("CALIBRATION: the checkpoint records no training rasters that still exist; "
                         "give rasters like the imagery to segment")
    with tempfile.TemporaryDirectory(prefix=".rsseg_int8_", dir=target.parent) as tmp:
        register_temp(tmp)  # removed by the SIGTERM handler too (engine/run_scope.py)
        fp32 = write_fp32(Path(tmp) / "fp32.onnx")
        quantize_model(fp32, target, rasters, feedback=feedback)
    feedback.log(f"saved int8 model {target}")
    return target


def to_fp16(fp32_path: str | os.PathLike, fp16_path: str | os.PathLike) -> Path:
    """fp16 copy of a model for GPUs (half the weights' size, tensor cores); inputs and outputs stay fp32.

    ``keep_io_types`` keeps the engine's float32 batches and probabilities unchanged; Resize
    stays in fp32 (its fp16 kernels are missing on some providers). On a CPU onnxruntime
    inserts casts and runs it slower than fp32: it is a GPU format.
    """
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(fp32_path))
    half = convert_float_to_float16(model, keep_io_types=True, op_block_list=["Resize"])
    del half.metadata_props[:]
    half.metadata_props.extend(model.metadata_props)
    return atomic_write_with(fp16_path, lambda tmp: onnx.save(half, tmp))


def export_fp16(write_fp32, onnx_path: str | os.PathLike, feedback: RunFeedback | None = None,
                check: list[np.ndarray] | None = None) -> Path:
    """fp16 export: the checked fp32 model is written beside the target, converted, and compared on ``check``."""
    feedback = feedback or RunFeedback()
    target = Path(onnx_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".rsseg_fp16_", dir=target.parent) as tmp:
        register_temp(tmp)
        fp32 = write_fp32(Path(tmp) / "fp32.onnx")
        half = to_fp16(fp32, Path(tmp) / "fp16.onnx")
        if check:
            agreement, _ = compare_classes(fp32, half, check)
            feedback.log(f"fp16 check: {100 * agreement:.2f} % of pixels keep their fp32 class")
        commit(half, target)
    feedback.log(f"saved fp16 model {target}")
    return target
