"""Accuracy of a segmentation against a reference: confusion matrix and the scores from it.

Everything is computed from one confusion matrix so that a raster of any size can be
scored by adding up per-window matrices (see :mod:`engine.evaluate`). Rows are reference
classes, columns predicted classes, the convention of remote-sensing accuracy assessment
(Congalton & Green) and of scikit-learn.

Unsupervised outputs (cluster maps) have arbitrary ids: :func:`match_clusters` maps each
cluster to a class before scoring, one-to-one (Hungarian) when there are as many clusters
as classes, by majority vote otherwise.

numpy only: the engine runs inside QGIS's Python, where scipy may be missing.
"""
from __future__ import annotations

import numpy as np


def confusion_matrix(pred: np.ndarray, ref: np.ndarray, num_classes: int, ignore_index: int | None = 255) -> np.ndarray:
    """(num_classes, num_classes) int64 counts: ``cm[r, p]`` pixels of reference r predicted p.

    Pixels where the reference or the prediction equals ``ignore_index``, or where either
    lies outside ``[0, num_classes)``, are skipped (they carry no class to compare).
    One ``np.bincount`` over ``ref * n + pred``: fast on millions of pixels.
    """
    pred = np.asarray(pred).ravel()
    ref = np.asarray(ref).ravel()
    if pred.shape != ref.shape:
        raise ValueError(f"prediction and reference differ in size: {pred.size} vs {ref.size} pixels")
    n = int(num_classes)
    if n < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    pred = pred.astype(np.int64, copy=False)
    ref = ref.astype(np.int64, copy=False)
    keep = (pred >= 0) & (pred < n) & (ref >= 0) & (ref < n)
    if ignore_index is not None:
        keep &= (pred != ignore_index) & (ref != ignore_index)
    counts = np.bincount(ref[keep] * n + pred[keep], minlength=n * n)
    return counts.reshape(n, n).astype(np.int64)


def _safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Num / den, NaN where den is 0 (a score that is undefined, not zero)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def scores_from_confusion(cm: np.ndarray) -> dict:
    """Per-class and overall scores of a (reference x prediction) confusion matrix.

    Returns a dict with lists ``iou``, ``f1``, ``precision``, ``recall``, ``support``
    (reference pixels per class) and numbers ``miou`` (mean IoU over the classes present
    in the reference: a class absent from the reference would only add an arbitrary 0 or
    NaN), ``overall_accuracy``, ``kappa`` (Cohen's) and ``pixels``. Undefined per-class
    scores are NaN.
    """
    cm = np.asarray(cm, dtype=np.float64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"confusion matrix must be square, got shape {cm.shape}")
    tp = np.diag(cm)
    ref_total = cm.sum(axis=1)   # support
    pred_total = cm.sum(axis=0)
    total = cm.sum()
    iou = _safe_divide(tp, ref_total + pred_total - tp)
    precision = _safe_divide(tp, pred_total)
    recall = _safe_divide(tp, ref_total)
    f1 = _safe_divide(2 * tp, ref_total + pred_total)
    present = ref_total > 0
    miou = float(np.nanmean(np.where(present, np.nan_to_num(iou), np.nan))) if present.any() else float("nan")
    if total > 0:
        observed = tp.sum() / total
        expected = float((ref_total * pred_total).sum()) / (total * total)
        kappa = (observed - expected) / (1.0 - expected) if expected < 1.0 else (1.0 if observed == 1.0 else 0.0)
    else:
        observed = kappa = float("nan")
    return {
        "iou": iou.tolist(),
        "f1": f1.tolist(),
        "precision": precision.tolist(),
        "recall": recall.tolist(),
        "support": [int(s) for s in ref_total],
        "miou": miou,
        "overall_accuracy": float(observed),
        "kappa": float(kappa),
        "pixels": int(total),
    }


