"""Guards every run passes before it touches a user's files (no torch, no qgis here).

* :func:`check_outputs_distinct`: no output may be an input, or another output, of the
  same run, however the path is spelt (relative, symlinked, other case on Windows, hard
  link). Called for every Processing algorithm by ``plugin/algorithms/base.py`` and for
  every command of ``python -m training``.
* :func:`open_raster` / :func:`check_rasters`: the one way user rasters are opened; a
  0-byte, truncated or foreign file becomes a message naming the parameter and the file.
* :func:`check_value_range`: a raster whose values are far outside what the model was
  trained on (a uint16 scene into a uint8 model) is refused or warned about.
* :func:`check_training_settings`: EPOCHS < 1 and LEARNING_RATE <= 0 train nothing.
* :func:`public_config` and :func:`csv_cell`: what leaves the machine (a model card, a
  spreadsheet) carries no folder names and no formulas.

The rules are written down in docs/safety.md.
"""
from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

PathLike = str | os.PathLike
RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".img", ".jp2", ".png", ".jpg", ".jpeg")
AUX_SUFFIX = ".aux.xml"  # GDAL's side-car: statistics, nodata, and for PNG/JPEG often the georeferencing


# ----------------------------------------------------------------------------- outputs vs inputs
def path_key(path: PathLike) -> str:
    """The identity of a path for comparison: absolute, symlinks resolved, case folded where the OS folds it."""
    return os.path.normcase(os.path.realpath(os.path.abspath(os.path.expanduser(os.fspath(path)))))


def _same_file(a: str, b: str) -> bool:
    if path_key(a) == path_key(b):
        return True
    try:  # hard links, case-insensitive file systems on Linux/macOS
        return os.path.samefile(a, b)
    except OSError:
        return False


def _input_files(path: str) -> list[str]:
    """A path given as input, plus the rasters inside it when it is a folder (what will be read)."""
    found = [path]
    if os.path.isdir(path):
        try:
            found += [os.path.join(path, n) for n in sorted(os.listdir(path)) if n.lower().endswith(RASTER_SUFFIXES)]
        except OSError:
            pass
    return found


def _as_list(value: PathLike | Sequence[PathLike] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (str, os.PathLike)):
        value = [value]
    return [os.fspath(v) for v in value if v not in (None, "")]


def _clash(out_name: str, out_path: str, in_name: str, candidate: str, given: str) -> str | None:
    """Why writing ``out_path`` would damage input ``candidate`` (a file of ``given``), or None.

    Besides the same file, GDAL's side-cars count: an output written over an input's
    ``.aux.xml`` changes what GDAL reads of that input, and a raster output writes its own
    ``.aux.xml`` beside it, which must not be an input either.
    """
    where = "" if candidate == given else f" (a raster in {given})"
    if _same_file(out_path, candidate):
        return f"{out_name}: {out_path} is the same file as {in_name}{where}; writing it would destroy that input"
    if _same_file(out_path, candidate + AUX_SUFFIX):
        return (f"{out_name}: {out_path} is GDAL's side-car of {in_name}{where} (its metadata); writing it would "
                "damage that input")
    if _same_file(out_path + AUX_SUFFIX, candidate):
        return (f"{out_name}: GDAL may write {os.path.basename(out_path)}{AUX_SUFFIX} beside {out_path}, and that "
                f"file is {in_name}{where}; writing it would destroy that input")
    return None


