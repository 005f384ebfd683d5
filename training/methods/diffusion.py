"""Diffusion (DDPM) pretraining: learn to denoise the user's imagery.

Forward process (Ho et al. 2020): x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, with
eps ~ N(0, I) and abar_t the cumulative product of (1 - beta) under a linear or cosine
schedule. The UNet (:mod:`training.nets.unet_ddpm`) is trained to predict eps (mean
squared error, t uniform in [0, T)). An exponential moving average of its weights is kept
and is what the checkpoint's ``encoder_state`` holds: Diff-HRNet freezes those weights and
reads the decoder's features at small t.

Patches are standardised per band (mean 0, std 1), which matches the unit variance of the
noise, so no extra [-1, 1] scaling is applied.

The sanity check is a grid of images generated from pure noise by DDIM (Song et al. 2021)
in ``sample_steps`` steps: if the samples look like the user's imagery (colours, texture,
roads, roofs), the model has learned something about it.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from training import diagnostics
from training.config import warmup_steps_for
from training.methods.diffusion_config import PRESETS as PRESET_NAMES
from training.methods.diffusion_config import SCHEDULES, DiffusionConfig

# The noise schedule lives with the networks (Diff-HRNet noises its input with it); still importable from here.
from training.nets.diffusion_schedule import alphas_cumprod, q_sample
from training.nets.unet_ddpm import PRESETS, DenoiserSpec, UNetDenoiser
from training.pretrain_loop import PretrainMethod
from training.runtime import warmup_cosine_scheduler


@torch.no_grad()
def ddim_sample(
    model: UNetDenoiser,
    shape: tuple[int, int, int, int],
    abar: torch.Tensor,
    steps: int = 50,
    eta: float = 0.0,
    clip: float = 0.0,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Generate images from pure noise with DDIM over ``steps`` evenly spaced timesteps.

    ``eta`` = 0 is deterministic DDIM; ``eta`` = 1 with ``steps`` = T is the DDPM ancestral
    sampler. ``clip`` > 0 clamps each predicted x0 to [-clip, clip].
    """
    timesteps = abar.numel()
    steps = max(1, min(int(steps), timesteps))
    times = np.linspace(0, timesteps - 1, steps).round().astype(np.int64)[::-1].copy()
    abar = abar.to(device, torch.float32)
    x = torch.randn(shape, generator=generator, device="cpu").to(device)
    for i, t in enumerate(times):
        a_t = abar[t]
        a_prev = abar[times[i + 1]] if i + 1 < len(times) else torch.tensor(1.0, device=device)
        eps = model(x, torch.full((shape[0],), int(t), device=device, dtype=torch.long))
        x0 = (x - (1 - a_t).sqrt() * eps) / a_t.sqrt()
        if clip > 0:
            x0 = x0.clamp(-clip, clip)
            eps = (x - a_t.sqrt() * x0) / (1 - a_t).sqrt()
        sigma = eta * ((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)).clamp(min=0).sqrt()
        direction = (1 - a_prev - sigma**2).clamp(min=0).sqrt() * eps
        x = a_prev.sqrt() * x0 + direction
        if eta > 0 and i + 1 < len(times):
            x = x + sigma * torch.randn(shape, generator=generator, device="cpu").to(device)
    return x


# ----------------------------------------------------------------------------- architecture
def denoiser_spec(config: DiffusionConfig, in_channels: int) -> DenoiserSpec:
    """The UNet of ``config.preset`` with the explicitly set fields overriding it."""
    if config.preset not in PRESET_NAMES:
        raise ValueError(f"PRESET: unknown {config.preset!r}; use one of {', '.join(PRESET_NAMES)}")
    values: dict[str, Any] = dict(PRESETS[config.preset])
    if config.base_channels:
        values["base_channels"] = int(config.base_channels)
    if config.channel_mults:
        values["channel_mults"] = [int(m) for m in config.channel_mults]
    if config.blocks_per_level:
        values["blocks_per_level"] = int(config.blocks_per_level)
    if config.attention_levels:
        values["attention_levels"] = [int(a) for a in config.attention_levels if int(a) >= 0]
    return DenoiserSpec(in_channels=in_channels, dropout=float(config.dropout), **values)


