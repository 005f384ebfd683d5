#!/usr/bin/env bash
# Regenerate the translation sources from the plugin's code and compile them.
#
#   bash scripts/update_translations.sh            (or: make translations)
#
# pylupdate5 (Debian: pyqt5-dev-tools) collects every self.tr("...") (context: the class
# the call is written in), QCoreApplication.translate("Context", "...") and
# QT_TRANSLATE_NOOP("Context", "...") from the QGIS-side sources into i18n/rsseg_<lang>.ts,
# keeping the translations already there. Translate the new entries (Qt Linguist, or edit
# the <translation> elements), then run this again: lrelease (Debian: qttools5-dev-tools)
# compiles each .ts into the .qm file plugin/i18n.py loads.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
LANGUAGES=(${RSSEG_LANGUAGES:-zh_CN})

for tool in pylupdate5 lrelease; do
    command -v "$tool" >/dev/null || { echo "$tool not found: apt-get install pyqt5-dev-tools qttools5-dev-tools (or make setup)" >&2; exit 1; }
done

# The QGIS side only: engine/ and training/ never show text in QGIS's language.
mapfile -t SOURCES < <(find __init__.py plugin -name '*.py' -not -path '*/__pycache__/*' | sort)
TS_FILES=()
for lang in "${LANGUAGES[@]}"; do TS_FILES+=("i18n/rsseg_${lang}.ts"); done

mkdir -p i18n
# pylupdate5 prints a DeprecationWarning under Python 3.11; it is harmless.
PYTHONWARNINGS=ignore pylupdate5 -noobsolete "${SOURCES[@]}" -ts "${TS_FILES[@]}"
for ts in "${TS_FILES[@]}"; do
    # QT_SELECT: qtchooser's lrelease needs to know which Qt when several are installed
    QT_SELECT="${QT_SELECT:-qt5}" lrelease -silent "$ts" -qm "${ts%.ts}.qm"
    total=$(grep -c '<source>' "$ts" || true)
    unfinished=$(grep -c 'type="unfinished"' "$ts" || true)
    echo "$ts: $total strings, $unfinished untranslated"
done