def linear_sum_assignment(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of a minimum-cost one-to-one assignment (rows <= columns).

    Uses scipy when importable, otherwise the O(n^3) Hungarian algorithm with potentials
    (Jonker-Volgenant style shortest augmenting paths), written here in numpy so the
    engine never depends on scipy.
    """
    cost = np.asarray(cost, dtype=np.float64)
    try:
        from scipy.optimize import linear_sum_assignment as scipy_lsa
    except ImportError:
        return hungarian(cost)
    rows, cols = scipy_lsa(cost)
    return np.asarray(rows), np.asarray(cols)


def hungarian(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-cost assignment in pure numpy; same result shape as scipy's function.

    Handles rectangular matrices by transposing so that rows <= columns.
    """
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2:
        raise ValueError("cost must be a 2-D matrix")
    if cost.shape[0] > cost.shape[1]:
        cols, rows = hungarian(cost.T)
        order = np.argsort(rows)
        return rows[order], cols[order]
    n, m = cost.shape
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    # 1-based arrays as in the classic formulation; column 0 is a virtual start.
    u = np.zeros(n + 1)
    v = np.zeros(m + 1)
    owner = np.zeros(m + 1, dtype=np.int64)  # owner[j]: row assigned to column j (0 = none)
    for i in range(1, n + 1):
        owner[0] = i
        j0 = 0
        min_to = np.full(m + 1, np.inf)
        previous = np.zeros(m + 1, dtype=np.int64)
        used = np.zeros(m + 1, dtype=bool)
        while True:
            used[j0] = True
            i0 = owner[j0]
            free = ~used[1:]
            reduced = cost[i0 - 1] - u[i0] - v[1:]
            better = free & (reduced < min_to[1:])
            min_to[1:][better] = reduced[better]
            previous[1:][better] = j0
            candidates = np.where(free, min_to[1:], np.inf)
            j1 = int(np.argmin(candidates)) + 1
            delta = candidates[j1 - 1]
            u[owner[used]] += delta
            v[used] -= delta
            min_to[1:][free] -= delta
            j0 = j1
            if owner[j0] == 0:
                break
        while j0:  # augment along the path back to the virtual column
            j1 = previous[j0]
            owner[j0] = owner[j1]
            j0 = j1
    rows, cols = [], []
    for j in range(1, m + 1):
        if owner[j]:
            rows.append(owner[j] - 1)
            cols.append(j - 1)
    order = np.argsort(rows)
    return np.asarray(rows, dtype=np.int64)[order], np.asarray(cols, dtype=np.int64)[order]


def match_clusters(cm_clusters_vs_classes: np.ndarray) -> dict[int, int]:
    """Map each cluster id to a class id from a (clusters x classes) count matrix.

    With as many clusters as classes, the one-to-one mapping with most agreeing pixels
    (Hungarian matching, the standard for unsupervised segmentation). Otherwise each
    cluster goes to the class most of its pixels belong to (majority vote), which lets
    several clusters share a class. Clusters with no reference pixel map to the class
    most common overall, so every cluster gets a class.
    """
    cm = np.asarray(cm_clusters_vs_classes, dtype=np.float64)
    if cm.ndim != 2:
        raise ValueError("cluster/class matrix must be 2-D (clusters x classes)")
    n_clusters, n_classes = cm.shape
    if n_clusters == 0 or n_classes == 0:
        return {}
    if n_clusters == n_classes:
        rows, cols = linear_sum_assignment(-cm)
        return {int(r): int(c) for r, c in zip(rows, cols)}
    fallback = int(np.argmax(cm.sum(axis=0)))
    return {k: (int(np.argmax(cm[k])) if cm[k].sum() > 0 else fallback) for k in range(n_clusters)}


def apply_mapping(cm_clusters_vs_classes: np.ndarray, mapping: dict[int, int], num_classes: int) -> np.ndarray:
    """Turn a (clusters x classes) count matrix into a (classes x classes) confusion matrix.

    ``cm_clusters_vs_classes[k, c]`` counts pixels of cluster k with reference c; after
    mapping cluster k to class ``mapping[k]`` they count as reference c predicted
    ``mapping[k]`` (rows reference, columns prediction, as :func:`confusion_matrix`).
    """
    counts = np.asarray(cm_clusters_vs_classes, dtype=np.int64)
    out = np.zeros((num_classes, num_classes), dtype=np.int64)
    for cluster, cls in mapping.items():
        out[:, cls] += counts[cluster]
    return out
