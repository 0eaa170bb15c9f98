"""Maximal marginal relevance: pick results that are relevant and not alike.

In scope: greedy MMR over unit vectors (Carbonell & Goldstein, 1998). Left
out: fetching candidates and any filtering (`recall.py` and the backends).
"""

from __future__ import annotations

import numpy as np


def mmr_select(
    query: np.ndarray,
    candidates: np.ndarray,
    k: int,
    lambda_: float = 0.7,
    bonus: np.ndarray | None = None,
) -> list[int]:
    """Indices of up to `k` candidates, in pick order.

    Each step takes the candidate maximising
    `lambda_ * (relevance + bonus) - (1 - lambda_) * max similarity to those picked`.
    Rows must be unit length (cosine = dot product); `bonus` adds a per-candidate
    prior such as a concept's strength.
    """
    n = len(candidates)
    if n == 0 or k <= 0:
        return []
    relevance = candidates @ query
    if bonus is not None:
        relevance = relevance + bonus
    picked: list[int] = []
    # Running max similarity of every candidate to the picked set.
    redundancy = np.full(n, -np.inf, dtype=np.float32)
    available = np.ones(n, dtype=bool)
    for _ in range(min(k, n)):
        penalty = np.where(np.isfinite(redundancy), redundancy, 0.0)
        score = lambda_ * relevance - (1.0 - lambda_) * penalty
        score = np.where(available, score, -np.inf)
        best = int(np.argmax(score))
        picked.append(best)
        available[best] = False
        redundancy = np.maximum(redundancy, candidates @ candidates[best])
    return picked
