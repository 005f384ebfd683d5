"""Device choice, seeding and learning-rate schedules shared by every training run."""
from __future__ import annotations

import math
import random

import numpy as np
import torch


def select_device(name: str = "auto") -> torch.device:
    """'auto' -> CUDA when torch sees a GPU, else CPU; 'cuda' without a GPU is an error."""
    name = (name or "auto").lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError("DEVICE: cuda was asked for but torch sees no CUDA GPU; use auto or cpu")
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise ValueError(f"DEVICE: unknown device {name!r}; use auto, cpu or cuda")


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch so that runs with the same seed repeat."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def warmup_cosine_factor(step: int, total_steps: int, warmup_steps: int) -> float:
    """Learning-rate multiplier: linear warm-up to 1, then cosine decay to 0."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, max(0.0, progress))))


def warmup_cosine_scheduler(
    optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """LambdaLR applying :func:`warmup_cosine_factor` per optimiser step."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: warmup_cosine_factor(step, total_steps, warmup_steps)
    )


def cosine_ramp(step: int, total_steps: int, start: float, end: float) -> float:
    """Value going from ``start`` to ``end`` on a half cosine (EMA momentum schedules)."""
    progress = min(1.0, step / max(1, total_steps))
    return end - (end - start) * 0.5 * (1.0 + math.cos(math.pi * progress))
