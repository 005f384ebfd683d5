"""QGIS entry point of the rsseg plugin.

QGIS (and ``qgis_process``, which passes ``iface=None``) imports this file as the package
``rsseg`` and calls :func:`classFactory`. Two path changes happen first, because the rest
of the code is written against them:

* the plugin folder goes on ``sys.path`` so that ``engine``, ``training`` and ``plugin``
  import as top-level packages (the same names scripts and tests use);
* the folder's ``.venv/lib/python3.X/site-packages`` (made by ``make setup``) is APPENDED
  when it exists, so torch/onnxruntime/onnx installed there are found while QGIS's own
  numpy and GDAL bindings, earlier on the path, still win.

Nothing here installs packages, opens dialogs or imports torch: loading must be cheap and
must succeed even when the optional packages are missing.
"""
from __future__ import annotations

import sys
from pathlib import Path

PLUGIN_DIR = Path(__file__).resolve().parent


def venv_site_packages(plugin_dir: Path = PLUGIN_DIR) -> Path:
    """Where ``make setup`` puts the plugin's Python packages, for the running Python."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return plugin_dir / ".venv" / "lib" / version / "site-packages"


def setup_paths(plugin_dir: Path = PLUGIN_DIR) -> None:
    """Make ``engine``/``training``/``plugin`` importable and the venv's packages findable."""
    folder = str(plugin_dir)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    site = venv_site_packages(plugin_dir)
    if site.is_dir() and str(site) not in sys.path:
        sys.path.append(str(site))


def classFactory(iface):  # noqa: N802 (QGIS API name)
    """Called by QGIS with its interface, or with None from qgis_process."""
    setup_paths()
    from plugin.plugin import RssegPlugin

    return RssegPlugin(iface)
