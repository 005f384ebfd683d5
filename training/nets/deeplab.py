"""DeepLabV3+ (Chen et al., ECCV 2018) on the project's ResNet encoder.

    image (C bands, H x W)
      |
    ResNetEncoder, output stride 16 (layer4 dilated)
      |-- layer1 (stride 4) ---------------------------> 1x1 conv -> 48 ch ---.
      '-- layer4 (stride 16) -> ASPP (1x1, 3x3 r6, r12, r18, image pooling)    |
                                 -> 1x1 conv -> upsample x4 ------------> concat
                                                                              |
                                                  two 3x3 convs -> 1x1 classifier
                                                                              |
                                                   upsample x4 -> logits (classes, H x W)

``head="separable"`` (the default) is the published head: every 3x3 conv of ASPP and of the
decoder is an *atrous depthwise-separable* conv (3x3 depthwise at the branch's rate, BN,
ReLU, then 1x1 pointwise, BN, ReLU), as in Chen et al. section 3.2. At 512x512 with ResNet-18
this costs ~36 GFLOPs per tile against 82.5 for ``head="dense"`` (full 3x3 convs, the head
this project used first; kept for checkpoints trained with it and for comparison). Most of
the dense cost was the two 256-channel 3x3 convs of the decoder at 1/4 resolution.

The encoder is the same :class:`~training.nets.resnet.ResNetEncoder` the pretraining
methods train, so a GraSS or SDCluster checkpoint's ``encoder_state`` loads without
renaming keys (dilation does not change the weights' shapes).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from training.nets.resnet import ResNetEncoder, backbone_depth


def conv_bn_relu(in_ch: int, out_ch: int, kernel: int = 1, dilation: int = 1) -> nn.Sequential:
    """Conv (no bias: BN follows), BN, ReLU; 'same' padding at any dilation."""
    padding = dilation * (kernel // 2)
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel, padding=padding, dilation=dilation, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    )


HEADS = ("separable", "dense")


def separable_conv_bn_relu(in_ch: int, out_ch: int, dilation: int = 1) -> nn.Sequential:
    """Atrous depthwise-separable 3x3 conv: a per-channel 3x3 at ``dilation`` then a 1x1 mix.

    BN + ReLU after both parts, as in the published DeepLabV3+ (Xception-style) head; the
    same receptive field as a dense 3x3 for ~1/9 of its multiply-adds at 256 channels.
    """
    return nn.Sequential(
        nn.Conv2d(in_ch, in_ch, 3, padding=dilation, dilation=dilation, groups=in_ch, bias=False),
        nn.BatchNorm2d(in_ch),
        nn.ReLU(inplace=True),
        conv_bn_relu(in_ch, out_ch, 1),
    )


def conv3x3_block(in_ch: int, out_ch: int, dilation: int, head: str) -> nn.Sequential:
    """The head's 3x3 conv block: separable or dense (see the module docstring)."""
    if head == "separable":
        return separable_conv_bn_relu(in_ch, out_ch, dilation)
    return conv_bn_relu(in_ch, out_ch, 3, dilation=dilation)


