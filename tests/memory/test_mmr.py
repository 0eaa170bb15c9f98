"""MMR picks relevant and diverse results."""

from __future__ import annotations

import numpy as np

from verbalrl.memory.mmr import mmr_select


def _unit(*rows: list[float]) -> np.ndarray:
    arr = np.array(rows, dtype=np.float32)
    return arr / np.linalg.norm(arr, axis=1, keepdims=True)


def test_mmr_skips_a_duplicate_of_what_it_already_picked() -> None:
    query = _unit([1, 0, 0])[0]
    cands = _unit([1, 0.1, 0], [1, 0.1, 0.001], [1, -0.5, 0.5])
    assert mmr_select(query, cands, 2, lambda_=0.5) == [0, 2]
    assert mmr_select(query, cands, 2, lambda_=1.0) == [0, 1]  # relevance only


def test_mmr_bonus_and_edge_cases() -> None:
    query = _unit([1, 0])[0]
    cands = _unit([1, 0.2], [1, 0.3])
    assert mmr_select(query, cands, 1, 1.0) == [0]
    assert mmr_select(query, cands, 1, 1.0, bonus=np.array([0.0, 0.5])) == [1]
    assert mmr_select(query, cands, 5) == [0, 1]
    assert mmr_select(query, cands[:0], 3) == []
