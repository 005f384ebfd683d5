"""A tiny, easy labelled scene for the fine-tuning tests: checkerboard classes with
distinct colours, so a few optimiser steps visibly lower the loss."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from helpers import write_geotiff

COLOURS = np.array([[40, 80, 200], [200, 120, 40], [100, 220, 100]])


def scene_arrays(size: int = 128, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(3, size, size) uint8 image and (size, size) uint8 labels with 3 classes."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    label = (((yy // 16) + (xx // 16)) % 2).astype(np.uint8)
    label[((yy // 16) % 4 == 1) & ((xx // 16) % 4 == 2)] = 2
    image = COLOURS[label].transpose(2, 0, 1) + rng.normal(0, 10, (3, size, size))
    return image.clip(0, 255).astype(np.uint8), label


def write_scene(folder: Path, size: int = 128, seed: int = 0, name: str = "scene") -> tuple[Path, Path]:
    image, label = scene_arrays(size, seed)
    return (write_geotiff(folder / f"{name}.tif", image), write_geotiff(folder / f"{name}_labels.tif", label))


def tiny_config(image: Path, label: Path, **overrides):
    """A fine-tuning config that runs in about a second per epoch on one CPU thread."""
    from training.finetune_config import FinetuneConfig

    values = dict(images=[str(image)], labels=[str(label)], epochs=1, batch_size=4, patch_size=32,
                  split_block_size=64, learning_rate=2e-3, warmup_fraction=0.0, device="cpu", seed=0,
                  steps=0, validate_every=0, early_stopping_patience=0)
    values.update(overrides)
    return FinetuneConfig(**values)
