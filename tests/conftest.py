"""Shared test set-up: import paths, the `slow` marker, a headless QGIS, small data makers.

* ``engine``, ``training`` and ``plugin`` import from the repo root, as in the plugin.
* ``qgis_app`` (session): one QgsApplication without GUI, Processing initialised and the
  rsseg provider registered through the real entry point (``classFactory(None)`` then
  ``initProcessing()``), as qgis_process does.
* ``rsseg_provider``: the registered provider.

Fixtures only: tests import their helpers (``write_geotiff``, ``make_onnx_model``, ``REPO``,
...) from ``tests/helpers.py`` and ``tests/helpers_*.py``, never from this file, which
pytest imports under its own name (importing it again as a module made a second copy).
"""
from __future__ import annotations

import os
import sys

import pytest
from helpers import QGIS_PLUGINS, REPO, load_rsseg_package

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
if os.path.isdir(QGIS_PLUGINS) and QGIS_PLUGINS not in sys.path:
    sys.path.append(QGIS_PLUGINS)
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than ~20 s; excluded from `make test` (run `make test-slow`)")


@pytest.fixture(scope="session")
def qgis_app(tmp_path_factory):
    """A headless QgsApplication with Processing and the rsseg provider loaded.

    Its settings live in a throw-away profile, so tests that change settings (the locale)
    never touch the user's QGIS profile.
    """
    from qgis.core import QgsApplication

    app = QgsApplication.instance()
    if app is None:
        os.environ["QGIS_CUSTOM_CONFIG_PATH"] = str(tmp_path_factory.mktemp("qgis_config"))
        app = QgsApplication([], False)
        app.initQgis()
    from processing.core.Processing import Processing

    Processing.initialize()
    plugin = load_rsseg_package().classFactory(None)
    plugin.initProcessing()
    app.rsseg_plugin = plugin  # keep a reference: the provider lives as long as the plugin
    yield app
    plugin.unload()


@pytest.fixture
def rsseg_provider(qgis_app):
    """The registered provider, looked up per test (a test may unload and reload the plugin)."""
    from qgis.core import QgsApplication

    provider = QgsApplication.processingRegistry().providerById("rsseg")
    assert provider is not None, "the rsseg provider was not registered"
    return provider


