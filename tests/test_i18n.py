"""Translations follow QGIS's locale setting: with zh_CN the algorithms show Chinese names."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from helpers import REPO

TS_FILE = REPO / "i18n" / "rsseg_zh_CN.ts"
QM_FILE = REPO / "i18n" / "rsseg_zh_CN.qm"


def ts_translations(path=TS_FILE) -> dict[tuple[str, str], str]:
    """(context, source) -> finished translation, read from a Qt .ts file."""
    table = {}
    for context in ET.parse(path).getroot().iter("context"):
        name = context.findtext("name")
        for message in context.iter("message"):
            translation = message.find("translation")
            finished = translation is not None and translation.get("type") not in ("unfinished", "obsolete")
            if finished and translation.text:
                table[(name, message.findtext("source"))] = translation.text
    return table


@pytest.fixture
def locale_settings(qgis_app):
    """Set QGIS's locale for one test, then go back to English."""
    from qgis.core import QgsSettings

    from plugin.i18n import install_translator

    settings = QgsSettings()

    def use(locale: str | None, override: bool = True):
        settings.setValue("locale/overrideFlag", override)
        settings.setValue("locale/userLocale", locale or "")
        return install_translator()

    yield use
    settings.remove("locale/overrideFlag")
    settings.remove("locale/userLocale")
    install_translator("en_US")


def test_compiled_qm_matches_the_ts_source(qgis_app):
    """Every finished translation in the .ts is in the .qm (else: run update_translations.sh)."""
    from qgis.PyQt.QtCore import QTranslator

    table = ts_translations()
    assert table, "rsseg_zh_CN.ts has no finished translation"
    translator = QTranslator()
    assert translator.load(str(QM_FILE))
    stale = [source[:50] for (context, source), text in table.items() if translator.translate(context, source) != text]
    assert not stale, f"i18n/rsseg_zh_CN.qm is older than the .ts; run scripts/update_translations.sh ({stale[:3]})"


def test_locale_setting_picks_the_qm_file(locale_settings):
    from plugin.i18n import translation_file

    assert locale_settings("zh_CN") == str(QM_FILE)
    # without the override flag QGIS follows the system language, not userLocale
    from qgis.PyQt.QtCore import QLocale

    system = translation_file(QLocale().name())
    assert locale_settings("zh_CN", override=False) == (str(system) if system else None)
    assert locale_settings("en_US") is None
    assert translation_file("zh_TW") is None and translation_file("de") is None


def test_algorithm_names_switch_to_chinese(rsseg_provider, locale_settings):
    table = ts_translations()
    locale_settings("en_US")
    algorithms = rsseg_provider.algorithms()
    english = {alg.id(): (type(alg).__name__, alg.displayName(), alg.group()) for alg in algorithms}
    translatable = {i: v for i, v in english.items() if (v[0], v[1]) in table}
    if not translatable:
        pytest.skip(f"no loaded algorithm has a translated name yet (loaded: {sorted(english)})")

    locale_settings("zh_CN")
    for alg in rsseg_provider.algorithms():
        if alg.id() not in translatable:
            continue
        context, name, group = translatable[alg.id()]
        assert alg.displayName() != name
        assert alg.displayName() == table[(context, name)]
        assert alg.group() == table[("RssegAlgorithm", group)]

    locale_settings("en_US")
    for alg in rsseg_provider.algorithms():
        if alg.id() in translatable:
            assert alg.displayName() == translatable[alg.id()][1]


def _untranslated_raises(path) -> list[str]:
    """``raise QgsProcessingException(...)`` whose message is English text written in place
    (a literal, an f-string or a sum holding one) instead of a tr()/translate() result."""
    import ast

    def english(node) -> bool:
        if isinstance(node, ast.Constant):
            return isinstance(node.value, str) and any(c.isalpha() for c in node.value)
        if isinstance(node, ast.JoinedStr):
            return any(english(part) for part in node.values)
        if isinstance(node, ast.BinOp):
            return english(node.left) or english(node.right)
        return False

    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
                and getattr(node.exc.func, "id", None) == "QgsProcessingException"
                and node.exc.args and english(node.exc.args[0])):
            found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def test_plugin_messages_go_through_tr():
    """Every message the QGIS side raises is translatable (engine/ and training/ stay English: no Qt there)."""
    found = [place for path in sorted((REPO / "plugin").rglob("*.py")) for place in _untranslated_raises(path)]
    assert not found, f"QgsProcessingException with English text not passed through tr(): {found}"


def test_layer_adapter_and_dependency_messages_switch_to_chinese(locale_settings, tmp_path):
    import numpy as np
    from helpers import write_geotiff
    from qgis.core import QgsProcessingException, QgsRasterLayer

    from plugin.dependencies import missing_message
    from plugin.raster_adapter import plan_layer_read

    layer = QgsRasterLayer(str(write_geotiff(tmp_path / "a.tif", np.zeros((64, 64), np.uint8))), "a")
    locale_settings("zh_CN")
    with pytest.raises(QgsProcessingException, match=r"^MAX_PIXELS：.*64 x 64 = 4,096 像元.*（10）"):
        plan_layer_read(layer, None, None, max_pixels=10)
    assert missing_message(["torch"]).startswith("rsseg 需要 Python 包 torch")
    assert "torch==2.13.0" in missing_message(["torch"])
    locale_settings("en_US")
    with pytest.raises(QgsProcessingException, match=r"^MAX_PIXELS: reading 'a' .* 64 x 64 = 4,096 pixels"):
        plan_layer_read(layer, None, None, max_pixels=10)