def check_outputs_distinct(
    inputs: Mapping[str, PathLike | Sequence[PathLike] | None],
    outputs: Mapping[str, PathLike | None],
) -> None:
    """Raise ValueError naming both parameters when an output would overwrite an input or another output.

    ``inputs`` maps parameter names to a path or a list of paths (folders stand for the
    rasters they hold); ``outputs`` maps parameter names to the path each would write.
    GDAL's ``.aux.xml`` side-cars of inputs and outputs are compared too (:func:`_clash`).
    Empty values are skipped. An output that is an existing folder is refused as well.
    """
    chosen = {name: os.fspath(path) for name, path in outputs.items() if path not in (None, "")}
    for out_name, out_path in chosen.items():
        for in_name, value in inputs.items():
            for given in _as_list(value):
                for candidate in _input_files(given):
                    clash = _clash(out_name, out_path, in_name, candidate, given)
                    if clash:
                        raise ValueError(f"{clash}: choose another file name for {out_name}")
    for name, path in chosen.items():
        if os.path.isdir(path):
            raise ValueError(f"{name}: {path} is a folder; give a file name inside it")
    names = list(chosen)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            if _same_file(chosen[first], chosen[second]):
                raise ValueError(
                    f"{second}: {chosen[second]} is also {first}; two outputs of one run cannot share a file: "
                    f"choose different names for {first} and {second}"
                )


def check_outputs_writable(outputs: Mapping[str, PathLike | None]) -> None:
    """Refuse, before any work, an output whose folder cannot be written (hours of training lost at the first save)."""
    for name, path in outputs.items():
        if path in (None, ""):
            continue
        folder = os.path.dirname(os.path.abspath(os.fspath(path)))
        while folder and not os.path.exists(folder):  # missing folders are made on writing
            parent = os.path.dirname(folder)
            folder = "" if parent == folder else parent
        if folder and not os.path.isdir(folder):
            raise ValueError(f"{name}: {folder} is a file, not a folder; choose an output path in a folder")
        if folder and not os.access(folder, os.W_OK):
            raise ValueError(f"{name}: cannot write in {folder}; choose a folder you can write to")


# ----------------------------------------------------------------------------- checked opening
def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def open_raster(path: PathLike, parameter: str, probe: bool = True):
    """``rasterio.open(path)`` whose failures name ``parameter`` and the file.

    With ``probe``, the first and the last block of band 1 are read too: a truncated
    GeoTIFF opens fine and only fails where its data is missing, mid-run.
    """
    import rasterio
    from rasterio.windows import Window

    text = os.fspath(path)
    if not os.path.exists(text):
        raise ValueError(f"{parameter}: {text} does not exist; choose an existing raster file")
    if os.path.isfile(text) and os.path.getsize(text) == 0:
        raise ValueError(f"{parameter}: {text} is an empty file (0 bytes); it is no raster: replace it or remove it")
    try:
        src = rasterio.open(text)
    except Exception as exc:  # noqa: BLE001 - GDAL/rasterio raise several kinds for foreign or damaged files
        raise ValueError(f"{parameter}: GDAL cannot read {text} ({_first_line(exc)}); "
                         "check that it is a raster file (GeoTIFF, VRT, ...) and not damaged") from None
    if probe:
        try:
            if src.count < 1:
                raise ValueError("it has no band")
            width, height = min(src.width, 64), min(src.height, 64)
            src.read(1, window=Window(0, 0, width, height))
            src.read(1, window=Window(src.width - width, src.height - height, width, height))
        except Exception as exc:  # noqa: BLE001 - GDAL/rasterio raise many kinds for damaged pixels
            src.close()
            raise ValueError(f"{parameter}: {text} opens but its pixels cannot be read ({_first_line(exc)}); "
                             "the file is probably truncated: copy or export it again") from None
    return src


def check_rasters(paths: Iterable[PathLike], parameter: str) -> None:
    """Open and probe every raster of ``paths`` (see :func:`open_raster`), then close them."""
    for path in paths:
        open_raster(path, parameter).close()


def check_band_count(path: PathLike, bands: Sequence[int], parameter: str, source: str) -> None:
    """Refuse a raster lacking a band that ``source`` (a checkpoint, a model) reads."""
    with open_raster(path, parameter, probe=False) as src:
        count = src.count
    missing = [b for b in bands if not 1 <= int(b) <= count]
    if missing:
        raise ValueError(
            f"{parameter}: {Path(os.fspath(path)).name} has {count} band{'s' if count != 1 else ''} but {source} "
            f"reads bands {list(bands)} (band {missing[0]} is missing); choose a raster with those bands"
        )


