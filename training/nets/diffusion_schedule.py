"""The DDPM noise schedule, shared by diffusion pretraining and Diff-HRNet.

It lives with the networks because :mod:`training.nets.diff_hrnet` noises its input exactly
as the denoiser was trained, and networks must not import the training methods (a method
imports its networks, not the other way round). :mod:`training.methods.diffusion` imports
it from here. ``BETA_SCHEDULES`` names what :data:`training.methods.diffusion_config.SCHEDULES`
offers in the forms (that module cannot import torch; a test keeps the two equal).
"""
from __future__ import annotations

import math

import torch

BETA_SCHEDULES = ("linear", "cosine")


def linear_betas(timesteps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """Ho et al.'s linear betas, rescaled so that any T gives about the same process as T = 1000."""
    scale = 1000.0 / timesteps
    return torch.linspace(beta_start * scale, min(beta_end * scale, 0.999), timesteps, dtype=torch.float64)


def cosine_betas(timesteps: int, s: float = 0.008) -> torch.Tensor:
    """Nichol & Dhariwal's cosine schedule: abar_t = cos^2(((t/T + s) / (1 + s)) pi / 2)."""
    steps = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps
    abar = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
    betas = 1 - abar[1:] / abar[:-1]
    return betas.clamp(max=0.999)


def alphas_cumprod(schedule: str, timesteps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """abar_t for t = 0..T-1 (float64) of the named schedule."""
    if timesteps < 2:
        raise ValueError(f"TIMESTEPS must be at least 2, got {timesteps}")
    if schedule == "linear":
        betas = linear_betas(timesteps, beta_start, beta_end)
    elif schedule == "cosine":
        betas = cosine_betas(timesteps)
    else:
        raise ValueError(f"SCHEDULE: unknown {schedule!r}; use one of {', '.join(BETA_SCHEDULES)}")
    return torch.cumprod(1.0 - betas, dim=0)


def q_sample(x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, abar: torch.Tensor) -> torch.Tensor:
    """Noisy images x_t of clean images ``x0`` at timesteps ``t`` (B,) with ``noise``."""
    a = abar.to(x0.device, x0.dtype)[t][:, None, None, None]
    return a.sqrt() * x0 + (1 - a).sqrt() * noise
