"""HRNetV2-W18 for semantic segmentation (Sun et al. 2019, "High-Resolution Representations
for Labeling Pixels and Regions"), for any number of bands, in plain torch.

    stem: conv3x3/2, conv3x3/2                                     1/4, 64 ch
    stage 1: 1 module, 1 branch of 4 Bottlenecks                   1/4, 256 ch
    transition -> branches 1/4 and 1/8         (W, 2W)
    stage 2: 1 module  x [4 BasicBlocks per branch, fusion]
    transition -> + branch 1/16                (W, 2W, 4W)
    stage 3: 4 modules x [4 BasicBlocks per branch, fusion]
    transition -> + branch 1/32                (W, 2W, 4W, 8W)
    stage 4: 3 modules x [4 BasicBlocks per branch, fusion]
    head: every branch upsampled to 1/4, concatenated (15W ch), 1x1 conv-BN-ReLU,
          1x1 conv -> classes, bilinear upsampling to the input size

W = 18 gives HRNetV2-W18. "Fusion" is the multi-resolution exchange: each output branch is
the sum of every input branch brought to its resolution (1x1 conv + upsampling from
coarser branches, chains of stride-2 3x3 convs from finer ones), then ReLU.

Stride-2 convolutions round up and every upsampling goes to the exact size of its target,
so any input size works. ``width``, ``modules``, ``blocks`` and ``stem_channels`` make
smaller variants (for tests); the defaults are HRNetV2-W18.

Diff-HRNet (:mod:`training.nets.diff_hrnet`) reuses this network and injects features
after stages through the ``inject`` callback of :meth:`HRNet.forward`.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from training.nets.resnet import BasicBlock, Bottleneck

Inject = Callable[[int, list[torch.Tensor]], list[torch.Tensor]]


def conv_bn_relu(in_ch: int, out_ch: int, kernel: int = 3, stride: int = 1, relu: bool = True) -> nn.Sequential:
    """Convolution and BatchNorm, with ReLU unless ``relu`` is False (residual ends)."""
    layers: list[nn.Module] = [nn.Conv2d(in_ch, out_ch, kernel, stride, kernel // 2, bias=False),
                               nn.BatchNorm2d(out_ch)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class FuseLayer(nn.Module):
    """Multi-resolution exchange: output i = ReLU(sum_j resample_j->i(branch_j))."""

    def __init__(self, channels: Sequence[int]) -> None:
        super().__init__()
        n = len(channels)
        self.paths = nn.ModuleList()
        for i in range(n):
            row = nn.ModuleList()
            for j in range(n):
                if j == i:
                    row.append(nn.Identity())
                elif j > i:   # coarser -> finer: 1x1 conv, BN; upsampled in forward
                    row.append(conv_bn_relu(channels[j], channels[i], 1, relu=False))
                else:         # finer -> coarser: (i - j) stride-2 3x3 convs
                    steps = [conv_bn_relu(channels[j], channels[j], 3, 2) for _ in range(i - j - 1)]
                    steps.append(conv_bn_relu(channels[j], channels[i], 3, 2, relu=False))
                    row.append(nn.Sequential(*steps))
            self.paths.append(row)
        self.relu = nn.ReLU(inplace=False)

    def forward(self, branches: list[torch.Tensor]) -> list[torch.Tensor]:
        """Each output resolution sums every branch resampled to it (HRNet's exchange unit)."""
        out = []
        for i, row in enumerate(self.paths):
            total = branches[i]
            size = branches[i].shape[-2:]
            for j, path in enumerate(row):
                if j == i:
                    continue
                y = path(branches[j])
                if j > i:
                    y = F.interpolate(y, size=size, mode="bilinear", align_corners=False)
                total = total + y
            out.append(self.relu(total))
        return out


class HRModule(nn.Module):
    """Parallel residual branches followed by a fusion."""

    def __init__(self, channels: Sequence[int], blocks: int) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Sequential(*[BasicBlock(c, c) for _ in range(blocks)]) for c in channels
        )
        self.fuse = FuseLayer(channels) if len(channels) > 1 else None

    def forward(self, branches: list[torch.Tensor]) -> list[torch.Tensor]:
        """Run the residual blocks of every branch, then exchange information between them."""
        out = [branch(x) for branch, x in zip(self.branches, branches)]
        return self.fuse(out) if self.fuse is not None else out


class Transition(nn.Module):
    """Adapts branch widths between stages and opens the next, coarser branch."""

    def __init__(self, in_channels: Sequence[int], out_channels: Sequence[int]) -> None:
        super().__init__()
        self.paths = nn.ModuleList()
        for i, out_ch in enumerate(out_channels):
            if i < len(in_channels):
                self.paths.append(nn.Identity() if in_channels[i] == out_ch else conv_bn_relu(in_channels[i], out_ch))
            else:  # the new branch comes from the coarsest existing one, one stride-2 conv
                self.paths.append(conv_bn_relu(in_channels[-1], out_ch, 3, 2))

    def forward(self, branches: list[torch.Tensor]) -> list[torch.Tensor]:
        """Keep the existing branches and add the next lower resolution from the coarsest one."""
        return [path(branches[min(i, len(branches) - 1)]) for i, path in enumerate(self.paths)]


