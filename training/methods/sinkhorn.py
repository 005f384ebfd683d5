"""Sinkhorn-Knopp: turn teacher scores into balanced soft cluster assignments.

Self-distillation onto a plain softmax of the teacher collapses: every pixel drifts to
one prototype. SwAV's fix, which SDCluster uses for its teacher targets, is to ask for
an assignment matrix Q (pixels x prototypes) whose rows are distributions (each pixel
is assigned) and whose columns all carry the same mass (every prototype gets 1/K of the
pixels), as close as possible to ``softmax(scores / temperature)``. A few alternating
row/column normalisations of ``exp(scores / temperature)`` approximate it.

Under torchrun the column sums and the pixel count are summed over processes, so the
balance holds over the global batch, as in the authors' code.
"""
from __future__ import annotations

import torch

from training.distributed import all_reduce_sum


@torch.no_grad()
def sinkhorn_knopp(scores: torch.Tensor, temperature: float = 0.07, iterations: int = 3) -> torch.Tensor:
    """Balanced assignments for ``scores`` (N samples x K prototypes).

    Returns (N, K): every row sums to one; with enough iterations every column sums to
    about N/K (over all processes). Computed in float32 with the per-row maximum
    subtracted first, which leaves the result unchanged (rows are renormalised) but
    keeps ``exp`` finite for cosine scores / 0.07.
    """
    if scores.dim() != 2:
        raise ValueError(f"sinkhorn_knopp expects (samples, prototypes), got {tuple(scores.shape)}")
    logits = scores.float() / temperature
    q = torch.exp(logits - logits.max(dim=1, keepdim=True).values).t()   # (K, N)
    k = q.shape[0]
    n = all_reduce_sum(torch.tensor(float(q.shape[1]), device=q.device))
    q = q / all_reduce_sum(q.sum()).clamp_min(1e-30)
    for _ in range(iterations):
        # each prototype (row) gets a total mass of 1/K
        rows = all_reduce_sum(q.sum(dim=1, keepdim=True))
        q = q / rows.clamp_min(1e-30) / k
        # each sample (column) gets a total mass of 1/N
        q = q / q.sum(dim=0, keepdim=True).clamp_min(1e-30) / n
    return (q * n).t().to(scores.dtype)


def sinkhorn_maps(scores: torch.Tensor, temperature: float = 0.07, iterations: int = 3) -> torch.Tensor:
    """:func:`sinkhorn_knopp` over every pixel of a (B, K, H, W) score map; same shape back."""
    b, k, h, w = scores.shape
    flat = scores.permute(0, 2, 3, 1).reshape(-1, k)
    q = sinkhorn_knopp(flat, temperature, iterations)
    return q.reshape(b, h, w, k).permute(0, 3, 1, 2)
