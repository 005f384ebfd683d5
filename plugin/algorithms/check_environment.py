"""rsseg:check_environment — versions, locations, onnxruntime providers and the GPU, as a copyable report.

Thin: :mod:`plugin.environment` does the probing. torch and onnxruntime are imported only
inside ``processAlgorithm`` (by the probe), never when the plugin loads, and their absence
is a finding of the report, not an error.
"""
from __future__ import annotations

import os
import tempfile

from qgis.core import (
    Qgis,
    QgsProcessingException,
    QgsProcessingOutputBoolean,
    QgsProcessingOutputString,
    QgsProcessingParameterFileDestination,
)

from .base import RssegAlgorithm


class CheckEnvironmentAlgorithm(RssegAlgorithm):
    """Says what rsseg runs on and what is missing; answers "was my GPU used?"."""

    algorithm_name = "check_environment"
    group_key = "tools"
    requires: tuple[str, ...] = ()

    OUTPUT_REPORT = "OUTPUT_REPORT"
    # result values (also in the report)
    QGIS_VERSION = "QGIS_VERSION"
    PYTHON_VERSION = "PYTHON_VERSION"
    NUMPY_VERSION = "NUMPY_VERSION"
    GDAL_VERSION = "GDAL_VERSION"
    TORCH_VERSION = "TORCH_VERSION"
    ONNXRUNTIME_VERSION = "ONNXRUNTIME_VERSION"
    ORT_PROVIDERS = "ORT_PROVIDERS"
    ORT_USED_PROVIDER = "ORT_USED_PROVIDER"
    TORCH_CUDA = "TORCH_CUDA"
    GPU_NAME = "GPU_NAME"
    MISSING = "MISSING"
    INSTALL_COMMAND = "INSTALL_COMMAND"
    VERSIONS = {NUMPY_VERSION: "numpy", GDAL_VERSION: "GDAL", TORCH_VERSION: "torch",
                ONNXRUNTIME_VERSION: "onnxruntime"}

    def displayName(self) -> str:
        return self.tr("Check the environment (versions, GPU)")

    def shortHelpString(self) -> str:
        return self.tr(
            "Reports what rsseg runs on, as a text you can copy into a bug report: the versions of QGIS, Python, "
            "numpy, GDAL, rasterio, torch, onnxruntime and onnx and the folder each was imported from; "
            "onnxruntime's available execution providers and the one a tiny test model really ran on (a CUDA "
            "provider can be listed and still fall back to the CPU); whether torch can use CUDA and the GPU's "
            "name; and the command that installs what is missing.\n\n"
            "Nothing is installed or changed. Missing torch or onnxruntime is reported, not an error.\n"
            "OUTPUT_REPORT: the text file to write (optional; the report is in the log either way).\n"
            "Results: QGIS_VERSION, PYTHON_VERSION, NUMPY_VERSION, GDAL_VERSION, TORCH_VERSION, ONNXRUNTIME_VERSION "
            "(empty when missing), ORT_PROVIDERS (available, comma-separated), ORT_USED_PROVIDER, TORCH_CUDA, "
            "GPU_NAME, MISSING (comma-separated) and INSTALL_COMMAND, for models and scripts."
        )

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_REPORT, self.tr("Report"), fileFilter="Text (*.txt)", optional=True,
            createByDefault=True))
        strings = (
            (self.QGIS_VERSION, self.tr("QGIS version")),
            (self.PYTHON_VERSION, self.tr("Python version")),
            (self.NUMPY_VERSION, self.tr("numpy version")),
            (self.GDAL_VERSION, self.tr("GDAL version")),
            (self.TORCH_VERSION, self.tr("torch version")),
            (self.ONNXRUNTIME_VERSION, self.tr("onnxruntime version")),
            (self.ORT_PROVIDERS, self.tr("onnxruntime execution providers")),
            (self.ORT_USED_PROVIDER, self.tr("Provider the test model ran on")),
            (self.GPU_NAME, self.tr("GPU name")),
            (self.MISSING, self.tr("Missing packages")),
            (self.INSTALL_COMMAND, self.tr("Install command")),
        )
        for name, label in strings:
            self.addOutput(QgsProcessingOutputString(name, label))
        self.addOutput(QgsProcessingOutputBoolean(self.TORCH_CUDA, self.tr("torch can use CUDA")))

    def processAlgorithm(self, parameters, context, feedback):
        from ..environment import collect, format_report, install_command

        output = self.parameterAsFileOutput(parameters, self.OUTPUT_REPORT, context)

        def step(fraction: float) -> None:
            feedback.setProgress(100 * fraction)
            if feedback.isCanceled():
                raise QgsProcessingException(self.tr("Cancelled: no report was written"))

        report = collect(Qgis.QGIS_VERSION, step=step)
        text = format_report(report)
        for line in text.splitlines():
            feedback.pushInfo(line)
        if output:
            _write_text(output, text)
        feedback.setProgress(100)
        results = {
            self.OUTPUT_REPORT: output or None,
            self.QGIS_VERSION: report.qgis_version,
            self.PYTHON_VERSION: report.python_version,
            self.ORT_PROVIDERS: ",".join(report.ort_available_providers),
            self.ORT_USED_PROVIDER: (report.ort_used_providers or [""])[0],
            self.TORCH_CUDA: report.torch_cuda,
            self.GPU_NAME: (report.gpu_names or [""])[0],
            self.MISSING: ",".join(report.missing),
            self.INSTALL_COMMAND: install_command(report.missing, bool(report.nvidia_smi_gpus or report.gpu_names)),
        }
        for key, package in self.VERSIONS.items():
            results[key] = report.packages[package].version or ""
        return results


def _write_text(path: str, text: str) -> None:
    """Temp file beside ``path``, then rename: never a half-written report."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".rsseg_env.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
