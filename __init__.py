"""QGIS entry point of the rsseg plugin.

QGIS (and ``qgis_process``, which passes ``iface=None``) imports this file as the package
``rsseg`` and calls :func:`classFactory`. Two path changes happen first, because the rest
of the code is written against them:

* the plugin folder goes on ``sys.path`` so that ``engine``, ``training`` and ``plugin``
  import as top-level packages (the same names scripts and tests use);
* the folder's ``.venv/lib/python3.X/site-packages`` (made by ``make setup``) is APPENDED
  when it exists, so torch/onnxruntime/onnx installed there are found while QGIS's own
  numpy and GDAL bindings, earlier on the path, still win;
* except for a few pure-Python packages that torch needs in versions newer than Debian's
  (Debian 12's sympy 1.11 lacks what torch 2.13 imports): those, and only those, are
  looked up in the venv first, through a small import finder (:data:`VENV_FIRST`).

Nothing here installs packages, opens dialogs or imports torch: loading must be cheap and
must succeed even when the optional packages are missing.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from pathlib import Path

PLUGIN_DIR = Path(__file__).resolve().parent

# Top-level packages taken from the venv before the system's: torch's own pure-Python
# dependencies that QGIS does not use. numpy, GDAL, PyQt and rasterio are never listed.
VENV_FIRST = ("sympy", "mpmath", "networkx", "filelock", "fsspec")


def venv_site_packages(plugin_dir: Path = PLUGIN_DIR) -> Path:
    """Where ``make setup`` puts the plugin's Python packages, for the running Python."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return plugin_dir / ".venv" / "lib" / version / "site-packages"


class VenvFirstFinder(importlib.abc.MetaPathFinder):
    """Finds the listed top-level packages in one folder (their submodules follow through
    the package's ``__path__``); every other import goes on as usual."""

    rsseg_venv_first = True  # recognised across plugin reloads (the class is redefined)

    def __init__(self, names, folder: Path):
        self.names = frozenset(names)
        self.folder = str(folder)

    def find_spec(self, fullname, path=None, target=None):
        """The venv's copy of the listed modules only; None lets the normal search find the rest."""
        if fullname not in self.names:
            return None
        return importlib.machinery.PathFinder.find_spec(fullname, [self.folder])


def setup_paths(plugin_dir: Path = PLUGIN_DIR) -> None:
    """Make ``engine``/``training``/``plugin`` importable and the venv's packages findable."""
    folder = str(plugin_dir)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    site = venv_site_packages(plugin_dir)
    if not site.is_dir():
        return
    if str(site) not in sys.path:
        sys.path.append(str(site))
    names = [n for n in VENV_FIRST if (site / n).is_dir() or (site / f"{n}.py").is_file()]
    sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "rsseg_venv_first", False)]
    if names:
        sys.meta_path.insert(0, VenvFirstFinder(names, site))


def classFactory(iface):
    """Called by QGIS with its interface, or with None from qgis_process."""
    setup_paths()
    from plugin.plugin import RssegPlugin

    return RssegPlugin(iface)
