"""The model card: everything needed to run a model, stored inside the ONNX file.

An ONNX file carries a ``custom_metadata_map`` of string keys to string values. rsseg
stores JSON values there, using the keys of the Deepness QGIS plugin where they exist (so
Deepness models run in rsseg and rsseg models run in Deepness) plus a few of its own.

Deepness keys (read and written):
    model_type            "Segmentor" (rsseg clusters are "Segmentor" too)
    class_names           {"0": "name", ...}  (a JSON list is accepted when reading)
    resolution            ground resolution in cm/px the model was trained at
    tiles_size            tile edge in pixels ("tile_size" is read as a synonym)
    tiles_overlap         overlap between tiles in percent of the tile
    standardization_mean  per band, applied after dividing by 255
    standardization_std   per band, applied after dividing by 255

rsseg keys (all prefixed ``rsseg_``):
    rsseg_bands           1-based band indices of the raster the model reads, in order
    rsseg_band_offset     per band; the model sees (value - offset) / scale
    rsseg_band_scale      per band
    rsseg_class_colors    [[r, g, b], ...] one per class
    rsseg_nodata          raster value treated as nodata when the raster declares none
    rsseg_value_range     per band [low, high] of the training pixels (mean -/+ 5 std); inputs
                          far outside it are refused (engine.safeguards.check_value_range)
    rsseg_outputs         "probabilities" (softmax/sigmoid inside the graph) or "logits"
    rsseg_task            "segmentation" or "clusters"
    rsseg_method          how the weights were made: "supervised", "grass", "sdcluster", ...
    rsseg_config          the method's configuration dataclass, as a JSON object (file paths
                          reduced to their base names: a shared model tells nothing of folders)
    rsseg_version         card format version

Rules for models without rsseg keys (documented in docs/model_card.md):
    * bands: the first N raster bands, N = the model's input channel count;
    * scaling: value / 255, then (v - standardization_mean) / standardization_std
      (mean 0, std 1 when absent), as Deepness does;
    * outputs are probabilities (Deepness models end in softmax or sigmoid); a single
      output channel is a sigmoid foreground probability (two classes);
    * class names "class 0", "class 1", ... and the default palette.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

from .safeguards import public_config

CARD_VERSION = 1
DEEPNESS_MODEL_TYPE = "Segmentor"

# Well-separated colours (Glasbey-like) so neighbouring classes and clusters stay apart.
DEFAULT_PALETTE: tuple[tuple[int, int, int], ...] = (
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
    (0, 128, 128), (220, 190, 255), (170, 110, 40), (255, 250, 200), (128, 0, 0),
    (170, 255, 195), (128, 128, 0), (255, 215, 180), (0, 0, 128), (128, 128, 128),
)


def default_color(index: int) -> tuple[int, int, int]:
    """Colour for class ``index``: the palette first, then a deterministic golden-ratio walk."""
    if index < len(DEFAULT_PALETTE):
        return DEFAULT_PALETTE[index]
    hue = (index * 0.618033988749895) % 1.0
    # simple HSV(h, 0.75, 0.9) -> RGB without colorsys-style branching surprises
    import colorsys

    r, g, b = colorsys.hsv_to_rgb(hue, 0.75, 0.9)
    return (int(r * 255), int(g * 255), int(b * 255))


@dataclass
class ModelCard:
    """What the engine needs to know to run a model, and how it was made."""

    class_names: list[str] = field(default_factory=list)
    class_colors: list[tuple[int, int, int]] = field(default_factory=list)
    bands: list[int] | None = None           # 1-based; None = first N bands of the raster
    band_offset: list[float] | None = None   # None = Deepness rule (value/255 - mean)/std
    band_scale: list[float] | None = None
    standardization_mean: list[float] | None = None
    standardization_std: list[float] | None = None
    tile_size: int | None = None
    tile_overlap_percent: float | None = None
    resolution_cm: float | None = None
    nodata: float | None = None
    value_range: list[list[float]] | None = None  # per band [low, high] seen in training
    outputs: str = "probabilities"           # or "logits"
    task: str = "segmentation"               # or "clusters"
    method: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)  # unknown keys, kept verbatim

    # ---------------------------------------------------------------- derived values
    def names_for(self, n_classes: int) -> list[str]:
        """Class names padded to ``n_classes`` ("class k" for the missing ones)."""
        names = list(self.class_names[:n_classes])
        names += [f"class {k}" for k in range(len(names), n_classes)]
        return names

    def colors_for(self, n_classes: int) -> list[tuple[int, int, int]]:
        """Class colours padded to ``n_classes`` with the default palette."""
        colors = [tuple(int(v) for v in c) for c in self.class_colors[:n_classes]]
        colors += [default_color(k) for k in range(len(colors), n_classes)]
        return colors  # type: ignore[return-value]

    def normalization(self, n_bands: int) -> tuple[list[float], list[float]]:
        """Per-band (offset, scale) so that the model input is ``(value - offset) / scale``.

        rsseg cards give them directly; Deepness cards give mean/std after a division by
        255, which is the same affine map with offset = 255*mean and scale = 255*std.
        """
        if self.band_offset is not None and self.band_scale is not None:
            offset, scale = list(self.band_offset), list(self.band_scale)
        else:
            mean = _per_band(self.standardization_mean, n_bands, 0.0)
            std = _per_band(self.standardization_std, n_bands, 1.0)
            offset = [255.0 * m for m in mean]
            scale = [255.0 * s for s in std]
        if len(offset) != n_bands or len(scale) != n_bands:
            offset, scale = _per_band(offset, n_bands, 0.0), _per_band(scale, n_bands, 1.0)
        if any(s == 0 for s in scale):
            raise ValueError("model card: a band scale (standard deviation) is 0")
        return offset, scale

    # ---------------------------------------------------------------- (de)serialisation
    def to_metadata(self) -> dict[str, str]:
        """The card as ONNX ``metadata_props`` (string -> JSON string), Deepness keys included."""
        meta: dict[str, str] = dict(self.extra)
        meta["model_type"] = json.dumps(DEEPNESS_MODEL_TYPE)
        meta["class_names"] = json.dumps({str(i): n for i, n in enumerate(self.class_names)})
        if self.tile_size is not None:
            meta["tiles_size"] = json.dumps(int(self.tile_size))
            meta["tile_size"] = json.dumps(int(self.tile_size))
        if self.tile_overlap_percent is not None:
            meta["tiles_overlap"] = json.dumps(float(self.tile_overlap_percent))
        if self.resolution_cm is not None:
            meta["resolution"] = json.dumps(float(self.resolution_cm))
        if self.band_offset is not None and self.band_scale is not None:
            # Deepness divides by 255 first: express the same map in its terms.
            meta["standardization_mean"] = json.dumps([o / 255.0 for o in self.band_offset])
            meta["standardization_std"] = json.dumps([s / 255.0 for s in self.band_scale])
            meta["rsseg_band_offset"] = json.dumps([float(v) for v in self.band_offset])
            meta["rsseg_band_scale"] = json.dumps([float(v) for v in self.band_scale])
        elif self.standardization_mean is not None:
            meta["standardization_mean"] = json.dumps(self.standardization_mean)
            meta["standardization_std"] = json.dumps(self.standardization_std or [1.0])
        if self.bands is not None:
            meta["rsseg_bands"] = json.dumps([int(b) for b in self.bands])
        if self.class_colors:
            meta["rsseg_class_colors"] = json.dumps([list(map(int, c)) for c in self.class_colors])
        if self.nodata is not None:
            meta["rsseg_nodata"] = json.dumps(self.nodata)
        if self.value_range is not None:
            meta["rsseg_value_range"] = json.dumps([[float(lo), float(hi)] for lo, hi in self.value_range])
        meta["rsseg_outputs"] = json.dumps(self.outputs)
        meta["rsseg_task"] = json.dumps(self.task)
        if self.method is not None:
            meta["rsseg_method"] = json.dumps(self.method)
        meta["rsseg_config"] = json.dumps(public_config(self.config), default=str)
        meta["rsseg_version"] = json.dumps(CARD_VERSION)
        return meta

    @classmethod
    def from_metadata(cls, meta: Mapping[str, str]) -> ModelCard:
        """Read a card from ONNX metadata; tolerant of Deepness files and plain strings."""
        values = {k: _loads(v) for k, v in meta.items()}
        known = {
            "model_type", "class_names", "tiles_size", "tile_size", "tiles_overlap", "resolution",
            "standardization_mean", "standardization_std", "rsseg_bands", "rsseg_band_offset",
            "rsseg_band_scale", "rsseg_class_colors", "rsseg_nodata", "rsseg_outputs",
            "rsseg_task", "rsseg_method", "rsseg_config", "rsseg_version", "rsseg_value_range",
        }
        tile = values.get("tiles_size", values.get("tile_size"))
        return cls(
            class_names=_class_names(values.get("class_names")),
            class_colors=[tuple(int(v) for v in c) for c in values.get("rsseg_class_colors") or []],
            bands=_int_list(values.get("rsseg_bands")),
            band_offset=_float_list(values.get("rsseg_band_offset")),
            band_scale=_float_list(values.get("rsseg_band_scale")),
            standardization_mean=_float_list(values.get("standardization_mean")),
            standardization_std=_float_list(values.get("standardization_std")),
            tile_size=int(tile) if tile not in (None, "") else None,
            tile_overlap_percent=_optional_float(values.get("tiles_overlap")),
            resolution_cm=_optional_float(values.get("resolution")),
            nodata=_optional_float(values.get("rsseg_nodata")),
            value_range=_ranges(values.get("rsseg_value_range")),
            outputs=str(values.get("rsseg_outputs") or "probabilities"),
            task=str(values.get("rsseg_task") or "segmentation"),
            method=values.get("rsseg_method"),
            config=values.get("rsseg_config") if isinstance(values.get("rsseg_config"), dict) else {},
            extra={k: v for k, v in meta.items() if k not in known},
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for reports and logs)."""
        return asdict(self)


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def _class_names(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, dict):
        return [str(value[k]) for k in sorted(value, key=lambda key: int(key))]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [s.strip() for s in str(value).split(",") if s.strip()]


def _float_list(value: Any) -> list[float] | None:
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)):
        return [float(value)]
    return [float(v) for v in value]


def _int_list(value: Any) -> list[int] | None:
    floats = _float_list(value)
    return None if floats is None else [int(v) for v in floats]


def _ranges(value: Any) -> list[list[float]] | None:
    if not isinstance(value, (list, tuple)) or not value:
        return None
    try:
        return [[float(lo), float(hi)] for lo, hi in value]
    except (TypeError, ValueError):
        return None


def _optional_float(value: Any) -> float | None:
    return None if value in (None, "") else float(value)


def _per_band(values: Sequence[float] | None, n_bands: int, default: float) -> list[float]:
    if not values:
        return [default] * n_bands
    if len(values) == 1:
        return [float(values[0])] * n_bands
    if len(values) < n_bands:
        raise ValueError(f"model card gives {len(values)} per-band values, model reads {n_bands} bands")
    return [float(v) for v in values[:n_bands]]
