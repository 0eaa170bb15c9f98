"""Selection and voting rules: how a final answer is chosen from N candidates.

In scope, as pure functions: Best-of-N (`best_of_n`, highest verifier
score), self-consistency (`majority_vote`, most frequent answer), weighted
self-consistency (`weighted_vote`, highest sum of verifier scores per
answer), `first_sample`, and the Pass@N oracle (`pass_at_n`). The `*_ties`
helpers return every winner, so an evaluation can score ties as the
expected result of a random pick instead of favouring position.
Left out: computing scores (verifiers) and averaging over problems
(`evaluate.py`).

Deterministic tie rule: the earliest candidate / first-seen answer wins.
A `None` answer (nothing extracted) never receives votes. Bad input (empty
lists, mismatched lengths, NaN scores) raises a `ValueError` that says which.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Answer = str | None


def _check_scores(scores: Sequence[float], what: str = "scores") -> list[float]:
    values = [float(s) for s in scores]
    if not values:
        raise ValueError(f"{what} is empty: give at least one candidate")
    for i, s in enumerate(values):
        if math.isnan(s):
            raise ValueError(f"{what}[{i}] is NaN")
    return values


def _check_lengths(n_left: int, n_right: int, left: str, right: str) -> None:
    if n_left != n_right:
        raise ValueError(f"{left} has {n_left} items but {right} has {n_right}; they must match")


def best_of_n_ties(scores: Sequence[float]) -> list[int]:
    """Indices of every candidate with the highest score, in order."""
    values = _check_scores(scores)
    top = max(values)
    return [i for i, s in enumerate(values) if s == top]


def best_of_n(candidates: Sequence[object], scores: Sequence[float]) -> int:
    """Index of the highest-scoring candidate; ties go to the earliest."""
    if not candidates:
        raise ValueError("candidates is empty: give at least one candidate")
    _check_lengths(len(candidates), len(scores), "candidates", "scores")
    return best_of_n_ties(scores)[0]


def vote_totals(
    answers: Sequence[Answer], weights: Sequence[float] | None = None
) -> dict[str, float]:
    """Votes per answer (1 each, or its weight), in first-seen order; `None` answers skipped."""
    if not answers:
        raise ValueError("answers is empty: give at least one candidate answer")
    if weights is None:
        weights = [1.0] * len(answers)
    else:
        weights = _check_scores(weights, "scores")
        _check_lengths(len(answers), len(weights), "answers", "scores")
    totals: dict[str, float] = {}
    for answer, weight in zip(answers, weights, strict=True):
        if answer is not None:
            totals[answer] = totals.get(answer, 0.0) + weight
    return totals


def vote_winners(answers: Sequence[Answer], weights: Sequence[float] | None = None) -> list[str]:
    """Every answer with the most votes, in first-seen order; empty when no answer was given."""
    totals = vote_totals(answers, weights)
    if not totals:
        return []
    top = max(totals.values())
    return [a for a, v in totals.items() if v == top]


def majority_vote(answers: Sequence[Answer]) -> Answer:
    """Self-consistency: the most frequent answer (ties: first seen); None if no answer."""
    winners = vote_winners(answers)
    return winners[0] if winners else None


def weighted_vote(answers: Sequence[Answer], scores: Sequence[float]) -> Answer:
    """Weighted self-consistency: the answer with the highest total score (ties: first seen)."""
    winners = vote_winners(answers, scores)
    return winners[0] if winners else None


def first_sample(candidates: Sequence[object]) -> int:
    """The no-verifier baseline: take the first candidate (index 0)."""
    if not candidates:
        raise ValueError("candidates is empty: give at least one candidate")
    return 0


def pass_at_n(correct_flags: Sequence[bool]) -> bool:
    """The oracle: whether any of the N candidates is correct."""
    if not correct_flags:
        raise ValueError("correct_flags is empty: give at least one candidate")
    return any(bool(c) for c in correct_flags)
