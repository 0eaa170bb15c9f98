"""Selection: how a final answer is chosen from N candidates, in one place.

In scope, as small composable objects in the spirit of DSPy's `BestOfN`
(each `choose`s among already-scored candidates, and `select`s by scoring
them with its verifier first): `BestOfN` (highest verifier score),
`SelfConsistency` (most frequent answer), `WeightedVote` (highest sum of
verifier scores per answer) and `FirstSample`; the graphs, the run
baselines and the Best-of-N evaluation all use them. Under them, as pure
functions: `best_of_n`, `majority_vote`, `weighted_vote`, `first_sample`,
the Pass@N oracle `pass_at_n`, and `*_ties` helpers returning every winner
so an evaluation can score ties as the expected result of a random pick.
`score_candidates` is the one guarded verifier call (a verifier that raises
gives an error, never a crash). Left out: averaging over problems
(`verbalrl.evaluation`).

Deterministic tie rule: the earliest candidate / first-seen answer wins.
A candidate without an answer (nothing extracted) is a failed draft: it is
never chosen and never receives votes. Bad input (empty lists, mismatched
lengths, NaN scores) raises a `ValueError` that says which.
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from .errors import ServiceUnavailableError

if TYPE_CHECKING:
    from .tasks.base import Problem
    from .verifier.base import Usage, Verifier

log = logging.getLogger(__name__)

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


# ----------------------------------------------------------------- composable selectors
@dataclass(frozen=True)
class Scored:
    """One candidate as selection sees it: its extracted answer (None: failed) and verifier score."""

    answer: str | None
    score: float | None = None


@dataclass(frozen=True)
class Choice:
    """What a selector chose: the candidate's index, its answer, and the score behind the choice.

    `index` is None when no candidate qualifies (none has an answer, or none is scored).
    """

    index: int | None
    answer: str | None
    score: float | None = None


@dataclass
class Scoring:
    """The outcome of one guarded verifier call: scores in [0, 1], details, compute, or an error."""

    scores: list[float]
    details: list[dict[str, object]]
    usage: Usage | None = None
    error: str | None = None


def score_candidates(verifier: Verifier, problem: Problem, texts: Sequence[str]) -> Scoring:
    """Score `texts` in one verifier call, clamped to [0, 1]; a verifier that raises gives `error`.

    A failing verifier must end a loop with what it has, not crash a run of many problems.
    A verifier whose model server is down (`ServiceUnavailableError`) is not a verifier
    failure: it propagates, so the run stops and resumes later instead of recording a result.
    """
    try:
        verification = verifier.verify(problem, list(texts))
        scores = [min(1.0, max(0.0, float(s))) for s in verification.scores]
        if len(scores) != len(texts):
            raise ValueError(f"verifier returned {len(scores)} scores for {len(texts)} candidates")
    except ServiceUnavailableError:
        raise
    except Exception as exc:  # noqa: BLE001 - see the docstring
        log.warning("verifier %s failed: %s", getattr(verifier, "name", "?"), exc)
        return Scoring([], [], None, f"verifier error: {type(exc).__name__}: {exc}")
    details = list(verification.details or [{} for _ in scores])
    return Scoring(scores, details, verification.usage)


class Selector(Protocol):
    """Chooses one of N scored candidates."""

    name: str

    def choose(self, candidates: Sequence[Scored]) -> Choice:
        """The chosen candidate (never one without an answer)."""
        ...


@dataclass
class _Scoring(ABC):
    """Shared by the selectors that need verifier scores: `select` scores, then chooses."""

    verifier: Verifier | None = None

    @abstractmethod
    def choose(self, candidates: Sequence[Scored]) -> Choice:
        """The chosen candidate (each subclass says how)."""

    def select(
        self, problem: Problem, texts: Sequence[str], answers: Sequence[str | None]
    ) -> tuple[Choice, Scoring]:
        """Score the candidates that have an answer with the verifier, then choose among them."""
        if self.verifier is None:
            raise ValueError(f"{type(self).__name__} needs a verifier to select (or call choose)")
        _check_lengths(len(texts), len(answers), "texts", "answers")
        todo = [i for i, a in enumerate(answers) if a is not None]
        if not todo:
            return Choice(None, None), Scoring([0.0] * len(texts), [{} for _ in texts])
        scoring = score_candidates(self.verifier, problem, [texts[i] for i in todo])
        if scoring.error is not None:
            return Choice(None, None), scoring
        scores: list[float | None] = [None] * len(texts)
        for i, s in zip(todo, scoring.scores, strict=True):
            scores[i] = s
        choice = self.choose([Scored(a, s) for a, s in zip(answers, scores, strict=True)])
        return choice, scoring


@dataclass
class BestOfN(_Scoring):
    """Best-of-N: the highest-scoring candidate with an answer (ties: the earliest)."""

    n: int | None = None
    name: str = field(default="best_of_n")

    def __post_init__(self) -> None:
        if self.n is not None:
            self.name = f"best_of_{self.n}"

    def choose(self, candidates: Sequence[Scored]) -> Choice:
        best: int | None = None
        for i, c in enumerate(candidates):
            if c.answer is None or c.score is None:
                continue
            if best is None or c.score > candidates[best].score:  # type: ignore[operator]
                best = i
        if best is None:
            return Choice(None, None)
        return Choice(best, candidates[best].answer, candidates[best].score)


@dataclass
class WeightedVote(_Scoring):
    """Weighted self-consistency: the answer with the highest total score.

    The choice's score is the best score among that answer's candidates (what a threshold compares).
    """

    name: str = "weighted_vote"

    def choose(self, candidates: Sequence[Scored]) -> Choice:
        scored = [(i, c) for i, c in enumerate(candidates) if c.score is not None]
        if not scored:
            return Choice(None, None)
        answer = weighted_vote([c.answer for _, c in scored], [c.score for _, c in scored])  # type: ignore[misc]
        if answer is None:
            return Choice(None, None)
        mine = [(i, c) for i, c in scored if c.answer == answer]
        index, best = max(mine, key=lambda item: (item[1].score, -item[0]))
        return Choice(index, answer, best.score)


@dataclass
class SelfConsistency:
    """Self-consistency: the most frequent answer (ties: first seen); needs no verifier."""

    n: int | None = None
    name: str = field(default="self_consistency")

    def __post_init__(self) -> None:
        if self.n is not None:
            self.name = f"self_consistency@{self.n}"

    def choose(self, candidates: Sequence[Scored]) -> Choice:
        if not candidates:
            return Choice(None, None)
        answer = majority_vote([c.answer for c in candidates])
        if answer is None:
            return Choice(None, None)
        return Choice(next(i for i, c in enumerate(candidates) if c.answer == answer), answer)


@dataclass
class FirstSample:
    """The no-verifier baseline: the first candidate, whatever it says."""

    name: str = "first_sample"

    def choose(self, candidates: Sequence[Scored]) -> Choice:
        if not candidates:
            return Choice(None, None)
        return Choice(0, candidates[0].answer, candidates[0].score)