class ImagePooling(nn.Module):
    """ASPP's global context branch: average over the image, 1x1 conv, broadcast back.

    No BatchNorm here: on a 1x1 map it fails for a batch of one and adds nothing.
    """

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.project = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, out_ch, H, W), the same pooled vector at every pixel."""
        pooled = self.project(x.mean(dim=(2, 3), keepdim=True))
        return pooled.expand(-1, -1, x.shape[2], x.shape[3])


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling: parallel views of the same features at growing
    receptive fields (rates 6, 12, 18 at output stride 16), fused by a 1x1 conv."""

    def __init__(
        self, in_ch: int, out_ch: int = 256, rates: tuple[int, ...] = (6, 12, 18), dropout: float = 0.1,
        head: str = "separable",
    ) -> None:
        super().__init__()
        branches = [conv_bn_relu(in_ch, out_ch, 1)]
        branches += [conv3x3_block(in_ch, out_ch, r, head) for r in rates]
        branches.append(ImagePooling(in_ch, out_ch))
        self.branches = nn.ModuleList(branches)
        self.fuse = nn.Sequential(conv_bn_relu(out_ch * len(branches), out_ch, 1), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Concatenate the branches and fuse them to ``out_ch`` channels."""
        return self.fuse(torch.cat([branch(x) for branch in self.branches], dim=1))


class DeepLabV3Plus(nn.Module):
    """ResNet encoder + ASPP + light decoder with stride-4 skip features."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        backbone: str = "resnet18",
        aspp_channels: int = 256,
        decoder_channels: int = 256,
        low_level_channels: int = 48,
        rates: tuple[int, ...] = (6, 12, 18),
        head: str = "separable",
    ) -> None:
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"HEAD: unknown DeepLabV3+ head {head!r}; use one of {', '.join(HEADS)}")
        self.encoder = ResNetEncoder(backbone_depth(backbone), in_channels, output_stride=16)
        self.aspp = ASPP(self.encoder.out_channels, aspp_channels, tuple(rates), head=head)
        self.low_level = conv_bn_relu(self.encoder.channels[0], low_level_channels, 1)
        self.decoder = nn.Sequential(
            conv3x3_block(aspp_channels + low_level_channels, decoder_channels, 1, head),
            conv3x3_block(decoder_channels, decoder_channels, 1, head),
        )
        self.classifier = nn.Conv2d(decoder_channels, num_classes, 1)
        self.in_channels, self.num_classes = in_channels, num_classes
        # what export needs to rebuild this network: build(in, n, **architecture_kwargs)
        self.architecture_kwargs: dict[str, Any] = {
            "backbone": f"resnet{self.encoder.depth}",
            "aspp_channels": aspp_channels,
            "decoder_channels": decoder_channels,
            "low_level_channels": low_level_channels,
            "rates": list(rates),
            "head": head,
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, bands, H, W) -> class logits (B, classes, H, W)."""
        size = x.shape[-2:]
        c1, _c2, _c3, c4 = self.encoder(x)
        context = self.aspp(c4)
        context = F.interpolate(context, size=c1.shape[-2:], mode="bilinear", align_corners=False)
        y = self.decoder(torch.cat([context, self.low_level(c1)], dim=1))
        return F.interpolate(self.classifier(y), size=size, mode="bilinear", align_corners=False)


def load_pretrained_encoder(encoder: ResNetEncoder, pretrained: Any, backbone: str) -> None:
    """Load a pretraining checkpoint's ResNet weights into ``encoder``, or explain why not."""
    state = getattr(pretrained, "encoder_state", None)
    method = getattr(pretrained, "method", "?")
    if not state or method == "diffusion":  # a diffusion encoder_state is a UNet's: BACKBONE is not the fix
        hint = (
            "a diffusion checkpoint holds a denoising UNet, not a ResNet encoder: use ARCHITECTURE diff_hrnet"
            if method == "diffusion" else "pretrain with GraSS or SDCluster, or leave PRETRAINED empty"
        )
        raise ValueError(f"PRETRAINED: this {method} checkpoint has no ResNet encoder weights; {hint}")
    pretrained.check_bands(encoder.in_channels, "the fine-tuning imagery (BANDS)")
    trained_backbone = str((getattr(pretrained, "config", None) or {}).get("backbone", backbone))
    if backbone_depth(trained_backbone) != encoder.depth:
        raise ValueError(
            f"PRETRAINED: the checkpoint's encoder is {trained_backbone} but BACKBONE is resnet{encoder.depth}; "
            f"set BACKBONE to {trained_backbone}"
        )
    try:
        encoder.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0:3]
        raise ValueError(
            f"PRETRAINED: the {method} checkpoint's encoder weights do not fit a resnet{encoder.depth} "
            f"encoder ({' '.join(first)}); it may come from another architecture: use the matching "
            "ARCHITECTURE/BACKBONE or leave PRETRAINED empty"
        ) from None


def build(
    in_channels: int, num_classes: int, pretrained: Any = None, backbone: str = "resnet18", **kwargs: Any
) -> nn.Module:
    """Registry entry ``deeplabv3plus``; ``pretrained`` = a pretraining Checkpoint or None.

    A full architecture record without ``head`` (``aspp_channels`` present) was written
    before the separable head became the default: it rebuilds the dense head it was trained
    with, so old checkpoints still export.
    """
    if "aspp_channels" in kwargs and "head" not in kwargs:
        kwargs["head"] = "dense"
    net = DeepLabV3Plus(in_channels, num_classes, backbone=backbone, **kwargs)
    if pretrained is not None:
        load_pretrained_encoder(net.encoder, pretrained, backbone)
    return net
