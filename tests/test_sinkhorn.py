"""Sinkhorn-Knopp gives balanced assignments: rows are distributions, prototypes share the mass."""
from __future__ import annotations

import torch

from training.methods.sinkhorn import sinkhorn_knopp, sinkhorn_maps


def test_rows_sum_to_one_and_clusters_are_near_uniform():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    n, k = 2048, 16
    # skewed scores: most samples prefer prototype 0, the collapse Sinkhorn must undo
    scores = torch.randn(n, k) * 0.1
    scores[:, 0] += 0.5
    q = sinkhorn_knopp(scores, temperature=0.07, iterations=3)
    assert q.shape == (n, k)
    assert torch.allclose(q.sum(dim=1), torch.ones(n), atol=1e-4)
    marginals = q.sum(dim=0) / n
    assert torch.all((marginals - 1 / k).abs() < 0.2 / k), marginals
    # the plain softmax is far from balanced, so the test would catch a no-op
    plain = torch.softmax(scores / 0.07, dim=1).sum(dim=0) / n
    assert plain[0] > 5 / k


def test_more_iterations_balance_better_and_keep_preferences():
    torch.manual_seed(1)
    scores = torch.randn(512, 8)
    q3 = sinkhorn_knopp(scores, 0.07, 3)
    q20 = sinkhorn_knopp(scores, 0.07, 20)
    spread = lambda q: (q.sum(0) / q.shape[0] - 1 / 8).abs().max()
    assert spread(q20) <= spread(q3) + 1e-6
    # a sample's favourite prototype keeps a large share of its mass
    assert (q3.argmax(dim=1) == scores.argmax(dim=1)).float().mean() > 0.5


def test_maps_keep_layout():
    torch.manual_seed(2)
    scores = torch.randn(2, 5, 3, 4)
    q = sinkhorn_maps(scores)
    assert q.shape == scores.shape
    assert torch.allclose(q.sum(dim=1), torch.ones(2, 3, 4), atol=1e-4)
    flat = sinkhorn_knopp(scores.permute(0, 2, 3, 1).reshape(-1, 5))
    assert torch.allclose(q[1, :, 2, 3], flat[1 * 12 + 2 * 4 + 3], atol=1e-6)
