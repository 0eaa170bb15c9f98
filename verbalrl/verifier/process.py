"""Process verifiers: a score after every step of a (partial) solution, and how to aggregate them.

In scope: the `ProcessVerifier` protocol (per candidate, one score in [0, 1]
per step: the probability that the solution so far is still right), the
`StepScores` result, the aggregations that turn step scores into one
solution score (`last`, `min`, `prod`), `OutcomeFromProcess` (a process
verifier used wherever a `Verifier` is expected, e.g. Best-of-N), and the
oracle `CheckerStepVerifier` (the task's step checker; it reads the gold
answer, so it is for experiments and training labels, never for decisions).
Left out: the GenRM-style PRM model (`prm.py`), training and search.

A step is a non-blank line (`verbalrl.tasks.split_steps`); a candidate with no
step gets no scores and aggregates to 0.0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeAlias, runtime_checkable

from ..tasks.answers import split_steps
from ..tasks.base import Problem, Task
from .base import Usage, Verification, check_candidates

Aggregation: TypeAlias = Literal["last", "min", "prod"]
AGGREGATIONS: tuple[Aggregation, ...] = ("last", "min", "prod")


@dataclass
class StepScores:
    """Step scores of one problem's candidates (same order) and the compute they cost."""

    steps: list[list[str]]
    scores: list[list[float]]
    usage: Usage = field(default_factory=Usage)

    def aggregate(self, how: Aggregation = "min") -> list[float]:
        """One score per candidate (see `aggregate`)."""
        return [aggregate(s, how) for s in self.scores]


@runtime_checkable
class ProcessVerifier(Protocol):
    """Scores every step of candidate solutions; higher is more likely still right."""

    name: str

    def score_steps(self, problem: Problem, candidates: Sequence[str]) -> StepScores:
        """Per candidate, one score in [0, 1] per non-blank line, in order."""
        ...


def aggregate(scores: Sequence[float], how: Aggregation = "min") -> float:
    """One solution score from step scores: the last step's, the minimum, or the product.

    No steps gives 0.0 (nothing to trust); an unknown `how` raises `ValueError`.
    """
    if how not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {how!r}: use one of {', '.join(AGGREGATIONS)}")
    if not scores:
        return 0.0
    if how == "last":
        return float(scores[-1])
    if how == "min":
        return float(min(scores))
    return float(math.prod(scores))


class OutcomeFromProcess:
    """A `ProcessVerifier` as a `Verifier`: each candidate's aggregated step score.

    `details` carries each candidate's step scores, so a report can show where
    a solution went wrong.
    """

    def __init__(self, process: ProcessVerifier, how: Aggregation = "min") -> None:
        aggregate([], how)  # validates `how`
        self.process, self.how = process, how
        self.name = f"{process.name}@{how}"

    def verify(self, problem: Problem, candidates: Sequence[str]) -> Verification:
        steps = self.process.score_steps(problem, check_candidates(candidates))
        details: list[dict[str, object]] = [{"step_scores": list(s)} for s in steps.scores]
        return Verification(scores=steps.aggregate(self.how), usage=steps.usage, details=details)


class CheckerStepVerifier:
    """The task's step checker as a process verifier: 1.0 while no step so far is wrong.

    An oracle (it reads the gold chain). The task must have `prefix_labels`
    (the chain task does); others raise `ValueError` when built. As a
    `Verifier` (`verify`) a candidate scores 1.0 when no step is wrong and its
    answer checks.
    """

    name = "step-checker"

    def __init__(self, task: Task) -> None:
        if not callable(getattr(task, "prefix_labels", None)):
            raise ValueError(f"task {task.name!r} has no step checker (no prefix_labels method)")
        self.task = task

    def score_steps(self, problem: Problem, candidates: Sequence[str]) -> StepScores:
        items = check_candidates(candidates)
        labels = [self.task.prefix_labels(problem, c) for c in items]  # type: ignore[attr-defined]
        return StepScores(
            steps=[split_steps(c) for c in items],
            scores=[[float(x) for x in row] for row in labels],
        )

    def verify(self, problem: Problem, candidates: Sequence[str]) -> Verification:
        items = check_candidates(candidates)
        steps = self.score_steps(problem, items)
        scores = [
            float(aggregate(s, "min") == 1.0 and self.task.check(problem, self.task.extract_answer(c)))
            for s, c in zip(steps.scores, items, strict=True)
        ]
        return Verification(scores=scores, usage=Usage())
