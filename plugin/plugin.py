"""The object QGIS holds for the plugin: registers the Processing provider.

``initProcessing`` is what qgis_process calls (with no GUI); QGIS Desktop calls
``initGui``, which does the same. The plugin adds nothing but the provider: every tool is
a Processing algorithm, found in the toolbox under "rsseg".
"""
from __future__ import annotations

from qgis.core import QgsApplication

from .i18n import install_translator, remove_translator
from .provider import RssegProvider


class RssegPlugin:
    """What QGIS loads: registers the Processing provider; the plugin has no GUI of its own."""

    def __init__(self, iface=None):
        self.iface = iface
        self.provider: RssegProvider | None = None

    def initProcessing(self) -> None:
        """Install the translator, then register the provider (once)."""
        if self.provider is not None:
            return
        install_translator()
        self.provider = RssegProvider()
        QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:
        self.initProcessing()

    def unload(self) -> None:
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
            remove_translator()
