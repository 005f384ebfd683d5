"""Configuration shared by every pretraining method (no torch import: QGIS reads the
fields to build its parameter forms when the plugin loads)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

LR_SCALINGS = ("sqrt", "linear", "none")


@dataclass
class PretrainConfig:
    """Fields every pretraining method shares; each method's config dataclass extends it."""

    inputs: list[str] = field(default_factory=list)   # raster files or folders
    bands: list[int] = field(default_factory=list)    # 1-based; empty = all bands
    patch_size: int = 128
    batch_size: int = 16
    epochs: int = 10
    patches_per_epoch: int = 0                        # 0 = about one pass over the imagery
    learning_rate: float = 1e-3                       # peak LR for lr_reference_batch patches (see lr_scaling)
    lr_reference_batch: int = 0                       # batch the learning_rate is given for; 0 = used as is
    lr_scaling: str = "sqrt"                          # LR vs global batch B: "sqrt" x sqrt(B/ref), "linear" x B/ref
    weight_decay: float = 1e-4
    warmup_fraction: float = 0.05                     # linear LR warm-up, as a share of all steps, then cosine
    warmup_steps: int = 0                             # > 0: warm-up length in steps instead of warmup_fraction
    backbone: str = "resnet18"
    seed: int = 0
    num_workers: int = 0
    device: str = "auto"
    diagnostics_every: int = 0                        # steps between diagnostic PNGs (0 = per epoch)


def scaled_learning_rate(config: PretrainConfig, world_size: int = 1) -> float:
    """Peak learning rate for the global batch ``batch_size * world_size``.

    Published recipes give a rate for a reference batch (SimCLR/GraSS 4.8 at 256, SDCluster
    1.25e-3 at 128). A user on a CPU trains with 16-32 patches, where linear scaling
    (Goyal et al. 2017) makes the steps 8-16x smaller than the recipe's; square-root scaling
    keeps the gradient-noise scale of the recipe for adaptive and LARS-normalised updates
    (Krizhevsky 2014; Chen et al. 2020, SimCLR appendix B.1; Malladi et al. 2022 for Adam),
    and is our default. ``lr_reference_batch = 0`` uses ``learning_rate`` as given.

    >>> scaled_learning_rate(PretrainConfig(learning_rate=4.8, lr_reference_batch=256, batch_size=64))
    2.4
    """
    if config.lr_reference_batch <= 0 or config.lr_scaling == "none":
        return config.learning_rate
    ratio = config.batch_size * world_size / config.lr_reference_batch
    return config.learning_rate * (ratio ** 0.5 if config.lr_scaling == "sqrt" else ratio)


def warmup_steps_for(config: PretrainConfig, total_steps: int) -> int:
    """Warm-up length: ``warmup_steps`` when set, else ``warmup_fraction`` of the run, so a
    short run is never all warm-up (a fixed 100 steps was longer than a 32-step run)."""
    if config.warmup_steps > 0:
        return min(config.warmup_steps, max(0, total_steps - 1))
    return int(round(config.warmup_fraction * total_steps))


def validate_schedule(config: PretrainConfig) -> None:
    """ValueError naming the parameter for learning-rate settings that cannot train."""
    if not config.learning_rate > 0:
        raise ValueError(f"LEARNING_RATE must be greater than 0, got {config.learning_rate}")
    if config.lr_scaling not in LR_SCALINGS:
        raise ValueError(f"LR_SCALING: unknown {config.lr_scaling!r}; use one of {', '.join(LR_SCALINGS)}")
    if not 0 <= config.warmup_fraction < 1:
        raise ValueError(f"WARMUP_FRACTION must be in [0, 1), got {config.warmup_fraction}")


# Fields the runner sets from its own parameters; the rest of a method's config fields are
# exposed as "advanced" parameters by the CLI and the Processing algorithms.
COMMON_FIELDS = tuple(PretrainConfig.__dataclass_fields__)


# ----------------------------------------------------------------------------- text -> field value
# The CLI (--field-name VALUE), the Processing forms (advanced string/number parameters) and
# the benchmarks (--set METHOD.FIELD=VALUE) all turn text into a config field's value; this is
# the one rule for it, so the same text means the same thing everywhere.
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")
_ITEM_TYPES = {"int": int, "float": float, "str": str}


def list_item_type(f: dataclasses.Field, default: Any = None) -> type | None:
    """Element type of a list field: its default's first item, else its annotation
    (``list[int]``, also as the string ``from __future__ import annotations`` leaves);
    None for nested or unknown lists, which are not settable from text."""
    if default:
        return type(default[0])
    annotation = str(f.type).replace(" ", "").replace("typing.", "")
    for prefix in ("list[", "List[", "tuple[", "Tuple["):
        if annotation.startswith(prefix):
            inner = annotation[len(prefix):-1].removesuffix(",...")
            return _ITEM_TYPES.get(inner)
    return None


def parse_field_value(cls: type, name: str, text: str) -> Any:
    """The value of field ``name`` of config dataclass ``cls`` written as ``text``, typed like
    the field's default: booleans as 1/0, true/false, yes/no, on/off; lists as items separated
    by commas and/or spaces (empty text = empty list). Raises ValueError naming the field as
    the user sees it (in capitals) and the expected form."""
    fields_by_name = {f.name: f for f in dataclasses.fields(cls)}
    if name not in fields_by_name:
        raise ValueError(f"{cls.__name__} has no field {name!r}; known: {', '.join(fields_by_name)}")
    f = fields_by_name[name]
    default = getattr(cls(), name)
    text = str(text).strip()
    label = name.upper()
    if isinstance(default, bool):
        if text.lower() in TRUE_WORDS:
            return True
        if text.lower() in FALSE_WORDS:
            return False
        raise ValueError(f"{label}: expected true or false, got {text!r}")
    if isinstance(default, (list, tuple)):
        item = list_item_type(f, default)
        if item is None:
            raise ValueError(f"{label}: this field cannot be set from text")
        try:
            return [item(part) for part in text.replace(",", " ").split()]
        except ValueError:
            raise ValueError(f"{label}: expected a comma-separated list of {item.__name__}, got {text!r}") from None
    if isinstance(default, (int, float)):
        try:
            return type(default)(text)
        except ValueError:
            raise ValueError(f"{label}: expected {'an integer' if isinstance(default, int) else 'a number'}, "
                             f"got {text!r}") from None
    return text
