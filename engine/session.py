"""Opening an ONNX model: the onnxruntime session, its model card and its tensor shapes.

Everything the segmenter needs to know about a model is gathered here once: which
execution provider really runs it (asked for is not the same as got), whether the input
has a fixed batch or tile size (Deepness models are often exported as 1x3x512x512), and
how to turn its raw output into per-class probabilities (softmax/sigmoid inside the graph,
logits, or one sigmoid channel standing for two classes).

On CUDA (onnxruntime-gpu) a batch is bound to the device with IO binding: the input is
copied to the GPU once into an OrtValue and the output is produced on the GPU and copied
back once, instead of onnxruntime staging both through its own host buffers on every run;
the automatic batch is sized to the GPU's free memory (:func:`gpu_batch`). None of this
runs on a CPU-only machine, and it has NOT been run on a GPU yet (docs/performance.md).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from .model_card import ModelCard

DEVICES = ("auto", "cpu", "cuda")
CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"
# heuristic search is what onnxruntime recommends for varying shapes; the arena grows only as asked
CUDA_OPTIONS = {"device_id": 0, "cudnn_conv_algo_search": "HEURISTIC", "arena_extend_strategy": "kSameAsRequested"}
GPU_BYTES_PER_PIXEL = 1024   # activation memory per input pixel of a batch, a DeepLabV3+ ResNet-18 upper bound
GPU_MEMORY_SHARE = 0.5       # of the free memory, for the batch's activations (cuDNN workspaces need the rest)
GPU_MAX_BATCH = 16           # host memory holds ~5 batches in flight (queues): keep them bounded


@dataclass
class ModelSession:
    """An opened model. Dimensions are ``None`` where the ONNX input is dynamic."""

    path: str
    session: ort.InferenceSession
    card: ModelCard
    input_name: str
    input_channels: int
    input_height: int | None
    input_width: int | None
    fixed_batch: int | None
    output_channels: int | None
    provider: str
    input_dims: tuple = ()    # the graph's own input/output dimensions: ints, or names where symbolic
    output_dims: tuple = ()

    @property
    def fixed_tile(self) -> tuple[int, int] | None:
        """(height, width) when the model only accepts one tile size."""
        if self.input_height is not None and self.input_width is not None:
            return self.input_height, self.input_width
        return None

    def static_output(self, tile: tuple[int, int]) -> tuple[tuple[int, int], int] | None:
        """(output rows/cols, classes) for ``tile`` as the graph declares them, without running it.

        Known when the output's spatial dimensions are fixed numbers, or are the input's own
        symbolic dimensions (``training.export`` names both "height"/"width": same size out
        as in), and the class channel is fixed. ``None`` otherwise: the caller probes.
        """
        if len(self.output_dims) != 4 or len(self.input_dims) != 4 or not self.output_channels:
            return None
        rows, cols = self.output_dims[2], self.output_dims[3]
        if _static(rows) is not None and _static(cols) is not None:
            size = (int(rows), int(cols))
        elif isinstance(rows, str) and rows and (rows, cols) == tuple(self.input_dims[2:]):
            size = tuple(tile)
        else:
            return None
        return size, max(2, self.output_channels)  # one sigmoid channel stands for two classes

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Raw model output for an (N, C, H, W) float32 batch, as (N, K, h, w)."""
        if self.provider == CUDA_PROVIDER:
            out = run_bound(self.session, self.input_name, batch)
        else:
            out = self.session.run(None, {self.input_name: batch})[0]
        if out.ndim == 3:  # (N, h, w): one score map
            out = out[:, None]
        if out.ndim != 4:
            raise ValueError(f"MODEL: output has shape {out.shape}; rsseg expects (batch, classes, height, width)")
        return out

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        """Per-class probabilities (N, K, h, w), K >= 2, for an input batch."""
        return to_probabilities(self.run(batch), self.card.outputs)


def to_probabilities(raw: np.ndarray, outputs: str = "probabilities") -> np.ndarray:
    """Raw model output -> class probabilities.

    ``outputs == "logits"``: softmax over classes (sigmoid for one channel). One channel is
    a foreground probability: it becomes two classes, background = 1 - p, as in Deepness.
    """
    scores = raw.astype(np.float32, copy=False)
    if outputs == "logits":
        if scores.shape[1] == 1:
            scores = 1.0 / (1.0 + np.exp(-scores))
        else:
            scores = scores - scores.max(axis=1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=1, keepdims=True)
    if scores.shape[1] == 1:
        scores = np.concatenate([1.0 - scores, scores], axis=1)
    return scores


def run_bound(session, input_name: str, batch: np.ndarray, device_id: int = 0) -> np.ndarray:
    """One run with IO binding on CUDA: input copied to the GPU once, output kept there until copied back."""
    binding = session.io_binding()
    binding.bind_ortvalue_input(input_name, ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(batch), "cuda",
                                                                           device_id))
    binding.bind_output(session.get_outputs()[0].name, "cuda", device_id)
    session.run_with_iobinding(binding)
    return binding.copy_outputs_to_cpu()[0]


