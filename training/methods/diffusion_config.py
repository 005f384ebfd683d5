"""Configuration of diffusion (DDPM) pretraining, the first stage of Diff-HRNet.

No torch import: QGIS reads these fields to build the Processing form at plugin load.

What is published and what we chose (see docs/diff_hrnet.md): the paper pretrains a DDPM
on unlabeled imagery but publishes no code, schedule or UNet size. We follow Ho et al.
(2020): epsilon prediction, T = 1000, linear betas 1e-4..0.02 (cosine schedule of Nichol &
Dhariwal as an option), EMA of the weights, Adam at 2e-4 without weight decay. The UNet
size comes from ``preset``; any of the architecture fields set to a non-zero / non-empty
value overrides the preset.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from training.config import PretrainConfig

PRESETS = ("small", "large")
SCHEDULES = ("linear", "cosine")


@dataclass
class DiffusionConfig(PretrainConfig):
    """Fields of :class:`training.config.PretrainConfig` plus the diffusion-specific ones.

    Defaults are CPU-friendly: 64 px patches, the "small" UNet (about 4 M parameters).
    The number of optimiser steps is ``epochs * patches_per_epoch / batch_size``; to train
    for a given number of steps set ``patches_per_epoch = steps * batch_size`` and
    ``epochs = 1``.
    """

    patch_size: int = 64
    batch_size: int = 8
    epochs: int = 5
    learning_rate: float = 2e-4                 # Ho et al. (Adam, batch 128); not scaled with the batch
    lr_scaling: str = "none"
    weight_decay: float = 0.0
    warmup_fraction: float = 0.05               # was a fixed 100 steps: longer than a short CPU run
    backbone: str = "unet"                      # not a ResNet: the denoiser is the backbone

    # denoiser architecture
    preset: str = "small"                       # "small" (CPU) or "large" (GPU)
    base_channels: int = 0                      # 0 = from preset
    channel_mults: list[int] = field(default_factory=list)      # empty = from preset
    blocks_per_level: int = 0                   # 0 = from preset
    attention_levels: list[int] = field(default_factory=list)   # empty = from preset; -1 = none
    dropout: float = 0.0

    # diffusion process
    timesteps: int = 1000                       # T
    schedule: str = "linear"                    # "linear" (Ho et al.) or "cosine" (Nichol & Dhariwal)
    beta_start: float = 1e-4                    # linear schedule, for T = 1000 (rescaled for other T)
    beta_end: float = 0.02
    ema_decay: float = 0.999                    # EMA of the weights; Diff-HRNet uses the EMA copy
    grad_clip: float = 1.0                      # 0 = no clipping

    # sanity samples written next to the checkpoint
    sample_count: int = 4
    sample_steps: int = 50                      # DDIM steps for the sample grid (T = full DDPM chain)
    sample_eta: float = 0.0                     # 0 = deterministic DDIM, 1 = DDPM-like ancestral noise
    sample_clip: float = 4.0                    # clip predicted x0 to +-this (data is standardised); 0 = off
