"""ResNet encoders for any number of input bands.

One encoder class serves every method: pretraining saves its weights, fine-tuning loads
them without renaming. ``output_stride`` 16 or 8 replaces the strides of the last
stage(s) by dilation, which the dense methods (SDCluster, DeepLabV3+) want.

    stem (conv7x7/2, BN, ReLU, maxpool/2)    stride 4
    layer1                                   stride 4   -> features[0]
    layer2                                   stride 8   -> features[1]
    layer3                                   stride 16  -> features[2]  (or dilated)
    layer4                                   stride 32  -> features[3]  (or dilated)
"""
from __future__ import annotations

import torch
from torch import nn

DEPTHS: dict[int, tuple[str, tuple[int, int, int, int]]] = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
}


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a shortcut (ResNet-18/34); dilation keeps the map dense."""

    expansion = 1

    def __init__(self, in_ch: int, width: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        out_ch = width * self.expansion
        self.conv1 = nn.Conv2d(in_ch, width, 3, stride, padding=dilation, dilation=dilation, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, out_ch, 3, 1, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = _shortcut(in_ch, out_ch, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The block's residual plus its input, then ReLU."""
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + self.shortcut(x))


class Bottleneck(nn.Module):
    """1x1 - 3x3 - 1x1 convolutions with a shortcut (ResNet-50): wide output at a small cost."""

    expansion = 4

    def __init__(self, in_ch: int, width: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        out_ch = width * self.expansion
        self.conv1 = nn.Conv2d(in_ch, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = _shortcut(in_ch, out_ch, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The block's residual plus its input, then ReLU."""
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.relu(y + self.shortcut(x))


def _shortcut(in_ch: int, out_ch: int, stride: int) -> nn.Module:
    if stride == 1 and in_ch == out_ch:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch))


class ResNetEncoder(nn.Module):
    """ResNet-18/34/50 trunk returning the four stage outputs (strides 4, 8, 16, 32).

    Args:
        depth: 18, 34 or 50.
        in_channels: number of raster bands the network reads.
        output_stride: 32 (classification layout), 16 or 8 (last stages dilated).
    """

    def __init__(self, depth: int = 18, in_channels: int = 3, output_stride: int = 32) -> None:
        super().__init__()
        if depth not in DEPTHS:
            raise ValueError(f"BACKBONE: ResNet depth must be one of {sorted(DEPTHS)}, got {depth}")
        if output_stride not in (8, 16, 32):
            raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride}")
        kind, counts = DEPTHS[depth]
        block = BasicBlock if kind == "basic" else Bottleneck
        self.depth, self.in_channels, self.output_stride = depth, in_channels, output_stride

        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1),
        )
        # (stride, dilation) per stage: stages beyond the output stride are dilated instead.
        strides = [1, 2, 2, 2]
        dilations = [1, 1, 1, 1]
        if output_stride <= 16:
            strides[3], dilations[3] = 1, 2
        if output_stride == 8:
            strides[2], dilations[2], dilations[3] = 1, 2, 4
        widths = (64, 128, 256, 512)
        in_ch = 64
        stages = []
        for width, count, stride, dilation in zip(widths, counts, strides, dilations):
            blocks = [block(in_ch, width, stride, dilation)]
            in_ch = width * block.expansion
            blocks += [block(in_ch, width, 1, dilation) for _ in range(count - 1)]
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.channels: list[int] = [w * block.expansion for w in widths]
        self.strides: list[int] = [4, 8, 8 if output_stride == 8 else 16, output_stride]
        _init_weights(self)

    @property
    def out_channels(self) -> int:
        """Channels of the last feature map (512 for ResNet-18/34, 2048 for ResNet-50)."""
        return self.channels[-1]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps of the four stages, finest first: decoders pick the ones they fuse."""
        x = self.stem(x)
        c1 = self.layer1(x)
        c2 = self.layer2(c1)
        c3 = self.layer3(c2)
        c4 = self.layer4(c3)
        return [c1, c2, c3, c4]


def _init_weights(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    # Zero the last BN of each residual branch: blocks start as identities (Goyal et al.).
    for m in module.modules():
        if isinstance(m, Bottleneck):
            nn.init.zeros_(m.bn3.weight)
        elif isinstance(m, BasicBlock):
            nn.init.zeros_(m.bn2.weight)


def backbone_depth(name: str | int) -> int:
    """Parse 'resnet18' / 'resnet50' / 18 into a depth, with a clear error."""
    text = str(name).lower().replace("-", "").replace("resnet", "")
    try:
        depth = int(text)
    except ValueError:
        raise ValueError(f"BACKBONE: unknown backbone {name!r}; use resnet18, resnet34 or resnet50") from None
    if depth not in DEPTHS:
        raise ValueError(f"BACKBONE: unknown backbone {name!r}; use resnet18, resnet34 or resnet50")
    return depth
