"""Configuration of supervised fine-tuning (no torch import: QGIS reads it at load time).

One dataclass holds every setting of a fine-tuning run; it is saved in the checkpoint and
in the exported ONNX file, so a model always says how it was made.
"""
from __future__ import annotations

from dataclasses import dataclass, field

ARCHITECTURES = ("deeplabv3plus", "hrnet", "diff_hrnet")
CLASS_WEIGHTS = ("none", "balanced")
# which state a finished run writes to the output: "auto" = the last one, unless early stopping ended
# the run (then the best-validation one); "best" = always the best validation; "last" = always the last
KEEP_STATES = ("auto", "best", "last")


@dataclass
class FinetuneConfig:
    """Settings of one fine-tuning run.

    ``images`` and ``labels`` are paired by position: ``labels[i]`` is the label raster of
    ``images[i]`` (any grid or CRS; it is resampled to the image grid, nearest neighbour).
    ``pretrained`` is a pretraining checkpoint (GraSS, SDCluster, diffusion) or a fine-tuned
    one; empty = random initialisation.
    """

    images: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    bands: list[int] = field(default_factory=list)          # 1-based; empty = all (or the pretrained ones)
    class_names: list[str] = field(default_factory=list)    # empty = "class k"
    class_colors: list[list[int]] = field(default_factory=list)
    ignore_index: int = 255                                   # label value that never counts
    architecture: str = "deeplabv3plus"
    backbone: str = "resnet18"
    head: str = "separable"                                   # DeepLabV3+ head: "separable" (published) or "dense"
    pretrained: str = ""
    steps: int = 100                                          # optimiser steps in all; 0 = EPOCHS x steps per epoch
    epochs: int = 20                                          # passes of PATCHES_PER_EPOCH crops (used when STEPS is 0)
    batch_size: int = 4
    patch_size: int = 256                                     # crop edge; also the exported tile size
    patches_per_epoch: int = 0                                # 0 = the kept labelled area once, in crops
    learning_rate: float = 1e-3
    encoder_lr_scale: float = 0.1                             # LR multiplier of a PRETRAINED encoder (1.0 from scratch)
    fusion_lr_scale: float = 10.0                             # Diff-HRNet: LR multiplier of its fusions (start closed)
    weight_decay: float = 1e-4
    warmup_fraction: float = 0.05                             # share of the steps spent warming the LR up, then cosine
    validate_every: int = 25                                  # steps between validations; 0 = once per epoch
    early_stopping_patience: int = 4                          # validations without improvement before stopping; 0 = off
    keep_state: str = "auto"                                  # state written to the output (KEEP_STATES)
    color_jitter: float = 1.0                                 # brightness shift of crops, in band std (0 = off)
    label_fraction: float = 1.0                               # share of labelled training tiles kept
    val_fraction: float = 0.2                                 # share of spatial blocks held out
    split_block_size: int = 256                               # block edge in pixels (at least PATCH_SIZE)
    class_weights: str = "none"                               # "none" or "balanced" (inverse frequency)
    freeze_encoder: bool = False                              # linear probing: train the head only
    amp: bool = True                                          # mixed precision (CUDA only)
    seed: int = 0
    device: str = "auto"
    num_workers: int = 0

    def validate(self) -> None:
        """Raise ValueError naming the parameter for settings that cannot train."""
        if not self.images:
            raise ValueError("INPUT: choose at least one image raster")
        if len(self.labels) != len(self.images):
            raise ValueError(
                f"LABELS: {len(self.labels)} label raster(s) for {len(self.images)} image(s); give one per image"
            )
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"ARCHITECTURE: unknown {self.architecture!r}; use one of {', '.join(ARCHITECTURES)}")
        if self.keep_state not in KEEP_STATES:
            raise ValueError(f"KEEP_STATE: use one of {', '.join(KEEP_STATES)}, got {self.keep_state!r}")
        if self.class_weights not in CLASS_WEIGHTS:
            raise ValueError(f"CLASS_WEIGHTS: use one of {', '.join(CLASS_WEIGHTS)}, got {self.class_weights!r}")
        if not 0.0 < self.label_fraction <= 1.0:
            raise ValueError(f"LABEL_FRACTION must be in (0, 1], got {self.label_fraction}")
        check_val_fraction(self.val_fraction)
        for name in ("epochs", "batch_size", "patch_size", "split_block_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name.upper()} must be at least 1, got {getattr(self, name)}")
        if self.patch_size < 32 or self.patch_size % 16:
            raise ValueError(
                f"PATCH_SIZE must be a multiple of 16 and at least 32 (the network downsamples by 16), "
                f"got {self.patch_size}"
            )
        for name in ("steps", "patches_per_epoch", "validate_every", "early_stopping_patience", "num_workers"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name.upper()} must be 0 or more, got {getattr(self, name)}")
        check_encoder_lr_scale(self.encoder_lr_scale)
        check_fusion_lr_scale(self.fusion_lr_scale)
        if self.color_jitter < 0:
            raise ValueError(f"COLOR_JITTER must be 0 (off) or more, got {self.color_jitter}")
        if not 0.0 <= self.warmup_fraction < 1.0:
            raise ValueError(f"WARMUP_FRACTION must be in [0, 1), got {self.warmup_fraction}")
        if self.learning_rate <= 0:
            raise ValueError(f"LEARNING_RATE must be positive, got {self.learning_rate}")
        if not 0 <= self.ignore_index <= 255:
            raise ValueError(f"IGNORE_INDEX must be in 0..255, got {self.ignore_index}")


