"""What rsseg runs on: package versions and locations, onnxruntime's providers, the GPU.

Behind ``rsseg:check_environment``, for the question users of every peer plugin ask: "was
my GPU used?". Nothing here imports QGIS, and nothing is imported at module level beyond
the standard library: each package is imported inside :func:`probe_package` (through an
``importer`` that tests replace to simulate a missing package), so the check works, and
says what to install, when torch, onnxruntime or onnx is absent.

Which provider really ran is not the same as which are available: onnxruntime lists CUDA
whenever onnxruntime-gpu is installed, and silently falls back to the CPU when the CUDA
libraries do not load. So a tiny model (a 1x1 convolution and a softmax, built in memory
with ``onnx.helper``) is opened with rsseg's provider preference and run once, and
``session.get_providers()`` says what it ran on.
"""
from __future__ import annotations

import importlib
import platform
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from .dependencies import INSTALL_HINT, PIP_NAMES

Importer = Callable[[str], Any]

# (label, module imported, attribute holding the version)
PACKAGES: tuple[tuple[str, str, str], ...] = (
    ("numpy", "numpy", "__version__"),
    ("GDAL", "osgeo.gdal", "__version__"),
    ("rasterio", "rasterio", "__version__"),
    ("rasterio's GDAL", "rasterio", "__gdal_version__"),   # the GDAL the engine reads and writes with
    ("torch", "torch", "__version__"),
    ("onnxruntime", "onnxruntime", "__version__"),
    ("onnx", "onnx", "__version__"),
)
# packages Debian's QGIS brings (apt), and the ones make setup puts into .venv (pip)
APT_PACKAGES = {"numpy": "python3-numpy", "GDAL": "python3-gdal", "rasterio": "python3-rasterio",
                "rasterio's GDAL": "python3-rasterio"}
CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"


@dataclass
class PackageInfo:
    """One package: its version and where it was imported from, or why it could not be."""

    name: str
    version: str | None = None
    location: str | None = None
    error: str | None = None

    @property
    def available(self) -> bool:
        """True when the package imported."""
        return self.error is None


@dataclass
class EnvironmentReport:
    """Everything the check found; ``as_dict`` gives the algorithm's result values."""

    qgis_version: str
    python_version: str
    python_executable: str
    platform: str
    packages: dict[str, PackageInfo]
    ort_available_providers: list[str] = field(default_factory=list)
    ort_used_providers: list[str] = field(default_factory=list)
    ort_test: str = ""
    torch_cuda: bool = False
    torch_cuda_version: str | None = None
    gpu_names: list[str] = field(default_factory=list)
    nvidia_smi_gpus: list[str] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)

    @property
    def missing(self) -> list[str]:
        """Names of the packages that did not import."""
        return [name for name, info in self.packages.items() if not info.available]

    def as_dict(self) -> dict[str, Any]:
        """Plain values (JSON-able)."""
        out = asdict(self)
        out["missing"] = self.missing
        return out


