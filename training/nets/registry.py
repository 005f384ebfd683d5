"""Segmentation architectures by name, imported lazily.

Each entry names a ``build(in_channels, num_classes, pretrained=None, **kwargs)`` function
returning an ``nn.Module`` that maps (B, in_channels, H, W) to class logits
(B, num_classes, H, W). ``pretrained`` is a :class:`training.checkpoint.Checkpoint` from a
pretraining method (or None): the builder decides which of its weights it uses and fails
clearly when it cannot use that kind of checkpoint.
"""
from __future__ import annotations

import importlib
from typing import Any

from torch import nn

ARCHITECTURES: dict[str, str] = {
    "deeplabv3plus": "training.nets.deeplab:build",
    "hrnet": "training.nets.hrnet:build",
    "diff_hrnet": "training.nets.diff_hrnet:build",
}


def build_segmentation_net(
    architecture: str, in_channels: int, num_classes: int, pretrained: Any = None, **kwargs: Any
) -> nn.Module:
    """Instantiate ``architecture`` (see :data:`ARCHITECTURES`)."""
    target = ARCHITECTURES.get(architecture)
    if target is None:
        raise ValueError(f"ARCHITECTURE: unknown {architecture!r}; use one of {', '.join(ARCHITECTURES)}")
    module_name, function = target.split(":")
    build = getattr(importlib.import_module(module_name), function)
    return build(in_channels, num_classes, pretrained=pretrained, **kwargs)
