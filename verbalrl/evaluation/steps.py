"""Evaluating a process verifier on a pool: step-level AUC, and its step scores reused for Best-of-N.

In scope: scoring every step of every pool candidate once (`score_pool_steps`,
batched over problems), the step-level ROC AUC against the task's step
checker (`step_auc`: each step's score against "no step so far is wrong"),
and `PrecomputedProcess`, a process verifier answering from those scores, so
Best-of-N with every aggregation (`OutcomeFromProcess(..., how)`) costs no
second pass. Left out: Best-of-N itself (`evaluate.py`).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..tasks.base import Problem, Task
from ..verifier.base import Usage, check_candidates
from ..verifier.process import ProcessVerifier, StepScores
from .metrics import roc_auc
from .pool import CandidateRecord, group_by_problem


def score_pool_steps(
    verifier: ProcessVerifier, records: Sequence[CandidateRecord], problems_per_call: int = 8
) -> dict[tuple[str, str], list[float]]:
    """(problem id, candidate text) -> step scores, for every record of a pool."""
    groups = group_by_problem(records)
    out: dict[tuple[str, str], list[float]] = {}
    many = getattr(verifier, "score_steps_many", None)
    for start in range(0, len(groups), problems_per_call):
        chunk = groups[start : start + problems_per_call]
        items = [(g.problem, [c.text for c in g.candidates]) for g in chunk]
        results = many(items) if callable(many) else [verifier.score_steps(p, c) for p, c in items]
        for (problem, texts), result in zip(items, results, strict=True):
            for text, scores in zip(texts, result.scores, strict=True):
                out[(problem.id, text)] = list(scores)
    return out


def step_auc(
    task: Task, records: Sequence[CandidateRecord], scores: dict[tuple[str, str], list[float]]
) -> tuple[float | None, int]:
    """ROC AUC of step scores against the step checker's prefix labels, and the number of steps.

    Pool candidates are complete: a last step whose solution's answer is wrong is labelled wrong.
    """
    prefix_labels = getattr(task, "prefix_labels", None)
    if not callable(prefix_labels):
        raise ValueError(f"task {task.name!r} has no step checker: step-level AUC needs one")
    flat_scores: list[float] = []
    flat_labels: list[bool] = []
    for group in group_by_problem(records):
        for candidate in group.candidates:
            labels = prefix_labels(group.problem, candidate.text, finished=True)
            row = scores[(group.problem.id, candidate.text)]
            flat_scores += row[: len(labels)]
            flat_labels += labels[: len(row)]
    return roc_auc(flat_scores, flat_labels), len(flat_scores)


class PrecomputedProcess:
    """A process verifier that answers from precomputed step scores (KeyError for unknown text)."""

    def __init__(self, scores: dict[tuple[str, str], list[float]], name: str = "prm") -> None:
        self.scores, self.name = scores, name

    def score_steps(self, problem: Problem, candidates: Sequence[str]) -> StepScores:
        from ..tasks.answers import split_steps

        items = check_candidates(candidates)
        return StepScores(
            steps=[split_steps(c) for c in items],
            scores=[list(self.scores[(problem.id, c)]) for c in items],
            usage=Usage(llm_calls=len(items)),
        )