# ----------------------------------------------------------------------------- value range
VALUE_RANGE_STDS = 5.0      # the training range recorded at export: mean +- 5 standard deviations
HOPELESS_STDS = 20.0        # a band median this far from the training mean: refuse
OUTSIDE_WARN_SHARE = 0.05   # more valid pixels than this outside the training range: warn
NARROW_WARN_RATIO = 0.02    # input spread below 2 % of the training spread: warn (0..1 floats into a 0..255 model)


def value_range_from_normalization(offset: Sequence[float], scale: Sequence[float],
                                   stds: float = VALUE_RANGE_STDS) -> list[list[float]]:
    """Per band ``[low, high]`` = mean -/+ ``stds`` standard deviations of the training pixels."""
    return [[float(o) - stds * float(s), float(o) + stds * float(s)] for o, s in zip(offset, scale)]


def sample_pixels(src, bands: Sequence[int], window=None, windows: int = 8, size: int = 128,
                  seed: int = 0) -> np.ndarray:
    """(bands, N) float64 valid pixels from a few random windows inside ``window`` (a rasterio Window or None).

    Small on purpose (8 windows of 128 px: ~130 000 values): it runs before every segmentation,
    whose memory must not depend on the raster's size.
    """
    from rasterio.windows import Window

    row0, col0 = (int(window.row_off), int(window.col_off)) if window is not None else (0, 0)
    height, width = (int(window.height), int(window.width)) if window is not None else (src.height, src.width)
    rng = np.random.default_rng(seed)
    h, w = min(size, height), min(size, width)
    chunks = []
    for _ in range(windows):
        row = row0 + int(rng.integers(0, height - h + 1))
        col = col0 + int(rng.integers(0, width - w + 1))
        pixels = src.read(list(bands), window=Window(col, row, w, h), masked=True)
        keep = ~np.ma.getmaskarray(pixels).any(axis=0)
        values = np.asarray(pixels.data[:, keep], dtype=np.float64)
        chunks.append(values[:, np.isfinite(values).all(axis=0)])
    return np.concatenate(chunks, axis=1) if chunks else np.zeros((len(bands), 0))


def check_value_range(
    pixels: np.ndarray,
    offset: Sequence[float],
    scale: Sequence[float],
    value_range: Sequence[Sequence[float]] | None,
    bands: Sequence[int],
    warn: Callable[[str], None],
    refuse: bool = True,
) -> None:
    """Compare an input sample with what the model saw in training.

    ``pixels`` (bands, N) raw values; ``offset``/``scale`` the card's normalisation (the
    training mean/std); ``value_range`` the card's per-band training range (derived from
    the normalisation when absent). A band whose median lies more than
    :data:`HOPELESS_STDS` training standard deviations from the training mean is refused
    (ValueError naming INPUT), or only warned about when ``refuse`` is False (models
    without an rsseg card, whose range is a guess). Warnings: many pixels outside the
    range, or a spread far narrower than in training.
    """
    if pixels.size == 0:
        return
    ranges = value_range or value_range_from_normalization(offset, scale)
    for i, band in enumerate(bands):
        values = pixels[i]
        mean, std = float(offset[i]), abs(float(scale[i])) or 1.0
        low, high = (float(v) for v in ranges[i])
        median = float(np.median(values))
        distance = abs(median - mean) / std
        summary = (f"band {band} of INPUT has median {median:g}, the model was trained on values around {mean:g} "
                   f"(typical range {low:g} to {high:g})")
        if distance > HOPELESS_STDS and math.isfinite(distance):
            message = (f"INPUT: {summary}: its results would be meaningless. Rescale the raster to the training "
                       "data's range and type (e.g. 8-bit vs 16-bit), or use a model trained on such imagery")
            if refuse:
                raise ValueError(message)
            warn(message)
            continue
        outside = float(np.mean((values < low) | (values > high)))
        if outside > OUTSIDE_WARN_SHARE:
            warn(f"{summary}; {outside:.0%} of the sampled pixels are outside it: the class map may be wrong")
        spread = float(np.percentile(values, 98) - np.percentile(values, 2))
        if spread < NARROW_WARN_RATIO * std and std > 1.0:
            warn(f"{summary}, but its values vary by only {spread:g}: is it scaled differently "
                 "(e.g. reflectance 0..1 against 0..255)? The class map may be wrong")


