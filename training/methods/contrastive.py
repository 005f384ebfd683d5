"""Building blocks of instance-discrimination (SimCLR-style) contrastive learning.

Kept general so that any method contrasting pooled embeddings of two views can use them:
a projection head (MLP on pooled encoder features) and the NT-Xent loss over 2N views.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ProjectionHead(nn.Module):
    """SimCLR head: Linear -> ReLU -> Linear, on globally pooled features.

    The authors' head on ResNet-50 is 2048 -> 2048 -> 128 without BatchNorm (VISSL
    ``mlp`` modules); ``hidden`` defaults to the encoder's channel count in the same way.
    """

    def __init__(self, in_channels: int, hidden: int = 0, out_dim: int = 128) -> None:
        super().__init__()
        hidden = hidden or in_channels
        self.fc1 = nn.Linear(in_channels, hidden)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Linear(hidden, out_dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(B, C) pooled features, or (B, C, H, W) maps (averaged first) -> (B, out_dim)."""
        if features.ndim == 4:
            features = features.mean(dim=(2, 3))
        return self.fc2(self.relu(self.fc1(features)))


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """Normalised-temperature cross entropy (InfoNCE) over the 2N views of N patches.

    ``z1[i]`` and ``z2[i]`` are the two views of patch i: each view's positive is its
    partner, its negatives the other 2N-2 views. Embeddings are L2-normalised, so the
    logits are cosine similarities divided by ``temperature``. Mean over the 2N anchors.
    """
    if z1.shape != z2.shape:
        raise ValueError(f"nt_xent: views differ in shape {tuple(z1.shape)} vs {tuple(z2.shape)}")
    n = z1.shape[0]
    if n < 2:
        raise ValueError("BATCH_SIZE must be at least 2: NT-Xent contrasts each patch with the others in its batch")
    z = F.normalize(torch.cat([z1, z2], dim=0), dim=1)
    logits = z @ z.t() / temperature
    self_mask = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))   # a view is never its own negative
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(logits, targets)


def positive_accuracy(z1: torch.Tensor, z2: torch.Tensor) -> float:
    """Fraction of the 2N views whose most similar other view is their partner (a log metric)."""
    with torch.no_grad():
        n = z1.shape[0]
        z = F.normalize(torch.cat([z1, z2], dim=0), dim=1)
        sim = z @ z.t()
        sim.fill_diagonal_(float("-inf"))
        targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
        return float((sim.argmax(dim=1) == targets).float().mean())
