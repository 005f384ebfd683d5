"""Collapse signals: cheap numbers a pretraining run can log to show its embeddings are
not collapsing to a point (or to a few directions, or a few prototypes).

Self-supervised losses have trivial minima: every input mapped to the same embedding
(complete collapse), or to a low-dimensional subspace (dimensional collapse, Jing et al.
ICLR 2022), or, for clustering methods, every pixel sent to a handful of prototypes. The
loss alone can look fine while this happens, so these signals are logged beside it:

- ``spread``: mean over dimensions of the standard deviation of the L2-normalised
  embeddings (SimSiam's collapse monitor, Chen & He 2021). 0 = complete collapse; about
  ``1/sqrt(D)`` for embeddings spread uniformly on the sphere. ``spread_ratio`` is
  ``spread * sqrt(D)``, so 1 means healthy whatever the dimension.
- ``effective_rank``: exp of the entropy of the normalised singular values of the centred
  embeddings (Roy & Vetterli 2007): how many directions the embeddings really use, between
  1 and min(N, D).
- :func:`prototype_usage`: for prototype scores (SDCluster), how many prototypes win at
  least one pixel and the perplexity of the winning distribution (1 = one prototype takes
  everything, K = uniform usage).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _as_rows(embeddings: torch.Tensor) -> torch.Tensor:
    """(N, D) rows from (N, D) vectors or (B, D, H, W) pixel embeddings."""
    if embeddings.dim() == 4:
        return embeddings.permute(0, 2, 3, 1).reshape(-1, embeddings.shape[1])
    if embeddings.dim() != 2:
        raise ValueError(f"embeddings must be (N, D) or (B, D, H, W), got shape {tuple(embeddings.shape)}")
    return embeddings


@torch.no_grad()
def embedding_spread(embeddings: torch.Tensor, max_rows: int = 4096) -> dict[str, float]:
    """``spread``, ``spread_ratio`` and ``effective_rank`` of (N, D) or (B, D, H, W) embeddings.

    At most ``max_rows`` rows are used (evenly strided), so logging it every step costs
    little. Needs at least 2 rows.
    """
    rows = _as_rows(embeddings.detach()).float()
    if rows.shape[0] > max_rows:
        rows = rows[:: math.ceil(rows.shape[0] / max_rows)]
    if rows.shape[0] < 2:
        raise ValueError("embedding_spread needs at least 2 embeddings")
    dim = rows.shape[1]
    normalised = F.normalize(rows, dim=1)
    spread = float(normalised.std(dim=0).mean())
    singular = torch.linalg.svdvals(normalised - normalised.mean(dim=0, keepdim=True))
    p = singular / singular.sum().clamp_min(1e-12)
    entropy = float(-(p * torch.log(p.clamp_min(1e-12))).sum())
    return {"spread": spread, "spread_ratio": spread * math.sqrt(dim), "effective_rank": math.exp(entropy)}


@torch.no_grad()
def prototype_usage(scores: torch.Tensor) -> dict[str, float]:
    """``prototypes_used`` and ``prototype_perplexity`` of (B, K, H, W) or (N, K) scores.

    Each pixel (row) counts for the prototype with the highest score.
    """
    if scores.dim() == 4:
        winners = scores.argmax(dim=1).flatten()
    elif scores.dim() == 2:
        winners = scores.argmax(dim=1)
    else:
        raise ValueError(f"scores must be (N, K) or (B, K, H, W), got shape {tuple(scores.shape)}")
    counts = torch.bincount(winners, minlength=scores.shape[1]).float()
    p = counts / counts.sum().clamp_min(1.0)
    entropy = float(-(p[p > 0] * torch.log(p[p > 0])).sum())
    return {"prototypes_used": int((counts > 0).sum()), "prototype_perplexity": math.exp(entropy)}
