"""Frozen feature extractors for the linear probe: one per kind of checkpoint, and the same
network at random initialisation as the baseline.

Every extractor maps a normalised image batch (B, C, H, W), H and W multiples of 32, to one
feature map (B, D, H / s, W / s) at the probe's output stride ``s`` (8 or 16):

- ResNet encoders (GraSS, SDCluster, a fine-tuned DeepLabV3+): layer2, layer3 and layer4 of
  a ResNet whose last stages are dilated to stride ``s`` (dilation does not change the
  weights, so any checkpoint loads), each resized to the stride-``s`` grid and concatenated.
  Layer1 is left out: at stride 4 it is mostly edges and colour, which the raw bands give.
- HRNet and Diff-HRNet (fine-tuned): the input of the HRNetV2 head, i.e. the four branches
  upsampled to 1/4 and concatenated, read by a forward pre-hook on ``head`` and average
  pooled to the stride-``s`` grid.
- The DDPM denoiser (diffusion pretraining): decoder features at strides 4 to 32 of the
  EMA UNet for the image noised to a small timestep ``t`` (default 50 of 1000, the
  smallest step Diff-HRNet reads), with a fixed noise drawn from the seed, resized to the
  stride-``s`` grid and concatenated.

The random baseline is built by the *same constructor* from-scratch training uses
(:class:`ResNetEncoder`, the registry's HRNet / Diff-HRNet, :class:`UNetDenoiser`), seeded.
Note what that baseline is: the ResNet initialisation zeroes the last BatchNorm of every
residual branch (Goyal et al.), so a random ResNet is its stem plus the 1x1 shortcuts.

BatchNorm: :func:`recalibrate_batchnorm` replaces running statistics by the cumulative
average over forward passes on the probe's own images (train mode, ``momentum=None``, no
gradient). It is always applied to the random network (its statistics are otherwise the
initial 0/1, meaningless) and, by default, to the pretrained one too, so both see the
probe's images the same way; ``ProbeConfig.recalibrate_pretrained`` turns it off.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn

from training.checkpoint import Checkpoint
from training.nets.resnet import ResNetEncoder, backbone_depth

DENOISER_STRIDES = (4, 8, 16, 32)
SDCLUSTER_STATES = ("teacher", "student")


@dataclass
class ExtractorSpec:
    """How to build a network of one kind, pretrained or at random init.

    ``kind`` is "resnet", "hrnet" (HRNet or Diff-HRNet, built by the registry) or
    "denoiser". ``state`` holds the pretrained weights (None = random init only);
    ``options`` the constructor arguments.
    """

    kind: str
    in_channels: int
    options: dict[str, Any]
    state: dict[str, torch.Tensor] | None
    description: str


class FeatureExtractor(nn.Module):
    """A frozen network plus the recipe turning its outputs into one stride-``s`` map."""

    def __init__(self, net: nn.Module, read: Callable[[nn.Module, torch.Tensor], list[torch.Tensor]],
                 output_stride: int, channels: int) -> None:
        super().__init__()
        self.net = net
        self.read = read
        self.output_stride = output_stride
        self.channels = channels
        self.net.requires_grad_(False)
        self.net.eval()
        self._check: Callable[[], None] = lambda: None
        for module in self.net.modules():  # cancellation is polled at every conv, not once per tile
            if isinstance(module, nn.Conv2d):
                module.register_forward_pre_hook(self._poll)

    def _poll(self, _module: nn.Module, _inputs: Any) -> None:
        self._check()

    def set_check(self, check: Callable[[], None]) -> None:
        """Call ``check`` (e.g. a cancellation poll that raises) before every convolution."""
        self._check = check

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, D, H / s, W / s) features of a normalised batch (H, W multiples of 32)."""
        size = (x.shape[-2] // self.output_stride, x.shape[-1] // self.output_stride)
        return torch.cat([resize_to(f, size) for f in self.read(self.net, x)], dim=1)


def resize_to(feature: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Average pool a finer map, bilinearly upsample a coarser one, to exactly ``size``."""
    if tuple(feature.shape[-2:]) == tuple(size):
        return feature
    if feature.shape[-2] >= size[0] and feature.shape[-1] >= size[1]:
        return F.adaptive_avg_pool2d(feature, size)
    return F.interpolate(feature, size=size, mode="bilinear", align_corners=False)


# ----------------------------------------------------------------------------- specs
def spec_from_checkpoint(checkpoint: Checkpoint, sdcluster_state: str = "student") -> ExtractorSpec:
    """What network a checkpoint holds and which of its weights the probe freezes."""
    method = checkpoint.method
    config = checkpoint.config or {}
    if method in ("grass", "sdcluster"):
        depth = backbone_depth(config.get("backbone", "resnet18"))
        state = checkpoint.encoder_state
        what = "encoder"
        if method == "sdcluster":
            if sdcluster_state not in SDCLUSTER_STATES:
                raise ValueError(f"SDCLUSTER_STATE: use teacher or student, got {sdcluster_state!r}")
            # both encoders are in extra_state (newer checkpoints) and in the whole module's state
            state = ((checkpoint.extra_state or {}).get(f"{sdcluster_state}_encoder")
                     or _sub_state(checkpoint.model_state, f"{sdcluster_state}.encoder.") or None)
            what = f"{sdcluster_state} encoder"
        if not state:
            raise ValueError(f"CHECKPOINT: this {method} checkpoint holds no {what} weights; pretrain again")
        return ExtractorSpec("resnet", checkpoint.in_channels, {"depth": depth}, state,
                             f"{method} {what} (resnet{depth}), layer2-4")
    if method == "diffusion":
        extra = checkpoint.extra_state or {}
        if not checkpoint.encoder_state or "denoiser" not in extra or "diffusion" not in extra:
            raise ValueError("CHECKPOINT: this diffusion checkpoint holds no denoiser; pretrain again")
        options = {"denoiser": dict(extra["denoiser"]), "diffusion": dict(extra["diffusion"])}
        return ExtractorSpec("denoiser", checkpoint.in_channels, options, checkpoint.encoder_state,
                             "diffusion EMA denoiser, decoder strides 4-32")
    if method == "supervised":
        return _supervised_spec(checkpoint)
    raise ValueError(f"CHECKPOINT: cannot probe a {method} checkpoint")


def _supervised_spec(checkpoint: Checkpoint) -> ExtractorSpec:
    arch = checkpoint.architecture or ""
    kwargs = dict(checkpoint.architecture_kwargs or {})
    if arch == "deeplabv3plus":
        depth = backbone_depth(kwargs.get("backbone", "resnet18"))
        state = _sub_state(checkpoint.model_state, "encoder.")
        return ExtractorSpec("resnet", checkpoint.in_channels, {"depth": depth}, state,
                             f"fine-tuned deeplabv3plus encoder (resnet{depth}), layer2-4")
    if arch in ("hrnet", "diff_hrnet"):
        head = [v for k, v in checkpoint.model_state.items() if k.endswith("head.1.weight")]
        if not head:
            raise ValueError(f"CHECKPOINT: the {arch} checkpoint has no HRNet head weights; it may be damaged")
        options = {"architecture": arch, "num_classes": int(head[0].shape[0]), "kwargs": kwargs}
        return ExtractorSpec("hrnet", checkpoint.in_channels, options, dict(checkpoint.model_state),
                             f"fine-tuned {arch}, HRNetV2 head input (4 branches at 1/4)")
    raise ValueError(f"CHECKPOINT: cannot probe a fine-tuned {arch or 'unknown'} network")


def random_spec(in_channels: int, backbone: str = "resnet18") -> ExtractorSpec:
    """A ResNet at random init only (no CHECKPOINT): the baseline alone."""
    depth = backbone_depth(backbone)
    return ExtractorSpec("resnet", in_channels, {"depth": depth}, None, f"resnet{depth} at random init, layer2-4")


def _sub_state(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in (state or {}).items() if k.startswith(prefix)}


# ----------------------------------------------------------------------------- building
def build_extractor(spec: ExtractorSpec, output_stride: int, pretrained: bool, seed: int = 0,
                    timestep: int = 50) -> FeatureExtractor:
    """The spec's network, with its weights (``pretrained``) or at random init from ``seed``."""
    if output_stride not in (8, 16):
        raise ValueError(f"OUTPUT_STRIDE must be 8 or 16, got {output_stride}")
    with _seeded(seed):
        if spec.kind == "resnet":
            net = ResNetEncoder(spec.options["depth"], spec.in_channels, output_stride=output_stride)
            read, channels = _read_resnet, sum(net.channels[1:])
        elif spec.kind == "hrnet":
            net, read, channels = _build_hrnet(spec)
        elif spec.kind == "denoiser":
            net, read, channels = _build_denoiser(spec, timestep, seed)
        else:
            raise ValueError(f"unknown extractor kind {spec.kind!r}")
    if pretrained:
        if spec.state is None:
            raise ValueError("CHECKPOINT: no pretrained weights to load")
        try:
            net.load_state_dict(spec.state, strict=True)
        except RuntimeError as exc:
            first = " ".join(str(exc).strip().splitlines()[:2])
            raise ValueError(f"CHECKPOINT: its weights do not fit the network it names ({first})") from None
    return FeatureExtractor(net, read, output_stride, channels)


@contextlib.contextmanager
def _seeded(seed: int):
    """Seed torch's global generator (what nn.init uses) without disturbing the caller's."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield


def _read_resnet(net: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    return net(x)[1:]


def _build_hrnet(spec: ExtractorSpec):
    from training.nets.registry import build_segmentation_net

    opts = spec.options
    net = build_segmentation_net(opts["architecture"], spec.in_channels, opts["num_classes"], **opts["kwargs"])
    hrnet = net.hrnet if opts["architecture"] == "diff_hrnet" else net
    captured: list[torch.Tensor] = []
    hrnet.head.register_forward_pre_hook(lambda _module, inputs: captured.append(inputs[0]))

    def read(module: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
        captured.clear()
        module(x)
        return [captured[-1]]

    return net, read, sum(hrnet.branch_channels)


def _build_denoiser(spec: ExtractorSpec, timestep: int, seed: int):
    from training.methods.diffusion import alphas_cumprod
    from training.nets.unet_ddpm import build_denoiser

    net = build_denoiser(spec.options["denoiser"])
    process = spec.options["diffusion"]
    abar = alphas_cumprod(process["schedule"], int(process["timesteps"]),
                          float(process.get("beta_start", 1e-4)), float(process.get("beta_end", 0.02)))
    if not 0 <= timestep < abar.numel():
        raise ValueError(f"TIMESTEP must lie in [0, {abar.numel()}), got {timestep}")
    signal, noise_scale = float(abar[timestep].sqrt()), float((1 - abar[timestep]).sqrt())
    strides = [s for s in DENOISER_STRIDES if s in net.decoder_strides] or [max(net.decoder_strides)]
    channels = sum(net.decoder_channels(s) for s in strides)
    generator = torch.Generator().manual_seed(int(seed) + 12345)

    def read(module: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
        noise = torch.randn(x.shape, generator=generator).to(x.device)
        steps = torch.full((x.shape[0],), float(timestep), device=x.device)
        feats = module.features(signal * x + noise_scale * noise, steps, strides)
        return [feats[s] for s in strides]

    return net, read, channels


# ----------------------------------------------------------------------------- BatchNorm
def has_batchnorm(module: nn.Module) -> bool:
    """True when the network has BatchNorm layers (the denoiser uses GroupNorm only)."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


@torch.no_grad()
def recalibrate_batchnorm(extractor: FeatureExtractor, batches: Iterable[torch.Tensor],
                          check: Callable[[], None] = lambda: None) -> int:
    """Replace BatchNorm running statistics by their cumulative average over ``batches``.

    Only the BN layers run in train mode (momentum None = exact average of the per-batch
    statistics); weights never change, no gradient is kept. Returns the batches seen.
    """
    norms = [m for m in extractor.net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return 0
    saved = [(m.momentum, m.training) for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    seen = 0
    try:
        for batch in batches:
            check()
            extractor.read(extractor.net, batch)
            seen += 1
    finally:
        for m, (momentum, _training) in zip(norms, saved):
            m.momentum = momentum
            m.eval()
    return seen