def check_encoder_lr_scale(value: float) -> None:
    """Raise ValueError unless ``value`` is a usable ENCODER_LR_SCALE: one rule for the
    Processing form, the CLI and the benchmark, which check it before any run starts."""
    if not 0.0 < value <= 10.0:
        raise ValueError(f"ENCODER_LR_SCALE must be in (0, 10], got {value} (0.1 = a tenth of LEARNING_RATE)")


def check_fusion_lr_scale(value: float) -> None:
    """Raise ValueError unless ``value`` is a usable FUSION_LR_SCALE (Processing form, CLI and
    benchmark share this rule)."""
    if not 0.0 < value <= 100.0:
        raise ValueError(f"FUSION_LR_SCALE must be in (0, 100], got {value} (1 = LEARNING_RATE, as the rest)")


def check_val_fraction(value: float) -> None:
    """Raise ValueError unless ``value`` is a usable VAL_FRACTION (0 = no validation: train on
    every labelled block and keep the last state); the benchmark checks it with the same rule."""
    if not 0.0 <= value < 1.0:
        raise ValueError(f"VAL_FRACTION must be in [0, 1), got {value}")


def parse_classes(text: str | None) -> tuple[list[str], list[list[int]]]:
    """'water:#0000ff, trees, roads:#808080' -> names and colours (empty colours for none given).

    Colours are optional per class; when at least one is given, missing ones are left
    for the default palette (returned as empty lists in place, filled by the model card).
    """
    names: list[str] = []
    colors: list[list[int]] = []
    if not text or not str(text).strip():
        return names, colors
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        name, _, colour = part.partition(":")
        names.append(name.strip())
        colour = colour.strip()
        if colour:
            hexa = colour.lstrip("#")
            if len(hexa) != 6:
                raise ValueError(f"CLASSES: colour {colour!r} of {name.strip()!r} must look like #rrggbb")
            try:
                colors.append([int(hexa[i:i + 2], 16) for i in (0, 2, 4)])
            except ValueError:
                raise ValueError(f"CLASSES: colour {colour!r} of {name.strip()!r} must look like #rrggbb") from None
        else:
            colors.append([])
    if all(not c for c in colors):
        colors = []
    return names, colors
