"""The paired gain every benchmark row reports: mean and standard error of per-seed differences.

Why paired: a seed fixes the labelled subset, the random network and the fine-tuning seed of
both rows it compares, so ``values[i] - baseline[i]`` differs in the pretraining alone. The
spread of those differences is much smaller than the spread of either row over seeds (a hard
labelled subset lowers both), so the paired standard error tells a gain from noise with
fewer seeds than a difference of two means would (see e.g. Dror et al., "The Hitchhiker's
Guide to Testing Statistical Significance in NLP", ACL 2018, on paired tests).

numpy only, so reading results (``bench/compare_results.py``) needs no torch.

Example::

    >>> mean, se = paired_difference([3.0, 5.0, 7.0], [1.0, 1.0, 1.0])
    >>> mean, round(se, 4)
    (4.0, 1.1547)
"""
from __future__ import annotations

import math

import numpy as np


def paired_difference(values: list[float], baseline: list[float]) -> tuple[float, float | None]:
    """Mean and standard error (ddof=1, over sqrt(n)) of ``values[i] - baseline[i]``; the
    standard error is None for a single pair (no spread to estimate)."""
    diffs = np.asarray(values, dtype=np.float64) - np.asarray(baseline, dtype=np.float64)
    se = float(diffs.std(ddof=1) / math.sqrt(diffs.size)) if diffs.size > 1 else None
    return float(diffs.mean()), se
