"""Translations: load ``i18n/rsseg_<locale>.qm`` for the locale QGIS is set to.

QGIS keeps its language in the settings (``locale/userLocale``, used only when
``locale/overrideFlag`` is true; otherwise the system locale). The translator is installed
on the running QCoreApplication, so it works without a GUI (qgis_process, tests) and every
``tr()`` call made afterwards, including ``displayName()`` of the algorithms, is translated.

The .ts sources and compiled .qm files are made by ``scripts/update_translations.sh``.
"""
from __future__ import annotations

from pathlib import Path

from qgis.PyQt.QtCore import QCoreApplication, QLocale, QTranslator

I18N_DIR = Path(__file__).resolve().parents[1] / "i18n"

# One translator for the process; replaced (not stacked) when the locale changes.
_installed: QTranslator | None = None


def qgis_locale() -> str:
    """The locale QGIS uses, e.g. 'zh_CN' or 'en_US'."""
    from qgis.core import QgsSettings

    settings = QgsSettings()
    override = settings.value("locale/overrideFlag", False, type=bool)
    user_locale = settings.value("locale/userLocale", "", type=str) or ""
    if override and user_locale:
        return user_locale
    # Without the override QGIS follows the system; inside QGIS Desktop QLocale's default
    # is already the language QGIS chose.
    return QLocale().name()


def translation_file(locale: str, folder: Path = I18N_DIR) -> Path | None:
    """The .qm file for ``locale``: exact match first ('zh_CN'), then the language ('zh')."""
    candidates = [locale, locale.split("_")[0]] if locale else []
    for name in candidates:
        path = folder / f"rsseg_{name}.qm"
        if path.is_file():
            return path
    return None


def install_translator(locale: str | None = None) -> str | None:
    """Install the translator for ``locale`` (default: QGIS's); returns the .qm used or None.

    English needs no file: with no match the previous rsseg translator is removed so the
    source strings show.
    """
    global _installed
    app = QCoreApplication.instance()
    if app is None:
        return None
    remove_translator()
    path = translation_file(locale if locale is not None else qgis_locale())
    if path is None:
        return None
    translator = QTranslator()
    if not translator.load(str(path)):
        return None
    app.installTranslator(translator)
    _installed = translator
    return str(path)


def remove_translator() -> None:
    """Take rsseg's translator off the application (plugin unload, locale change)."""
    global _installed
    app = QCoreApplication.instance()
    if app is not None and _installed is not None:
        app.removeTranslator(_installed)
    _installed = None
