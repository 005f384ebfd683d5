"""rsseg:check_environment: versions and locations, the provider a tiny model really ran on,
and a report that still comes (with install commands) when torch or onnxruntime is missing."""
from __future__ import annotations

import importlib
import sys
from types import SimpleNamespace

import pytest

from plugin.environment import CPU_PROVIDER, CUDA_PROVIDER, check_onnxruntime, collect, format_report

GPU = ["GPU 0: NVIDIA H200 (UUID: GPU-0)"]


def hiding(*names: str):
    """An importer for which ``names`` (and their submodules) are not installed."""
    def importer(module: str):
        if module.split(".")[0] in names:
            raise ModuleNotFoundError(f"No module named {module!r}")
        return importlib.import_module(module)
    return importer


def test_report_names_versions_locations_and_the_provider_that_ran():
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    report = collect("3.22.0", gpu_lister=lambda: [])
    numpy = report.packages["numpy"]
    assert numpy.available and numpy.version == importlib.import_module("numpy").__version__
    assert numpy.location == importlib.import_module("numpy").__file__
    assert CPU_PROVIDER in report.ort_available_providers
    assert report.ort_used_providers and report.ort_used_providers[0] in report.ort_available_providers
    assert report.ort_test.startswith("ran on ")
    text = format_report(report)
    for needle in ("QGIS       3.22.0", "numpy", "GDAL", "torch", "onnxruntime", "session providers", "nvidia-smi"):
        assert needle in text, needle


def test_missing_torch_and_onnxruntime_give_a_report_and_the_install_command():
    report = collect("3.22.0", importer=hiding("torch", "onnxruntime"), gpu_lister=lambda: [])
    assert report.missing == ["torch", "onnxruntime"]
    assert report.ort_test == "not run: onnxruntime is missing" and not report.torch_cuda
    text = format_report(report)
    assert "torch            MISSING" in text and "onnxruntime      MISSING" in text
    assert any("pip install torch==2.13.0 onnxruntime" in a and "make setup" in a for a in report.advice), report.advice
    # with a GPU listed by the driver, the command installs onnxruntime-gpu, as make setup would
    report = collect("3.22.0", importer=hiding("torch", "onnxruntime"), gpu_lister=lambda: GPU)
    assert any(a.endswith("pip install torch==2.13.0 onnxruntime-gpu") for a in report.advice), report.advice


def test_a_listed_cuda_provider_that_falls_back_is_reported_as_cpu():
    """onnxruntime-gpu lists CUDA even when its libraries do not load; the session says the truth."""
    ort = pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")

    def cpu_only_session(model, sess_options=None, providers=()):
        assert providers[0] == CUDA_PROVIDER          # the check asks for CUDA first when it is listed
        return ort.InferenceSession(model, sess_options=sess_options, providers=[CPU_PROVIDER])

    fake = SimpleNamespace(get_available_providers=lambda: [CUDA_PROVIDER, CPU_PROVIDER],
                           SessionOptions=ort.SessionOptions, InferenceSession=cpu_only_session)
    available, used, what = check_onnxruntime(fake, onnx)
    assert available == [CUDA_PROVIDER, CPU_PROVIDER] and used == [CPU_PROVIDER]
    assert what == f"ran on {CPU_PROVIDER} (asked for {CUDA_PROVIDER}: onnxruntime fell back)"
    assert check_onnxruntime(fake, None)[2].startswith("not run: onnx is missing")


def test_algorithm_writes_the_report_and_returns_the_values(rsseg_provider, tmp_path):
    import processing

    target = tmp_path / "env" / "report.txt"
    result = processing.run("rsseg:check_environment", {"OUTPUT_REPORT": str(target)})
    text = target.read_text(encoding="utf-8")
    assert text.startswith("rsseg environment check") and "onnxruntime (inference):" in text
    assert result["OUTPUT_REPORT"] == str(target)
    assert result["NUMPY_VERSION"] == importlib.import_module("numpy").__version__
    assert result["QGIS_VERSION"] and result["PYTHON_VERSION"]
    assert CPU_PROVIDER in result["ORT_PROVIDERS"].split(",")
    assert result["ORT_USED_PROVIDER"] in result["ORT_PROVIDERS"].split(",")
    assert isinstance(result["TORCH_CUDA"], bool)
    assert not list(target.parent.glob("*.tmp"))


def test_algorithm_works_without_torch_and_onnxruntime(rsseg_provider, tmp_path, monkeypatch):
    """A None entry in sys.modules makes ``import`` raise ImportError: the packages are absent."""
    import processing

    for name in ("torch", "onnxruntime"):
        monkeypatch.setitem(sys.modules, name, None)
    result = processing.run("rsseg:check_environment", {"OUTPUT_REPORT": str(tmp_path / "r.txt")})
    assert result["MISSING"] == "torch,onnxruntime"
    assert result["TORCH_VERSION"] == "" and result["ONNXRUNTIME_VERSION"] == "" and result["ORT_USED_PROVIDER"] == ""
    assert result["TORCH_CUDA"] is False
    assert "torch==2.13.0" in result["INSTALL_COMMAND"]
    assert "MISSING" in (tmp_path / "r.txt").read_text(encoding="utf-8")


def test_cancelling_writes_no_report(rsseg_provider, tmp_path):
    import processing
    from qgis.core import QgsProcessingException, QgsProcessingFeedback

    feedback = QgsProcessingFeedback()
    feedback.cancel()
    with pytest.raises(QgsProcessingException):
        processing.run("rsseg:check_environment", {"OUTPUT_REPORT": str(tmp_path / "r.txt")}, feedback=feedback)
    assert not list(tmp_path.iterdir())
