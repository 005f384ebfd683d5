"""The DDPM denoiser: a UNet that predicts the noise added to an image, for any band count.

Layout (Ho et al. 2020, "Denoising Diffusion Probabilistic Models"), level ``i`` working at
stride ``2**i`` with ``base_channels * channel_mults[i]`` channels:

    t -> sinusoidal embedding -> MLP ------------------------------+ (added in every ResBlock)
    x_t -> conv3x3                                                 |
      down level 0 .. L-1:  blocks_per_level x ResBlock [+ attention]   (each output kept as a skip)
                            then a stride-2 conv (except the last level)
      middle:               ResBlock, attention, ResBlock
      up level L-1 .. 0:    (blocks_per_level + 1) x [concat skip, ResBlock] [+ attention]
                            -> decoder feature at stride 2**i (what Diff-HRNet reads)
                            then nearest upsample + conv3x3 (except level 0)
      GroupNorm, SiLU, conv3x3 -> epsilon (same bands as the input)

Downsampling rounds up and upsampling goes back to the skip's exact size, so any input size
works (no multiple-of-32 constraint). Attention is written with plain matmuls so the
network exports to ONNX (opset 17) with dynamic batch and spatial dimensions.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class DenoiserSpec:
    """Everything needed to rebuild a denoiser; stored in checkpoints as a plain dict."""

    in_channels: int = 3
    base_channels: int = 32
    channel_mults: list[int] = field(default_factory=lambda: [1, 1, 2, 2, 4, 4])
    blocks_per_level: int = 1
    attention_levels: list[int] = field(default_factory=lambda: [4])
    norm_groups: int = 8
    dropout: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain values for the checkpoint (torch.load with weights_only reads only those)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DenoiserSpec:
        """Rebuild from a checkpoint's dict, ignoring keys this version does not know."""
        names = set(cls.__dataclass_fields__)
        return cls(**{k: (list(v) if isinstance(v, tuple) else v) for k, v in data.items() if k in names})


# Presets: "small" trains on a laptop CPU in minutes; "large" is the DDPM-256 layout at
# half width, for a GPU (about 1/2 of the 113 M parameters of Ho et al.'s LSUN model).
PRESETS: dict[str, dict[str, Any]] = {
    "small": dict(base_channels=32, channel_mults=[1, 1, 2, 2, 4, 4], blocks_per_level=1,
                  attention_levels=[4], norm_groups=8),
    "large": dict(base_channels=64, channel_mults=[1, 1, 2, 2, 4, 4], blocks_per_level=2,
                  attention_levels=[4, 5], norm_groups=32),
}


def group_count(channels: int, wanted: int) -> int:
    """The largest group count <= ``wanted`` that divides ``channels``."""
    return math.gcd(channels, max(1, wanted))


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Transformer-style sinusoidal embedding of (B,) timesteps into (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    angles = t.float()[:, None] * freqs[None, :]
    emb = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)
    if dim % 2:
        emb = F.pad(emb, (0, 1))
    return emb


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv, plus the time embedding, GroupNorm-SiLU-conv, residual."""

    def __init__(self, in_ch: int, out_ch: int, time_dim: int, groups: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(group_count(in_ch, groups), in_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.time = nn.Linear(time_dim, out_ch)
        self.norm2 = nn.GroupNorm(group_count(out_ch, groups), out_ch)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)  # each block starts as the identity
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Identity() if in_ch == out_ch else nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        """Residual block conditioned on the timestep embedding (added after the first convolution)."""
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time(temb)[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class SelfAttention(nn.Module):
    """Single-head self-attention over all pixels of a (low-resolution) feature map."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(group_count(channels, groups), channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)
        self.scale = channels ** -0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Self-attention over the pixels, residual, for the global context of the coarse levels."""
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).flatten(2).chunk(3, dim=1)       # (B, C, N) each
        weights = torch.softmax(torch.matmul(q.transpose(1, 2), k) * self.scale, dim=-1)  # (B, N, N)
        out = torch.matmul(v, weights.transpose(1, 2)).reshape(b, c, h, w)
        return x + self.proj(out)


class Downsample(nn.Module):
    """Halve the resolution with a strided convolution (learned, unlike pooling)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, C, H/2, W/2)."""
        return self.conv(x)


class Upsample(nn.Module):
    """Nearest upsampling to the skip's exact size (odd sizes survive), then a conv."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, size: torch.Tensor | tuple[int, int]) -> torch.Tensor:
        """Nearest upsampling to the skip connection's size, then a convolution."""
        return self.conv(F.interpolate(x, size=size, mode="nearest"))