class ClippedAdamW(torch.optim.AdamW):
    """AdamW that clips the global gradient norm first (the loop owns backward and step;
    DDPM training is unstable without clipping, Ho et al. clip at 1)."""

    def __init__(self, params, max_norm: float, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        self.max_norm = max_norm

    def step(self, closure=None):  # type: ignore[override]
        """Clip the gradient norm first: a diverging step on noisy data must not wreck the EMA copy."""
        if self.max_norm > 0:
            params = [p for group in self.param_groups for p in group["params"] if p.grad is not None]
            torch.nn.utils.clip_grad_norm_(params, self.max_norm)
        return super().step(closure)


# ----------------------------------------------------------------------------- method
class DiffusionMethod(PretrainMethod):
    """DDPM with epsilon prediction and an EMA copy of the denoiser."""

    name = "diffusion"

    def __init__(self, config: DiffusionConfig, in_channels: int) -> None:
        super().__init__(config, in_channels)
        self.validate(config)
        self.spec = denoiser_spec(config, in_channels)
        self.denoiser = UNetDenoiser(self.spec)
        self.ema = copy.deepcopy(self.denoiser)
        self.ema.requires_grad_(False)
        self.register_buffer(
            "abar", alphas_cumprod(config.schedule, config.timesteps, config.beta_start, config.beta_end).float()
        )

    def validate(self, config: DiffusionConfig) -> None:
        """Refuse settings the schedule or the sampler cannot run, naming the parameter."""
        if config.schedule not in SCHEDULES:
            raise ValueError(f"SCHEDULE: unknown {config.schedule!r}; use one of {', '.join(SCHEDULES)}")
        if config.preset not in PRESET_NAMES:
            raise ValueError(f"PRESET: unknown {config.preset!r}; use one of {', '.join(PRESET_NAMES)}")
        if config.timesteps < 2:
            raise ValueError(f"TIMESTEPS must be at least 2, got {config.timesteps}")
        if not 0.0 <= config.ema_decay < 1.0:
            raise ValueError(f"EMA_DECAY must be in [0, 1), got {config.ema_decay}")
        if config.sample_steps < 1:
            raise ValueError(f"SAMPLE_STEPS must be at least 1, got {config.sample_steps}")

    def build_optimizer(self, total_steps: int):
        """AdamW without weight decay on the denoiser (Ho et al.), with warm-up then cosine decay."""
        params = [p for p in self.denoiser.parameters() if p.requires_grad]
        optimizer = ClippedAdamW(
            params, max_norm=float(self.config.grad_clip), lr=self.peak_learning_rate(),
            weight_decay=self.config.weight_decay,
        )
        return optimizer, warmup_cosine_scheduler(optimizer, total_steps, warmup_steps_for(self.config, total_steps))

    def training_step(self, batch: torch.Tensor, step: int, total_steps: int) -> tuple[torch.Tensor, dict[str, float]]:
        """Noise a batch at random timesteps and score the predicted noise (mean squared error)."""
        t = torch.randint(0, self.config.timesteps, (batch.shape[0],), device=batch.device)
        noise = torch.randn_like(batch)
        x_t = q_sample(batch, t, noise, self.abar)
        loss = F.mse_loss(self.denoiser(x_t, t), noise)
        return loss, {}

    @torch.no_grad()
    def after_optimizer_step(self, step: int, total_steps: int) -> None:
        """Move the EMA copy towards the weights just updated; that copy is what Diff-HRNet loads."""
        # Warm-up of the decay (as in many DDPM codebases) so short runs still get a useful EMA.
        decay = min(self.config.ema_decay, (1.0 + step) / (10.0 + step))
        for ema_p, p in zip(self.ema.parameters(), self.denoiser.parameters()):
            ema_p.lerp_(p.detach(), 1.0 - decay)
        for ema_b, b in zip(self.ema.buffers(), self.denoiser.buffers()):
            ema_b.copy_(b)

    def encoder_state(self) -> dict[str, torch.Tensor]:
        """The EMA denoiser's weights: what Diff-HRNet freezes and reads features from."""
        return self.ema.state_dict()

    def extra_checkpoint_state(self) -> dict[str, Any]:
        """The denoiser's shape and the noise process, so Diff-HRNet rebuilds and noises the same way."""
        return {"denoiser": self.spec.to_dict(), "diffusion": diffusion_process(self.config)}

    def sample(self, count: int, size: int, generator: torch.Generator | None = None,
               use_ema: bool = True) -> torch.Tensor:
        """``count`` generated (C, size, size) images in the network's normalised units."""
        model = self.ema if use_ema else self.denoiser
        device = self.abar.device
        return ddim_sample(
            model, (count, self.in_channels, size, size), self.abar, self.config.sample_steps,
            self.config.sample_eta, self.config.sample_clip, generator, device,
        )

    def write_diagnostics(self, batch: torch.Tensor, folder: Path, tag: str) -> list[Path]:
        """Top row: real patches; bottom row: EMA samples from noise (same stretch per row)."""
        count = max(1, int(self.config.sample_count))
        generator = torch.Generator().manual_seed(self.config.seed)
        samples = self.sample(count, batch.shape[-1], generator)
        path = Path(folder) / f"diffusion_samples_{tag}.png"
        return [diagnostics.write_samples_png(path, batch[:count], samples, count)]


def diffusion_process(config: DiffusionConfig) -> dict[str, Any]:
    """What Diff-HRNet needs to noise its input the way the denoiser was trained."""
    return {"schedule": config.schedule, "timesteps": int(config.timesteps),
            "beta_start": float(config.beta_start), "beta_end": float(config.beta_end)}


CONFIG_CLASS = DiffusionConfig
METHOD_CLASS = DiffusionMethod