# ----------------------------------------------------------------------------- training settings
# config field -> smallest usable value (its parameter is the field in capitals), and why
SETTING_MINIMUMS: dict[str, tuple[float, str]] = {
    "epochs": (1, "a run without epochs writes no checkpoint"),
    "batch_size": (1, "a batch holds at least one patch"),
    "patch_size": (8, "a patch must be a few pixels wide"),
    "patches_per_epoch": (0, "0 means about one pass over the imagery"),
    "num_workers": (0, "0 reads patches in the main process"),
    "weight_decay": (0.0, "0 switches it off"),
    "warmup_steps": (0, "0 uses the warm-up fraction"),
}


def check_training_settings(config: Any) -> None:
    """Settings of a training config that would train nothing (or crash in torch): refused up front.

    EPOCHS < 1 used to report a checkpoint that was never written, LEARNING_RATE 0 trained
    nothing without a word, and a negative NUM_WORKERS or WEIGHT_DECAY reached the user as
    torch's own message without the parameter's name.
    """
    for field, (minimum, why) in SETTING_MINIMUMS.items():
        value = getattr(config, field, None)
        if value is None:
            continue
        if isinstance(minimum, int) and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
            raise ValueError(f"{field.upper()}: expected a whole number, got {value!r}")
        if not math.isfinite(float(value)) or value < minimum:
            raise ValueError(f"{field.upper()}: must be at least {minimum}, got {value} ({why})")
    rate = getattr(config, "learning_rate", None)
    if rate is not None and not (math.isfinite(float(rate)) and float(rate) > 0):
        raise ValueError(f"LEARNING_RATE: must be greater than 0, got {rate} (0 or less learns nothing)")


# ----------------------------------------------------------------------------- what leaves the machine
def _public_value(value: Any) -> Any:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, str):
        if "/" in value or "\\" in value:  # POSIX or Windows separators, whatever this machine uses
            return re.split(r"[\\/]", value.rstrip("/\\"))[-1] or value
        return value
    if isinstance(value, (list, tuple)):
        return [_public_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _public_value(v) for k, v in value.items()}
    return value


def public_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A training config with every file path reduced to its base name.

    Model cards travel with shared models; folder names (``/home/alice/projects/...``)
    would tell strangers about the trainer's machine and mean nothing on theirs.
    """
    return {k: _public_value(v) for k, v in config.items()}


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: Any) -> str:
    """A text cell a spreadsheet will not run: leading = + - @ (tab, CR) get a ``'`` in front (OWASP)."""
    value = str(text)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def check_model_input(src, bands: Sequence[int], region, card, offset: Sequence[float], scale: Sequence[float],
                      log: Callable[[str], None]) -> None:
    """:func:`check_value_range` for one segmentation run: a sample of ``region`` against ``card``.

    Only a card that records its training range (``rsseg_value_range``, written by every
    rsseg export) can refuse; older rsseg cards (range from their normalisation) and
    Deepness cards (8-bit input, as Deepness assumes) only warn.
    """
    if card.value_range is not None and len(card.value_range) == len(bands):
        ranges, refuse = card.value_range, True
    elif card.band_offset is not None:
        ranges, refuse = None, False
    else:
        ranges, refuse = [[0.0, 255.0]] * len(bands), False
    pixels = sample_pixels(src, bands, region)
    check_value_range(pixels, offset, scale, ranges, bands, lambda message: log("WARNING: " + message), refuse)