class Level(nn.Module):
    """ResBlocks of one resolution with optional attention after each."""

    def __init__(self, blocks: list[ResBlock], attention: bool, groups: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.attentions = nn.ModuleList(
            [SelfAttention(b.conv2.out_channels, groups) if attention else nn.Identity() for b in blocks]
        )


class UNetDenoiser(nn.Module):
    """Epsilon-predicting UNet; ``forward(x_t, t)`` -> predicted noise, ``features`` ->
    decoder maps by stride (what Diff-HRNet fuses into HRNet)."""

    def __init__(self, spec: DenoiserSpec) -> None:
        super().__init__()
        if spec.in_channels < 1:
            raise ValueError("the denoiser needs at least one input band")
        if not spec.channel_mults or any(int(m) < 1 for m in spec.channel_mults):
            raise ValueError(f"CHANNEL_MULTS must be positive integers, got {spec.channel_mults}")
        self.spec = spec
        base, groups, n_blocks = spec.base_channels, spec.norm_groups, spec.blocks_per_level
        widths = [base * int(m) for m in spec.channel_mults]
        levels = len(widths)
        bad = [a for a in spec.attention_levels if not 0 <= int(a) < levels]
        if bad:
            raise ValueError(f"ATTENTION_LEVELS {bad} outside the UNet's levels 0..{levels - 1}")
        attn = {int(a) for a in spec.attention_levels}
        time_dim = 4 * base
        self.time_mlp = nn.Sequential(nn.Linear(base, time_dim), nn.SiLU(), nn.Linear(time_dim, time_dim))
        self.conv_in = nn.Conv2d(spec.in_channels, base, 3, padding=1)

        skip_channels = [base]
        ch = base
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        for i, width in enumerate(widths):
            blocks = []
            for _ in range(n_blocks):
                blocks.append(ResBlock(ch, width, time_dim, groups, spec.dropout))
                ch = width
                skip_channels.append(ch)
            self.down.append(Level(blocks, i in attn, groups))
            if i < levels - 1:
                self.downsample.append(Downsample(ch))
                skip_channels.append(ch)

        self.mid1 = ResBlock(ch, ch, time_dim, groups, spec.dropout)
        self.mid_attn = SelfAttention(ch, groups)
        self.mid2 = ResBlock(ch, ch, time_dim, groups, spec.dropout)

        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i in reversed(range(levels)):
            blocks = []
            for _ in range(n_blocks + 1):
                blocks.append(ResBlock(ch + skip_channels.pop(), widths[i], time_dim, groups, spec.dropout))
                ch = widths[i]
            self.up.append(Level(blocks, i in attn, groups))
            if i > 0:
                self.upsample.append(Upsample(ch))
        self.out_norm = nn.GroupNorm(group_count(ch, groups), ch)
        self.conv_out = nn.Conv2d(ch, spec.in_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)
        self.widths = widths

    @property
    def decoder_strides(self) -> list[int]:
        """Strides of the decoder features, finest first: 1, 2, 4, ..."""
        return [2**i for i in range(len(self.widths))]

    def decoder_channels(self, stride: int) -> int:
        """Channels of the decoder feature map at ``stride``, for the fusion layers of Diff-HRNet."""
        return self.widths[self.decoder_strides.index(stride)]

    def _run(self, x: torch.Tensor, t: torch.Tensor,
             keep: set[int] | None) -> tuple[torch.Tensor | None, dict[int, torch.Tensor]]:
        temb = self.time_mlp(timestep_embedding(t, self.spec.base_channels))
        h = self.conv_in(x)
        skips = [h]
        for i, level in enumerate(self.down):
            for block, attention in zip(level.blocks, level.attentions):
                h = attention(block(h, temb))
                skips.append(h)
            if i < len(self.downsample):
                h = self.downsample[i](h)
                skips.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, temb)), temb)
        features: dict[int, torch.Tensor] = {}
        levels = len(self.widths)
        for j, level in enumerate(self.up):
            i = levels - 1 - j
            for block, attention in zip(level.blocks, level.attentions):
                h = attention(block(torch.cat([h, skips.pop()], dim=1), temb))
            if keep is not None and 2**i in keep:
                features[2**i] = h
                if min(keep) == 2**i:  # nothing finer is wanted: skip the expensive full-res levels
                    return None, features
            if i > 0:
                h = self.upsample[j](h, skips[-1].shape[-2:])
        return self.conv_out(F.silu(self.out_norm(h))), features

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Predicted noise epsilon for noisy images ``x_t`` (B, C, H, W) at timesteps ``t`` (B,)."""
        eps, _ = self._run(x_t, t, None)
        return eps

    def features(self, x_t: torch.Tensor, t: torch.Tensor,
                 strides: list[int] | tuple[int, ...]) -> dict[int, torch.Tensor]:
        """Decoder feature maps at the requested strides (each must be one of
        :attr:`decoder_strides`); the levels finer than the finest requested are not run."""
        missing = [s for s in strides if s not in self.decoder_strides]
        if missing:
            raise ValueError(f"the denoiser has decoder strides {self.decoder_strides}; {missing} are not among them")
        _, feats = self._run(x_t, t, set(strides))
        return feats


def build_denoiser(spec: DenoiserSpec | dict[str, Any]) -> UNetDenoiser:
    """A denoiser from its spec or its checkpoint dict."""
    return UNetDenoiser(spec if isinstance(spec, DenoiserSpec) else DenoiserSpec.from_dict(spec))
