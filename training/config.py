"""Configuration shared by every pretraining method (no torch import: QGIS reads the
fields to build its parameter forms when the plugin loads)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PretrainConfig:
    """Fields every pretraining method shares; each method's config dataclass extends it."""

    inputs: list[str] = field(default_factory=list)   # raster files or folders
    bands: list[int] = field(default_factory=list)    # 1-based; empty = all bands
    patch_size: int = 128
    batch_size: int = 16
    epochs: int = 10
    patches_per_epoch: int = 0                        # 0 = about one pass over the imagery
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 0                             # linear LR warm-up before the cosine decay
    backbone: str = "resnet18"
    seed: int = 0
    num_workers: int = 0
    device: str = "auto"
    diagnostics_every: int = 0                        # steps between diagnostic PNGs (0 = per epoch)


# Fields the runner sets from its own parameters; the rest of a method's config fields are
# exposed as "advanced" parameters by the CLI and the Processing algorithms.
COMMON_FIELDS = tuple(PretrainConfig.__dataclass_fields__)
