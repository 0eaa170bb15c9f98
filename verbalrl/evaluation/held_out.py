"""The held-out figures of one self-training iteration: the policy alone, and with its verifiers.

In scope: `held_out_figures`, which takes a held-out pool the policy
sampled (test split, checker-labelled: evaluation may read the gold) and
the iteration's outcome verifier and process verifier, and returns the
figures a manifest records at the largest N: first-sample accuracy (the
expected accuracy of one sample), self-consistency, Pass@N, Best-of-N with
each verifier (the PRM aggregated by `how`), the outcome verifier's AUC, the
PRM's outcome AUC and its step-level AUC where the task has a step checker.
The PRM scores every step once (`score_pool_steps`), reused for Best-of-N.
Left out: sampling the pool and loading models (`training/self_train.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..tasks.base import Task
from ..verifier.base import Verifier
from ..verifier.process import Aggregation, OutcomeFromProcess
from .evaluate import EvalReport, evaluate_pool
from .pool import CandidateRecord, group_by_problem
from .steps import PrecomputedProcess, score_pool_steps, step_auc


def held_out_figures(
    task: Task,
    records: Sequence[CandidateRecord],
    *,
    verifier: Verifier | None = None,
    process: Any | None = None,
    how: Aggregation = "min",
    ns: Sequence[int] = (1,),
    bootstrap: int = 200,
    seed: int = 0,
) -> tuple[dict[str, Any], EvalReport]:
    """Figures at N = max(ns) (accuracies in [0, 1] with 95% CIs) and the full report."""
    methods: dict[str, Any] = {}
    figures: dict[str, Any] = {}
    if verifier is not None:
        methods["verifier"] = verifier
    if process is not None:
        scores = score_pool_steps(process, records)
        methods["prm"] = OutcomeFromProcess(PrecomputedProcess(scores, name=process.name), how)
        if callable(getattr(task, "prefix_labels", None)):
            figures["prm_step_auc"], figures["prm_steps"] = step_auc(task, records, scores)
    report = evaluate_pool(group_by_problem(records), methods, ns=ns, bootstrap=bootstrap, seed=seed)
    n = max(report.ns)
    figures["n"] = n
    labels = ["first_sample", "self_consistency", "pass@n"] + [f"best_of_n[{m}]" for m in methods]
    for label in labels:
        row = report.result(label, n)
        figures[label] = row.accuracy
        figures[f"{label}_ci"] = [row.ci_low, row.ci_high]
    for summary in report.verifiers:
        figures[f"{summary.name}_auc"] = summary.auc
    figures["problems"] = report.pool.problems
    figures["candidates"] = report.pool.candidates
    return figures, report
