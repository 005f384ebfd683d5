"""Optional Python dependencies, checked when an algorithm runs, never at plugin load.

QGIS must load rsseg even when onnxruntime or torch is missing; the algorithms that need
them then explain exactly what to install.
"""
from __future__ import annotations

import importlib.util

INSTALL_HINT = (
    "Run 'make setup' in the rsseg plugin folder (it installs torch==2.13.0, onnxruntime and onnx "
    "where QGIS's Python finds them), or install them yourself into QGIS's Python: "
    "python3 -m pip install --user {packages}"
)

PIP_NAMES = {"torch": "torch==2.13.0", "onnxruntime": "onnxruntime", "onnx": "onnx", "rasterio": "rasterio"}


def missing_modules(*modules: str) -> list[str]:
    """Names among ``modules`` that cannot be imported (found without importing them)."""
    return [m for m in modules if importlib.util.find_spec(m) is None]


def missing_message(missing: list[str]) -> str:
    """One clear sentence naming what is missing and how to install it."""
    packages = " ".join(PIP_NAMES.get(m, m) for m in missing)
    return f"rsseg needs the Python package(s) {', '.join(missing)}, which QGIS cannot import. " + INSTALL_HINT.format(
        packages=packages
    )