def gpu_batch(free_bytes: int | None, tile: tuple[int, int], bytes_per_pixel: int = GPU_BYTES_PER_PIXEL) -> int | None:
    """Tiles per batch that fit ``GPU_MEMORY_SHARE`` of ``free_bytes`` (1..GPU_MAX_BATCH); None if unknown."""
    if not free_bytes or free_bytes <= 0:
        return None
    per_tile = tile[0] * tile[1] * bytes_per_pixel
    return int(max(1, min(GPU_MAX_BATCH, free_bytes * GPU_MEMORY_SHARE // per_tile)))


def cuda_free_bytes(device_id: int = 0, run=subprocess.run) -> int | None:
    """Free memory of GPU ``device_id`` from nvidia-smi (the engine has no CUDA library of its own); None if unknown."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        done = run(["nvidia-smi", f"--id={device_id}", "--query-gpu=memory.free", "--format=csv,noheader,nounits"],
                   capture_output=True, text=True, timeout=10, check=True)
        return int(float(done.stdout.strip().splitlines()[0]) * 2**20)
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def session_providers(names: list[str]) -> list:
    """Provider list for onnxruntime: CUDA with :data:`CUDA_OPTIONS`, others by name."""
    return [(name, dict(CUDA_OPTIONS)) if name == CUDA_PROVIDER else name for name in names]


def choose_providers(device: str) -> list[str]:
    """Onnxruntime providers for DEVICE auto/cpu/cuda; 'cuda' without CUDA is an error."""
    device = (device or "auto").lower()
    if device not in DEVICES:
        raise ValueError(f"DEVICE: expected one of {', '.join(DEVICES)}, got {device!r}")
    available = ort.get_available_providers()
    has_cuda = CUDA_PROVIDER in available
    if device == "cuda" and not has_cuda:
        raise ValueError(
            "DEVICE: 'cuda' asked for, but this onnxruntime has no CUDAExecutionProvider "
            f"(available: {', '.join(available)}). Install onnxruntime-gpu matching your CUDA, "
            "or set DEVICE to auto/cpu."
        )
    if device in ("cuda", "auto") and has_cuda:
        return [CUDA_PROVIDER, CPU_PROVIDER]
    return [CPU_PROVIDER]


def open_model(path: str | os.PathLike, device: str = "auto", threads: int = 0, log=None) -> ModelSession:
    """Open ``path`` with onnxruntime on DEVICE, with ``threads`` intra-op threads (0 = all cores)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"MODEL: {path} does not exist")
    providers = choose_providers(device)
    options = ort.SessionOptions()
    if threads and threads > 0:
        options.intra_op_num_threads = int(threads)
    options.log_severity_level = 3  # onnxruntime's own warnings are noise for users
    # Idle worker threads would otherwise spin, stealing CPU from the reader and writer threads.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = ort.InferenceSession(path, sess_options=options, providers=session_providers(providers))
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types (InvalidProtobuf, Fail, ...)
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"MODEL: {path} is not an ONNX model onnxruntime can open ({text})") from None
    used = session.get_providers()[0]
    if device == "cuda" and used != CUDA_PROVIDER:
        raise ValueError(f"DEVICE: CUDA was asked for but onnxruntime fell back to {used}; "
                         "check the CUDA/cuDNN install")
    if log is not None:
        log(f"model {os.path.basename(path)} runs on {used}")

    card = ModelCard.from_metadata(session.get_modelmeta().custom_metadata_map)
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise ValueError(f"MODEL: {path} has {len(inputs)} inputs; rsseg runs models with one image input")
    shape = list(inputs[0].shape)
    if len(shape) != 4:
        raise ValueError(f"MODEL: input shape {shape}; rsseg expects (batch, bands, height, width)")
    channels = _static(shape[1])
    if channels is None:
        channels = len(card.bands) if card.bands else None
    if channels is None:
        raise ValueError("MODEL: the input band count is dynamic and the model card gives no rsseg_bands")
    out_shape = session.get_outputs()[0].shape
    return ModelSession(
        path=path,
        session=session,
        card=card,
        input_name=inputs[0].name,
        input_channels=channels,
        input_height=_static(shape[2]),
        input_width=_static(shape[3]),
        fixed_batch=_static(shape[0]),
        output_channels=_static(out_shape[1]) if len(out_shape) == 4 else None,
        provider=used,
        input_dims=tuple(shape),
        output_dims=tuple(out_shape),
    )


def _static(dim) -> int | None:
    """An ONNX dimension as int when fixed, ``None`` when symbolic or unknown."""
    return int(dim) if isinstance(dim, (int, np.integer)) and dim > 0 else None
