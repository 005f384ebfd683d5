#!/usr/bin/env bash
# What `make setup` runs: everything rsseg needs, installed only where missing.
#
#   1. Debian packages: QGIS 3.22 with its Python bindings, rasterio, the Qt translation
#      tools and python3-venv (apt-get, non-interactive; as root, or with passwordless sudo).
#   2. .venv: /usr/bin/python3 -m venv --system-site-packages, so QGIS's own Python modules
#      (qgis, numpy, GDAL, rasterio) are used, plus torch==2.13.0 (CPU), onnxruntime
#      (onnxruntime-gpu when nvidia-smi lists a GPU), onnx and pytest from requirements.txt.
#      numpy is constrained to the system's version so pip never replaces it (numpy 2 in
#      QGIS's path breaks GDAL's bindings). pip is skipped while the stamp matches.
#   3. QGIS Desktop: the checkout is linked into the default profile as plugins/rsseg and
#      enabled ([PythonPlugins] rsseg=true), so it shows in the Processing Toolbox.
#
# Idempotent, fast when everything is there, needs no stdin (works under CI=true).
# Environment: RSSEG_SKIP_APT=1 skips step 1; RSSEG_SKIP_PROFILE=1 skips step 3 (the
# default under CI=true: a CI clone is temporary, so the desktop profile keeps its link;
# tests use scripts/qgis_process, which has a profile of its own);
# RSSEG_ORT=onnxruntime|onnxruntime-gpu forces the onnxruntime flavour.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
SYSTEM_PYTHON=/usr/bin/python3
VENV="$REPO/.venv"
APT_PACKAGES=(qgis python3-qgis python3-rasterio pyqt5-dev-tools qttools5-dev-tools python3-venv)
QGIS_CONFIG_ROOT="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}/.local/share/QGIS/QGIS3"

log() { echo "[setup] $*"; }
die() { echo "[setup] ERROR: $*" >&2; exit 1; }

# ----------------------------------------------------------------------- 1. apt packages
install_apt_packages() {
    local missing=() package
    for package in "${APT_PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$package")
        fi
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        log "Debian packages present"
        return
    fi
    command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get: install QGIS 3.22+ with Python bindings, rasterio and python3-venv yourself"
    local sudo=()
    if [[ "$(id -u)" != 0 ]]; then
        if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            die "missing Debian packages ${missing[*]}; run as root: apt-get install ${missing[*]}"
        fi
    fi
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -q
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
}

# ----------------------------------------------------------------------- 2. the venv
venv_is_usable() {
    # made over the system Python, with its site-packages visible, and still runnable
    [[ -x "$VENV/bin/python" && -f "$VENV/pyvenv.cfg" ]] || return 1
    grep -Eq '^include-system-site-packages *= *true' "$VENV/pyvenv.cfg" || return 1
    local want have
    want="$("$SYSTEM_PYTHON" -c 'import sys; print(sys.version_info[:2])')"
    have="$("$VENV/bin/python" -c 'import sys; print(sys.version_info[:2])' 2>/dev/null)" || return 1
    [[ "$want" == "$have" ]]
}

make_venv() {
    if venv_is_usable; then
        log ".venv present"
        return
    fi
    log "creating .venv (--system-site-packages over $SYSTEM_PYTHON)"
    "$SYSTEM_PYTHON" -m venv --clear --system-site-packages "$VENV"
    rm -f "$VENV/.rsseg-requirements.sha256"
}

onnxruntime_flavour() {
    if [[ -n "${RSSEG_ORT:-}" ]]; then
        echo "$RSSEG_ORT"
    elif command -v nvidia-smi >/dev/null && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
        echo onnxruntime-gpu
    else
        echo onnxruntime
    fi
}

install_python_packages() {
    local numpy_version ort other stamp_file wanted constraints
    numpy_version="$("$SYSTEM_PYTHON" -c 'import numpy; print(numpy.__version__)')" \
        || die "the system Python has no numpy (apt-get install python3-numpy)"
    ort="$(onnxruntime_flavour)"
    other=onnxruntime-gpu; [[ "$ort" == onnxruntime-gpu ]] && other=onnxruntime
    stamp_file="$VENV/.rsseg-requirements.sha256"
    wanted="$( { cat requirements.txt; echo "$ort numpy==$numpy_version"; "$VENV/bin/python" -V; } | sha256sum | cut -d' ' -f1)"
    if [[ -f "$stamp_file" && "$(cat "$stamp_file")" == "$wanted" ]]; then
        log "Python packages up to date (requirements.txt unchanged; $ort)"
        return
    fi
    constraints="$VENV/rsseg-constraints.txt"
    echo "numpy==$numpy_version" > "$constraints"
    if "$VENV/bin/python" -m pip show -q "$other" >/dev/null 2>&1; then
        log "removing $other (both flavours install the same 'onnxruntime' module)"
        "$VENV/bin/python" -m pip uninstall -y -q "$other"
    fi
    log "installing Python packages into .venv (numpy pinned to the system's $numpy_version; $ort)"
    PIP_NO_INPUT=1 "$VENV/bin/python" -m pip install -q --upgrade-strategy only-if-needed \
        -c "$constraints" -r requirements.txt "$ort"
    # Fail here, not in QGIS, if something did not land.
    "$VENV/bin/python" -c 'import numpy, torch, onnx, onnxruntime, rasterio
from osgeo import gdal
assert numpy.__file__.startswith("/usr/lib/python3/"), "numpy must stay the system one: " + numpy.__file__'
    echo "$wanted" > "$stamp_file"
}

# ----------------------------------------------------------------------- 3. QGIS profile
install_into_profile() {
    "$SYSTEM_PYTHON" "$REPO/scripts/enable_plugin.py" --config-root "$QGIS_CONFIG_ROOT" \
        --plugin-dir "$REPO" --name rsseg | sed 's/^/[setup] /'
}

if [[ "${RSSEG_SKIP_APT:-0}" != 1 ]]; then install_apt_packages; fi
make_venv
install_python_packages
if [[ "${RSSEG_SKIP_PROFILE:-${CI:-0}}" =~ ^(1|true)$ ]]; then
    log "QGIS profile left as it is (CI or RSSEG_SKIP_PROFILE)"
else
    install_into_profile
fi
log "done: open QGIS > Processing Toolbox > rsseg, or run scripts/qgis_process list"