def probe_package(label: str, module: str, attribute: str, importer: Importer = importlib.import_module) -> PackageInfo:
    """Import ``module`` and read its version and file; any failure is recorded, not raised.

    A broken install (a DLL or CUDA library that does not load) raises other errors than
    ImportError, and the report must still be written, hence the broad except.
    """
    try:
        loaded = importer(module)
    except Exception as exc:  # noqa: BLE001 - any import failure is a finding of the check
        return PackageInfo(label, error=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    version = getattr(loaded, attribute, None)
    return PackageInfo(label, version=str(version) if version is not None else "unknown",
                       location=getattr(loaded, "__file__", None) or "built in")


def tiny_model_bytes(onnx: Any) -> bytes:
    """A 1x1 convolution (3 -> 2 channels) and a softmax, serialised: enough for a provider to
    take real work (an Identity graph could be optimised away)."""
    import numpy as np

    helper, numpy_helper = onnx.helper, onnx.numpy_helper
    weight = numpy_helper.from_array(np.full((2, 3, 1, 1), 0.1, np.float32), "w")
    nodes = [helper.make_node("Conv", ["input", "w"], ["scores"]),
             helper.make_node("Softmax", ["scores"], ["output"], axis=1)]
    graph = helper.make_graph(
        nodes, "rsseg_environment_check",
        [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["batch", 3, 8, 8])],
        [helper.make_tensor_value_info("output", onnx.TensorProto.FLOAT, ["batch", 2, 8, 8])],
        initializer=[weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="rsseg")
    model.ir_version = 8
    return model.SerializeToString()


def check_onnxruntime(ort: Any, onnx: Any | None) -> tuple[list[str], list[str], str]:
    """(available providers, providers the tiny model's session used, what happened)."""
    import numpy as np

    available = list(ort.get_available_providers())
    if onnx is None:
        return available, [], "not run: onnx is missing, so the test model cannot be built"
    wanted = [CUDA_PROVIDER, CPU_PROVIDER] if CUDA_PROVIDER in available else [CPU_PROVIDER]
    try:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        session = ort.InferenceSession(tiny_model_bytes(onnx), sess_options=options, providers=wanted)
        (probs,) = session.run(None, {"input": np.ones((1, 3, 8, 8), np.float32)})
    except Exception as exc:  # noqa: BLE001 - onnxruntime's own error types; the report says what failed
        return available, [], f"failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    used = list(session.get_providers())
    if not np.allclose(probs.sum(axis=1), 1.0, atol=1e-4):
        return available, used, "ran, but gave wrong numbers (probabilities do not sum to 1)"
    note = "" if used[0] == wanted[0] else f" (asked for {wanted[0]}: onnxruntime fell back)"
    return available, used, f"ran on {used[0]}{note}"


def check_torch(torch: Any) -> tuple[bool, str | None, list[str]]:
    """(CUDA usable by torch, the CUDA version torch was built with, GPU names)."""
    try:
        cuda = bool(torch.cuda.is_available())
        names = [str(torch.cuda.get_device_name(i)) for i in range(torch.cuda.device_count())] if cuda else []
    except Exception:  # noqa: BLE001 - a broken CUDA runtime is a finding, not a crash
        cuda, names = False, []
    return cuda, getattr(torch.version, "cuda", None), names


def nvidia_smi_gpus(runner: Callable[..., Any] = subprocess.run) -> list[str]:
    """GPUs the NVIDIA driver lists (``nvidia-smi -L``): the GPU may be there while no package uses it."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        done = runner(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in (done.stdout or "").splitlines() if line.strip().startswith("GPU")]


def collect(qgis_version: str, importer: Importer = importlib.import_module,
            gpu_lister: Callable[[], list[str]] = nvidia_smi_gpus,
            step: Callable[[float], None] | None = None) -> EnvironmentReport:
    """Probe every package, run the onnxruntime test model and ask torch about CUDA.

    ``step(fraction)`` is called between the probes (importing torch takes seconds), so a
    caller can report progress and stop on cancel by raising.
    """
    step = step or (lambda _fraction: None)
    packages = {}
    for index, (label, module, attribute) in enumerate(PACKAGES):
        packages[label] = probe_package(label, module, attribute, importer)
        step(0.8 * (index + 1) / len(PACKAGES))
    report = EnvironmentReport(qgis_version=qgis_version, python_version=platform.python_version(),
                               python_executable=sys.executable, platform=platform.platform(), packages=packages,
                               nvidia_smi_gpus=gpu_lister())
    if packages["onnxruntime"].available:
        onnx = importer("onnx") if packages["onnx"].available else None
        report.ort_available_providers, report.ort_used_providers, report.ort_test = check_onnxruntime(
            importer("onnxruntime"), onnx)
    else:
        report.ort_test = "not run: onnxruntime is missing"
    step(0.9)
    if packages["torch"].available:
        report.torch_cuda, report.torch_cuda_version, report.gpu_names = check_torch(importer("torch"))
    report.advice = advice(report)
    return report


def install_command(missing: list[str], gpu: bool) -> str:
    """The command that installs the missing pip packages the way ``make setup`` does (docs/install.md)."""
    names = [PIP_NAMES.get(m, m) for m in missing if m not in APT_PACKAGES]
    names = ["onnxruntime-gpu" if n == "onnxruntime" and gpu else n for n in names]
    return INSTALL_HINT.format(packages=" ".join(names)) if names else ""


def advice(report: EnvironmentReport) -> list[str]:
    """What to do about what is missing or unused, one sentence each."""
    out = []
    gpu = bool(report.nvidia_smi_gpus or report.gpu_names)
    apt = list(dict.fromkeys(APT_PACKAGES[m] for m in report.missing if m in APT_PACKAGES))
    if apt:
        out.append("Install QGIS's Python packages from your system: sudo apt-get install " + " ".join(apt)
                   + " (make setup does this on Debian/Ubuntu).")
    command = install_command(report.missing, gpu)
    if command:
        out.append(command)
    if gpu and report.packages["onnxruntime"].available and CUDA_PROVIDER not in report.ort_available_providers:
        out.append("A GPU is present but this onnxruntime has no CUDAExecutionProvider: rerun make setup (it picks "
                   "onnxruntime-gpu when nvidia-smi lists a GPU) or RSSEG_ORT=onnxruntime-gpu make setup.")
    elif CUDA_PROVIDER in report.ort_available_providers and report.ort_used_providers[:1] != [CUDA_PROVIDER]:
        out.append("onnxruntime lists CUDA but the test model ran on the CPU: the CUDA/cuDNN libraries that "
                   "onnxruntime-gpu needs did not load (see onnxruntime's CUDA requirements for your version).")
    if gpu and report.packages["torch"].available and not report.torch_cuda:
        out.append("A GPU is present but torch cannot use it (make setup installs the CPU build of torch==2.13.0); "
                   "training runs on the CPU. Install a CUDA build of torch into .venv to train on the GPU.")
    return out


def format_report(report: EnvironmentReport) -> str:
    """The copyable plain-text report (paste it into a bug report)."""
    lines = ["rsseg environment check", "=======================",
             f"QGIS       {report.qgis_version}",
             f"Python     {report.python_version}  ({report.python_executable})",
             f"Platform   {report.platform}", "", "Packages (version, imported from):"]
    for info in report.packages.values():
        if info.available:
            lines.append(f"  {info.name:<16} {info.version:<12} {info.location}")
        else:
            lines.append(f"  {info.name:<16} MISSING      {info.error}")
    lines += ["", "onnxruntime (inference):",
              "  available providers: " + (", ".join(report.ort_available_providers) or "-"),
              f"  test model: {report.ort_test}",
              "  session providers:   " + (", ".join(report.ort_used_providers) or "-"),
              "", "torch (training):"]
    if report.packages["torch"].available:
        build = f"built with CUDA {report.torch_cuda_version}" if report.torch_cuda_version else "a CPU-only build"
        lines.append(f"  CUDA available: {'yes' if report.torch_cuda else 'no'} (this torch is {build})")
        lines.append("  GPU: " + (", ".join(report.gpu_names) or "-"))
    else:
        lines.append("  not installed")
    lines.append("  nvidia-smi: " + (", ".join(report.nvidia_smi_gpus) or "no NVIDIA GPU listed"))
    lines += ["", "What to do:"] + [f"  - {a}" for a in report.advice or ["nothing: everything rsseg uses is there."]]
    return "\n".join(lines) + "\n"
