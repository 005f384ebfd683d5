"""Optional Python dependencies, checked when an algorithm runs, never at plugin load.

QGIS must load rsseg even when onnxruntime or torch is missing; the algorithms that need
them then explain exactly what to install.
"""
from __future__ import annotations

import importlib.util

from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP, QCoreApplication

# Debian 12 refuses 'pip install --user' into the system Python (PEP 668), so the manual
# route is the same .venv that make setup makes: the plugin appends its site-packages.
INSTALL_HINT = QT_TRANSLATE_NOOP(
    "RssegAlgorithm",
    "Run 'make setup' in the rsseg plugin folder (it installs torch==2.13.0, onnxruntime and onnx "
    "where QGIS's Python finds them), or install them yourself into a venv in the plugin folder, "
    "which rsseg adds to QGIS's path: /usr/bin/python3 -m venv --system-site-packages .venv && "
    ".venv/bin/python -m pip install {packages}"
)

PIP_NAMES = {"torch": "torch==2.13.0", "onnxruntime": "onnxruntime", "onnx": "onnx", "rasterio": "rasterio"}


def missing_modules(*modules: str) -> list[str]:
    """Names among ``modules`` that cannot be imported (found without importing them)."""
    return [m for m in modules if importlib.util.find_spec(m) is None]


def missing_message(missing: list[str]) -> str:
    """One clear sentence naming what is missing and how to install it, in QGIS's language."""
    packages = " ".join(PIP_NAMES.get(m, m) for m in missing)
    needs = QCoreApplication.translate("RssegAlgorithm",
                                       "rsseg needs the Python package(s) {}, which QGIS cannot import.")
    hint = QCoreApplication.translate("RssegAlgorithm", INSTALL_HINT)
    return needs.format(", ".join(missing)) + " " + hint.format(packages=packages)
