"""Labels for self-training: with the task's checkers (feedback), or with the current verifiers only.

In scope: `feedback_labels` (outcomes by the task's exact checker, steps by
its step checker, or Math-Shepherd rollouts by the policy where it has none)
and `verifier_labels` (outcomes = the outcome verifier's score >= threshold,
or, with `top_fraction`, the top fraction of the pool by that score: the
threshold is then read from the score distribution, since a verifier's scale
need not sit around 0.5; steps = the process verifier's step scores >= threshold, kept non-increasing
since a step label means "no step so far is wrong"; without a process
verifier every step gets its candidate's outcome label). `verifier_labels`
never reads a record's `correct` field or gold answer: the only place the
checker appears is `agreement`, a diagnostic for the manifest. Both return a
`Labels`: the pool relabelled (`correct` = the training label, what the
policy and GenRM trainers read), per-candidate rows for `labels.jsonl`, and
step examples for the PRM. Left out: the loop (`self_train.py`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..evaluation.pool import CandidateRecord, group_by_problem
from ..llm.base import LLM, GenerationConfig
from ..tasks.answers import split_steps
from ..tasks.base import Task
from ..verifier.base import Verifier
from .step_labels import StepExample, checker_step_examples, rollout_step_examples


@dataclass
class Labels:
    """A labelled pool, where each label came from, and the PRM's step examples."""

    records: list[CandidateRecord]
    rows: list[dict[str, Any]]
    steps: list[StepExample]
    outcome_source: str
    step_source: str
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        positives = sum(r.correct for r in self.records)
        return {
            "outcome_labels": self.outcome_source,
            "step_labels": self.step_source,
            "candidates": len(self.records),
            "positives": positives,
            "negatives": len(self.records) - positives,
            "step_examples": len(self.steps),
            "steps": sum(len(e.labels) for e in self.steps),
            **self.extra,
        }


def has_step_checker(task: Task) -> bool:
    return callable(getattr(task, "prefix_labels", None))


def feedback_labels(
    task: Task,
    records: Sequence[CandidateRecord],
    *,
    policy: LLM | None = None,
    rollouts: int = 2,
    config: GenerationConfig | None = None,
    steps: bool = True,
    progress: bool = True,
) -> Labels:
    """Outcomes by the checker; steps by the step checker, or rollouts by `policy` (needed then)."""
    rows = [_row(r, r.correct, None) for r in records]
    if not steps:
        return Labels(list(records), rows, [], "checker", "none")
    if has_step_checker(task):
        return Labels(list(records), rows, checker_step_examples(task, records), "checker", "step-checker")
    if policy is None:
        raise ValueError(f"task {task.name!r} has no step checker: rollout step labels need the policy")
    examples = rollout_step_examples(
        policy, task, records, rollouts, config or GenerationConfig(), progress=progress
    )
    return Labels(list(records), rows, examples, "checker", f"rollouts (k={rollouts}, by the policy)")


def verifier_labels(
    records: Sequence[CandidateRecord],
    verifier: Verifier,
    *,
    threshold: float,
    process: Any | None = None,
    step_threshold: float = 0.5,
    top_fraction: float | None = None,
) -> Labels:
    """Labels from the verifiers alone: `verifier`'s scores and `process`'s step scores (if given).

    With `top_fraction` the outcome threshold is not `threshold` but the score of the
    ceil(top_fraction x n)-th best of the n candidates (ties at it are labelled right too).
    """
    groups = group_by_problem(records)
    scored = [[float(s) for s in verifier.verify(g.problem, g.texts).scores] for g in groups]
    source = f"verifier {verifier.name} >= {threshold}"
    extra: dict[str, Any] = {}
    if top_fraction is not None:
        threshold = top_threshold([s for scores in scored for s in scores], top_fraction)
        source = f"verifier {verifier.name}, top {top_fraction:g} of the pool (score >= {threshold:.4g})"
        extra["threshold_used"] = threshold
    out: list[CandidateRecord] = []
    rows, examples = [], []
    for group, scores in zip(groups, scored, strict=True):
        texts = group.texts
        step_scores = process.score_steps(group.problem, texts).scores if process is not None else None
        for i, (record, score) in enumerate(zip(group.candidates, scores, strict=True)):
            label = score >= threshold
            out.append(record.model_copy(update={"correct": label}))
            steps = split_steps(record.text)
            if step_scores is not None:
                step_labels = _prefix(step_scores[i][: len(steps)], step_threshold)
            else:
                step_labels = [float(label)] * len(steps)
            rows.append(_row(record, label, score, step_labels if steps else None))
            if steps and len(step_labels) == len(steps):
                examples.append(
                    StepExample(
                        question=record.question,
                        steps=steps,
                        labels=step_labels,
                        source="verifier",
                        problem_id=record.problem_id,
                    )
                )
    step_source = (
        f"process verifier {process.name} >= {step_threshold}"
        if process is not None
        else ("the outcome verifier's label on every step")
    )
    extra["agreement_with_checker"] = agreement(records, out)
    return Labels(out, rows, examples, source, step_source, extra=extra)


def top_threshold(scores: Sequence[float], fraction: float) -> float:
    """The score of the ceil(fraction x n)-th best: labelling `>=` it keeps at least that many."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"top_fraction must be in (0, 1], got {fraction}")
    if not scores:
        return float("inf")
    ranked = sorted(scores, reverse=True)
    return ranked[max(1, math.ceil(fraction * len(ranked))) - 1]


def _prefix(scores: Sequence[float], threshold: float) -> list[float]:
    """1.0 while every step so far scores at least `threshold`, then 0.0."""
    labels, ok = [], True
    for s in scores:
        ok = ok and s >= threshold
        labels.append(float(ok))
    return labels


def agreement(gold: Sequence[CandidateRecord], labelled: Sequence[CandidateRecord]) -> float | None:
    """Share of labels that agree with the checker: a diagnostic only, never used for training."""
    if not gold:
        return None
    label = {(x.problem_id, x.candidate_index): x.correct for x in labelled}
    return sum(g.correct == label[(g.problem_id, g.candidate_index)] for g in gold) / len(gold)


def _row(
    record: CandidateRecord, label: bool, score: float | None, steps: list[float] | None = None
) -> dict[str, Any]:
    return {
        "problem_id": record.problem_id,
        "candidate_index": record.candidate_index,
        "label": label,
        "score": score,
        "step_labels": steps,
    }
