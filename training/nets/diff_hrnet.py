"""Diff-HRNet: HRNetV2 whose branches are fused with the features of a frozen DDPM denoiser
(Wu et al., IEEE GRSL 2024).

    image x ──────────────────────────────► HRNetV2 stem, stage 1
      │                                        stage 2 ──► fuse(branches 1/4, 1/8)
      │  for each t in timesteps:              stage 3 ──► fuse(branches 1/4 .. 1/16)
      │    x_t = sqrt(abar_t) x + sqrt(1-abar_t) n   stage 4 ──► fuse(branches 1/4 .. 1/32)
      │    frozen UNet decoder(x_t, t) ──► maps at 1/4, 1/8, 1/16, 1/32 ─┘   head -> logits
      │  (concatenated over t per scale, projected by 1x1 conv + BN per stage and branch)

The paper publishes no code; the gaps are filled as documented in docs/diff_hrnet.md:
timesteps {50, 150, 250} and one fixed noise tensor (Baranchuk et al. 2022), fusion after
stages 2, 3 and 4, gated fusion ``b + sigmoid(conv1x1([b, p])) * p`` by default ("add" and
"concat" are options).

Determinism and ONNX: the noise ``n`` is a buffer drawn once from ``noise_seed``; it is a
``noise_tile`` x ``noise_tile`` tile repeated over the input, so any input size works and an
exported graph holds it as a constant: the same input always gives the same output.

The denoiser is frozen: its parameters never require gradients, it runs under no_grad and
stays in eval mode even when the network is put in training mode.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from training.nets.diffusion_schedule import alphas_cumprod
from training.nets.hrnet import HRNET_KWARGS, HRNet, hrnet_kwargs
from training.nets.unet_ddpm import DenoiserSpec, UNetDenoiser

FUSIONS = ("gated", "add", "concat")
BRANCH_STRIDES = (4, 8, 16, 32)
DEFAULTS: dict[str, Any] = {
    "timesteps": [50, 150, 250],
    "fusion": "gated",
    "fusion_stages": [2, 3, 4],
    "noise_seed": 0,
    "noise_tile": 256,
}
DIFF_KWARGS = ("denoiser", "diffusion", *DEFAULTS)


class Fusion(nn.Module):
    """Merges a projected diffusion feature ``p`` into an HRNet branch ``b``.

    gated:  b + sigmoid(conv1x1([b, p])) * p    the branch decides, per pixel and channel,
                                                how much prior to take in
    add:    b + p
    concat: ReLU(BN(conv1x1([b, p])))

    In "gated" and "add", p's BN scale starts at zero, so the network starts as a plain
    HRNet and takes in the denoiser's features only as far as training finds them useful.
    Before, a gate at sigmoid(0) = 0.5 over a full-strength p injected the features into
    every branch from step 0; the first label-efficiency run had Diff-HRNet at 15.5 mIoU
    against HRNet's 23.4 (docs/results_history.md), and a fusion that can only start as HRNet
    removes that cause by construction.
    """

    def __init__(self, kind: str, feature_channels: int, branch_channels: int) -> None:
        super().__init__()
        if kind not in FUSIONS:
            raise ValueError(f"diff_hrnet: fusion must be one of {', '.join(FUSIONS)}, got {kind!r}")
        self.kind = kind
        self.project = nn.Sequential(nn.Conv2d(feature_channels, branch_channels, 1, bias=False),
                                     nn.BatchNorm2d(branch_channels))
        if kind in ("add", "gated"):
            nn.init.zeros_(self.project[1].weight)
        if kind == "gated":
            self.gate = nn.Conv2d(2 * branch_channels, branch_channels, 1)
        if kind == "concat":
            self.merge = nn.Sequential(
                nn.Conv2d(2 * branch_channels, branch_channels, 1, bias=False),
                nn.BatchNorm2d(branch_channels), nn.ReLU(inplace=True),
            )

    def forward(self, branch: torch.Tensor, feature: torch.Tensor) -> torch.Tensor:
        """Add the projected diffusion feature to the branch (gated or plain, as configured)."""
        p = self.project(feature)
        if self.kind == "add":
            return branch + p
        if self.kind == "gated":
            return branch + torch.sigmoid(self.gate(torch.cat([branch, p], dim=1))) * p
        return self.merge(torch.cat([branch, p], dim=1))


class DiffHRNet(nn.Module):
    """(B, in_channels, H, W) -> logits (B, num_classes, H, W), any H and W."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        denoiser: dict[str, Any],
        diffusion: dict[str, Any],
        timesteps: Sequence[int] = (50, 150, 250),
        fusion: str = "gated",
        fusion_stages: Sequence[int] = (2, 3, 4),
        noise_seed: int = 0,
        noise_tile: int = 256,
        **hrnet: Any,
    ) -> None:
        super().__init__()
        spec = DenoiserSpec.from_dict(denoiser)
        if spec.in_channels != in_channels:
            raise ValueError(
                f"BANDS: the diffusion checkpoint was trained on {spec.in_channels} bands but the "
                f"training data gives {in_channels}; select the same {spec.in_channels} bands"
            )
        if fusion not in FUSIONS:
            raise ValueError(f"diff_hrnet: fusion must be one of {', '.join(FUSIONS)}, got {fusion!r}")
        bad = [s for s in fusion_stages if int(s) not in (2, 3, 4)]
        if bad or not fusion_stages:
            raise ValueError("diff_hrnet: fusion_stages must be a non-empty subset of 2, 3, 4; "
                             f"got {list(fusion_stages)}")
        abar = alphas_cumprod(diffusion["schedule"], int(diffusion["timesteps"]),
                              float(diffusion.get("beta_start", 1e-4)), float(diffusion.get("beta_end", 0.02)))
        if not timesteps or any(not 0 <= int(t) < abar.numel() for t in timesteps):
            raise ValueError(f"diff_hrnet: timesteps must lie in [0, {abar.numel()}), got {list(timesteps)}")
        if noise_tile < 32:
            raise ValueError(f"diff_hrnet: noise_tile must be at least 32 pixels, got {noise_tile}")

        self.hrnet = HRNet(in_channels, num_classes, **hrnet)
        self.denoiser = UNetDenoiser(spec)
        self.denoiser.requires_grad_(False)
        self.denoiser.eval()
        self.timesteps = [int(t) for t in timesteps]
        # Python floats: constants of the exported graph, not inputs.
        self.signal = [float(abar[t].sqrt()) for t in self.timesteps]
        self.noise_scale = [float((1 - abar[t]).sqrt()) for t in self.timesteps]
        generator = torch.Generator().manual_seed(int(noise_seed))
        self.register_buffer("noise", torch.randn((1, in_channels, noise_tile, noise_tile), generator=generator))
        self.fusion_stages = sorted({int(s) for s in fusion_stages})

        available = self.denoiser.decoder_strides
        # HRNet branch stride -> denoiser stride read (the coarsest available when the UNet is shallower)
        self.source_stride = {s: (s if s in available else max(a for a in available if a <= s)) for s in BRANCH_STRIDES}
        self.read_strides = sorted(set(self.source_stride.values()))
        self.fusions = nn.ModuleDict()
        for stage in self.fusion_stages:
            for i in range(stage):
                stride = BRANCH_STRIDES[i]
                channels = len(self.timesteps) * self.denoiser.decoder_channels(self.source_stride[stride])
                self.fusions[f"stage{stage}_branch{i}"] = Fusion(fusion, channels, self.hrnet.branch_channels[i])

    def train(self, mode: bool = True) -> DiffHRNet:
        """Train mode for the HRNet and fusions only: the frozen denoiser stays in eval mode."""
        super().train(mode)
        self.denoiser.eval()  # frozen: no dropout, whatever the caller asks
        return self

    def fixed_noise(self, x: torch.Tensor) -> torch.Tensor:
        """The noise tile repeated to cover ``x`` and cropped to its size (1, C, H, W)."""
        tile = self.noise.shape[-1]
        h, w = x.shape[-2], x.shape[-1]
        reps_h = (h + tile - 1) // tile
        reps_w = (w + tile - 1) // tile
        return self.noise.repeat(1, 1, reps_h, reps_w)[:, :, :h, :w]

    def diffusion_features(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        """Frozen decoder features per HRNet branch stride, concatenated over the timesteps."""
        noise = self.fixed_noise(x)
        per_stride: dict[int, list[torch.Tensor]] = {s: [] for s in self.read_strides}
        with torch.no_grad():
            for t, a, s in zip(self.timesteps, self.signal, self.noise_scale):
                x_t = a * x + s * noise
                steps = torch.full_like(x[:, 0, 0, 0], float(t))
                feats = self.denoiser.features(x_t, steps, self.read_strides)
                for stride in self.read_strides:
                    per_stride[stride].append(feats[stride])
        return {s: torch.cat(per_stride[self.source_stride[s]], dim=1) for s in BRANCH_STRIDES}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Diffusion features of the noised input fused into HRNet's branches; logits at the input size."""
        features = self.diffusion_features(x)

        def inject(stage: int, branches: list[torch.Tensor]) -> list[torch.Tensor]:
            if stage not in self.fusion_stages:
                return branches
            out = []
            for i, branch in enumerate(branches):
                stride = BRANCH_STRIDES[i]
                feature = features[stride]
                if self.source_stride[stride] != stride:  # shallower UNet: resample its coarsest map
                    feature = F.interpolate(feature, size=branch.shape[-2:], mode="bilinear", align_corners=False)
                out.append(self.fusions[f"stage{stage}_branch{i}"](branch, feature))
            return out

        return self.hrnet(x, inject=inject)


def fusion_openness(state: dict[str, torch.Tensor]) -> float | None:
    """Mean |BatchNorm scale| of the fusions' projections in a Diff-HRNet state dict (None for
    another network): how far fine-tuning opened the fusions, which start at 0 (a plain HRNet).

    The projected feature is normalised, so this scale is what multiplies the denoiser's
    features on their way into the branches (times the gate, ~0.5, in "gated"); the branches
    themselves sit at a BatchNorm scale near 1. A value of ~0.01 means the prior barely counts.
    """
    scales = [v.detach().abs().mean() for k, v in state.items()
              if k.startswith("fusions.") and k.endswith("project.1.weight")]
    return float(torch.stack(scales).mean()) if scales else None


def build(in_channels: int, num_classes: int, pretrained: Any = None, **kwargs: Any) -> DiffHRNet:
    """Diff-HRNet from a diffusion pretraining checkpoint (``pretrained``), or, for export,
    from the ``architecture_kwargs`` a fine-tuned checkpoint stored (they hold the denoiser
    architecture; the weights come from the fine-tuned state dict)."""
    unknown = set(kwargs) - set(DIFF_KWARGS) - set(HRNET_KWARGS)
    if unknown:
        known = ", ".join(DIFF_KWARGS + HRNET_KWARGS)
        raise ValueError(f"diff_hrnet: unknown option(s) {sorted(unknown)}; known: {known}")
    options = {k: kwargs.get(k) if kwargs.get(k) is not None else v for k, v in DEFAULTS.items()}
    denoiser_state = None
    if pretrained is not None:
        method = getattr(pretrained, "method", "?")
        extra = getattr(pretrained, "extra_state", None) or {}
        if method != "diffusion" or not pretrained.encoder_state or "denoiser" not in extra:
            raise ValueError(
                f"PRETRAINED: ARCHITECTURE diff_hrnet needs a diffusion checkpoint (from rsseg:pretrain_diffusion), "
                f"got a {method} checkpoint; use ARCHITECTURE deeplabv3plus for it"
            )
        denoiser, diffusion = dict(extra["denoiser"]), dict(extra["diffusion"])
        denoiser_state = pretrained.encoder_state
    elif kwargs.get("denoiser") and kwargs.get("diffusion"):
        denoiser, diffusion = dict(kwargs["denoiser"]), dict(kwargs["diffusion"])
    else:
        raise ValueError(
            "ARCHITECTURE diff_hrnet needs a diffusion checkpoint as PRETRAINED "
            "(train one with rsseg:pretrain_diffusion on the same bands)"
        )
    arch = {
        **hrnet_kwargs(kwargs),
        "denoiser": denoiser,
        "diffusion": diffusion,
        "timesteps": [int(t) for t in options["timesteps"]],
        "fusion": str(options["fusion"]),
        "fusion_stages": [int(s) for s in options["fusion_stages"]],
        "noise_seed": int(options["noise_seed"]),
        "noise_tile": int(options["noise_tile"]),
    }
    net = DiffHRNet(in_channels, num_classes, **arch)
    if denoiser_state is not None:
        net.denoiser.load_state_dict(denoiser_state)
    net.architecture_kwargs = arch
    return net