class HRNet(nn.Module):
    """HRNetV2 segmentation network: (B, in_channels, H, W) -> logits (B, num_classes, H, W)."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        width: int = 18,
        modules: Sequence[int] = (1, 1, 4, 3),
        blocks: int = 4,
        stem_channels: int = 64,
    ) -> None:
        super().__init__()
        if len(modules) != 4 or any(int(m) < 1 for m in modules):
            raise ValueError(f"hrnet: modules must be 4 positive counts (stages 1-4), got {list(modules)}")
        if width < 1 or blocks < 1 or stem_channels < 1:
            raise ValueError("hrnet: width, blocks and stem_channels must be positive")
        self.branch_channels = [width * 2**i for i in range(4)]
        self.stem = nn.Sequential(conv_bn_relu(in_channels, stem_channels, 3, 2),
                                  conv_bn_relu(stem_channels, stem_channels, 3, 2))
        # Stage 1: Bottlenecks at 1/4 (width stem_channels, output 4x that).
        layer1: list[nn.Module] = [Bottleneck(stem_channels, stem_channels)]
        layer1 += [Bottleneck(4 * stem_channels, stem_channels) for _ in range(blocks - 1)]
        for _ in range(int(modules[0]) - 1):
            layer1 += [Bottleneck(4 * stem_channels, stem_channels) for _ in range(blocks)]
        self.stage1 = nn.Sequential(*layer1)
        previous = [4 * stem_channels]
        self.transitions = nn.ModuleList()
        self.stages = nn.ModuleList()
        for stage in range(2, 5):
            channels = self.branch_channels[:stage]
            self.transitions.append(Transition(previous, channels))
            self.stages.append(nn.Sequential(*[HRModule(channels, blocks) for _ in range(int(modules[stage - 1]))]))
            previous = channels
        total = sum(self.branch_channels)
        self.head = nn.Sequential(conv_bn_relu(total, total, 1), nn.Conv2d(total, num_classes, 1))
        _init_weights(self)

    def forward(self, x: torch.Tensor, inject: Inject | None = None) -> torch.Tensor:
        """Logits at the input size. ``inject(stage, branches) -> branches`` is called after
        stages 2, 3 and 4 (Diff-HRNet fuses its diffusion features there)."""
        size = x.shape[-2:]
        branches = [self.stage1(self.stem(x))]
        for index, (transition, stage) in enumerate(zip(self.transitions, self.stages)):
            branches = stage(transition(branches))
            if inject is not None:
                branches = inject(index + 2, branches)
        return self.classify(branches, size)

    def classify(self, branches: list[torch.Tensor], size) -> torch.Tensor:
        """HRNetV2 head: concatenate all branches at 1/4 scale, 1x1 convs, upsample."""
        quarter = branches[0].shape[-2:]
        upsampled = [branches[0]] + [
            F.interpolate(b, size=quarter, mode="bilinear", align_corners=False) for b in branches[1:]
        ]
        logits = self.head(torch.cat(upsampled, dim=1))
        return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)


def _init_weights(module: nn.Module) -> None:
    """Kaiming convs, with every path that ADDS into a branch starting at zero.

    The official HRNet code draws every conv from N(0, 0.001). Behind BN that scale does not
    matter in training mode, but it makes a fresh network's features almost constant: the
    spread of a from-scratch HRNet over seeds was 7-10 mIoU in our label-efficiency runs and
    a linear probe of it sees nothing. Kaiming init (He et al. 2015) keeps the activation
    scale through the depth, but summing four exchange paths per fusion at every module let
    eval-mode outputs grow to 1e8 before the BN statistics settle. So, as for the ResNet
    encoder (Goyal et al. 2017, "zero-gamma"), the last BN of every residual block and the
    BN of every fusion path from another branch start at zero: each module starts as an
    identity on its own branch, outputs stay O(1) in eval mode from step 0, and gradients
    reach every zeroed weight through the sum they feed.
    """
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    for m in module.modules():
        if isinstance(m, Bottleneck):
            nn.init.zeros_(m.bn3.weight)
        elif isinstance(m, BasicBlock):
            nn.init.zeros_(m.bn2.weight)
        elif isinstance(m, FuseLayer):
            for i, row in enumerate(m.paths):
                for j, path in enumerate(row):
                    if j != i:
                        last_bn = [b for b in path.modules() if isinstance(b, nn.BatchNorm2d)][-1]
                        nn.init.zeros_(last_bn.weight)


HRNET_KWARGS = ("width", "modules", "blocks", "stem_channels")


def hrnet_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The HRNet size fields of ``kwargs`` as plain JSON-able values (defaults filled in)."""
    values = {"width": 18, "modules": [1, 1, 4, 3], "blocks": 4, "stem_channels": 64}
    for key in HRNET_KWARGS:
        if key in kwargs and kwargs[key] is not None:
            values[key] = [int(v) for v in kwargs[key]] if key == "modules" else int(kwargs[key])
    return values


def build(in_channels: int, num_classes: int, pretrained: Any = None, **kwargs: Any) -> HRNet:
    """HRNetV2 trained from scratch (the baseline Diff-HRNet is compared with).

    There is no pretraining method for a plain HRNet: a pretraining checkpoint here is an
    error that says which architecture uses it.
    """
    if pretrained is not None:
        method = getattr(pretrained, "method", "?")
        use = "diff_hrnet" if method == "diffusion" else "deeplabv3plus"
        raise ValueError(
            f"PRETRAINED: ARCHITECTURE hrnet trains from scratch and cannot use a {method} checkpoint "
            f"(its weights are for another network); choose ARCHITECTURE {use}, or leave PRETRAINED empty"
        )
    unknown = set(kwargs) - set(HRNET_KWARGS)
    if unknown:
        raise ValueError(f"hrnet: unknown option(s) {sorted(unknown)}; known: {', '.join(HRNET_KWARGS)}")
    arch = hrnet_kwargs(kwargs)
    net = HRNet(in_channels, num_classes, **arch)
    net.architecture_kwargs = arch
    return net
