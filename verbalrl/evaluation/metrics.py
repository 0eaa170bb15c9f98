"""Statistics for verifier evaluation: bootstrap intervals, ROC AUC, gap closed.

In scope: a percentile bootstrap of a mean over problems (`bootstrap_ci`),
the ROC AUC of scores against correctness via the Mann-Whitney U statistic
with mid-ranks for ties (`roc_auc`), and the fraction of the first-sample to
Pass@N gap a method closes (`gap_closed`). Left out: drawing subsets and
choosing answers (`evaluate.py`, `selection.py`). No scikit-learn: these
are a few lines each and must behave exactly as documented on ties.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def bootstrap_ci(
    values: Sequence[float], n_resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of `values` (one value per problem).

    Problems are resampled with replacement `n_resamples` times with a seeded
    generator, so the interval is reproducible.
    """
    data = np.asarray(list(values), dtype=float)
    if data.size == 0:
        raise ValueError("values is empty: need at least one problem to bootstrap")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    means = np.empty(n_resamples)
    # Chunks bound memory at ~1M indices whatever the pool size.
    chunk = max(1, 1_000_000 // data.size)
    for start in range(0, n_resamples, chunk):
        stop = min(n_resamples, start + chunk)
        idx = rng.integers(0, data.size, size=(stop - start, data.size))
        means[start:stop] = data[idx].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return float(low), float(high)


def _midranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, tied values sharing the average of the ranks they span."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        rank = (i + j) / 2.0 + 1.0
        for k in range(i, j + 1):
            ranks[order[k]] = rank
        i = j + 1
    return ranks


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """P(score of a random correct > score of a random wrong), ties counting one half.

    None when every label is the same (the AUC is undefined, not 0.5).
    """
    if len(scores) != len(labels):
        raise ValueError(f"scores has {len(scores)} items but labels has {len(labels)}")
    values = [float(s) for s in scores]
    if any(math.isnan(s) for s in values):
        raise ValueError("scores contain NaN")
    n_pos = sum(1 for y in labels if y)
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = _midranks(values)
    rank_sum = sum(r for r, y in zip(ranks, labels, strict=True) if y)
    u = rank_sum - n_pos * (n_pos + 1) / 2.0
    return u / (n_pos * n_neg)


def gap_closed(method: float, first: float, oracle: float) -> float | None:
    """(method - first) / (oracle - first); None when the oracle does not beat the first sample."""
    gap = oracle - first
    if gap <= 1e-12:
        return None
    return (method - first) / gap
