"""Accuracy metrics checked against values worked out by hand."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from engine import metrics
from engine.metrics import apply_mapping, confusion_matrix, hungarian, match_clusters, scores_from_confusion


def test_confusion_matrix_rows_are_reference_and_ignore_is_skipped():
    ref = np.array([0, 0, 1, 1, 2, 255, 2])
    pred = np.array([0, 1, 1, 1, 0, 2, 255])
    cm = confusion_matrix(pred, ref, 3)
    assert cm.dtype == np.int64
    expected = np.array([[1, 1, 0], [0, 2, 0], [1, 0, 0]])
    np.testing.assert_array_equal(cm, expected)
    assert cm.sum() == 5  # the two pixels with 255 on either side are not counted


def test_confusion_matrix_skips_out_of_range_and_checks_shapes():
    cm = confusion_matrix(np.array([0, 7, -1]), np.array([0, 0, 0]), 2, ignore_index=None)
    np.testing.assert_array_equal(cm, [[1, 0], [0, 0]])
    with pytest.raises(ValueError):
        confusion_matrix(np.zeros(3), np.zeros(4), 2)


def test_scores_by_hand():
    # reference rows, prediction columns
    cm = np.array([[50, 10], [5, 35]])
    s = scores_from_confusion(cm)
    # class 0: tp 50, fn 10, fp 5 -> IoU 50/65, precision 50/55, recall 50/60, F1 100/115
    assert s["iou"][0] == pytest.approx(50 / 65)
    assert s["precision"][0] == pytest.approx(50 / 55)
    assert s["recall"][0] == pytest.approx(50 / 60)
    assert s["f1"][0] == pytest.approx(100 / 115)
    # class 1: tp 35, fn 5, fp 10 -> IoU 35/50
    assert s["iou"][1] == pytest.approx(35 / 50)
    assert s["miou"] == pytest.approx((50 / 65 + 35 / 50) / 2)
    assert s["overall_accuracy"] == pytest.approx(0.85)
    # kappa: po 0.85, pe = (60*55 + 40*45) / 100^2 = 0.51 -> (0.85-0.51)/0.49
    assert s["kappa"] == pytest.approx(0.34 / 0.49)
    assert s["support"] == [60, 40]
    assert s["pixels"] == 100


def test_miou_ignores_classes_absent_from_reference_and_nan_when_undefined():
    cm = np.array([[10, 0, 0], [0, 0, 0], [0, 5, 5]])  # class 1 never in the reference
    s = scores_from_confusion(cm)
    assert s["iou"][1] == 0.0  # predicted but absent: IoU defined (0), but not in the mean
    assert s["miou"] == pytest.approx((1.0 + 0.5) / 2)
    assert np.isnan(s["recall"][1])
    empty = scores_from_confusion(np.zeros((2, 2)))
    assert np.isnan(empty["miou"]) and np.isnan(empty["kappa"])


def test_perfect_agreement_has_kappa_one():
    s = scores_from_confusion(np.diag([3, 4, 5]))
    assert s["kappa"] == pytest.approx(1.0)
    assert s["miou"] == pytest.approx(1.0)


def _brute_force_best(cost):
    n = cost.shape[0]
    return min(sum(cost[i, p[i]] for i in range(n)) for p in itertools.permutations(range(cost.shape[1]), n))


@pytest.mark.parametrize("seed", range(6))
def test_numpy_hungarian_is_optimal(seed):
    rng = np.random.default_rng(seed)
    shape = [(4, 4), (5, 5), (3, 5), (5, 3), (6, 6), (1, 1)][seed]
    cost = rng.integers(0, 20, size=shape).astype(float)
    rows, cols = hungarian(cost)
    assert len(set(rows.tolist())) == len(rows) and len(set(cols.tolist())) == len(cols)
    assert len(rows) == min(shape)
    total = cost[rows, cols].sum()
    if shape[0] <= shape[1]:
        assert total == pytest.approx(_brute_force_best(cost))
    else:
        assert total == pytest.approx(_brute_force_best(cost.T))


def test_match_clusters_finds_the_permutation(monkeypatch):
    # cluster k mostly holds class perm[k]; a greedy match would pick wrongly for cluster 0
    perm = [2, 0, 3, 1]
    counts = np.full((4, 4), 1)
    for k, c in enumerate(perm):
        counts[k, c] = 100
    counts[0, 0] = 90  # tempting but cluster 1 needs class 0 more
    assert match_clusters(counts) == {0: 2, 1: 0, 2: 3, 3: 1}
    # the numpy fallback gives the same mapping when scipy is absent
    monkeypatch.setattr(metrics, "linear_sum_assignment", metrics.hungarian)
    assert match_clusters(counts) == {0: 2, 1: 0, 2: 3, 3: 1}


def test_match_clusters_majority_vote_when_counts_differ():
    counts = np.array([[9, 1], [2, 8], [7, 3], [0, 0]])  # 4 clusters, 2 classes
    assert match_clusters(counts) == {0: 0, 1: 1, 2: 0, 3: 0}
    cm = apply_mapping(counts, match_clusters(counts), 2)
    # reference rows: class 0 has 9+2+7 pixels; predicted 0 for clusters 0, 2
    np.testing.assert_array_equal(cm, [[16, 2], [4, 8]])
