"""Evaluation: candidate pools, Best-of-N evaluation of verifiers, metrics, reports, plots.

    from verbalrl.evaluation import evaluate_pool, group_by_problem, read_pool

    report = evaluate_pool(group_by_problem(read_pool("pool.jsonl")), {"genrm": verifier})

A pool (`pool.py`) holds N sampled, checker-labelled solutions per problem,
zero-shot or after few-shot demonstrations (`shots.py`);
`evaluate.py` compares verifiers and baselines on it at several N with
bootstrap intervals (`metrics.py`); `report.py` writes `eval.json` and
`plot.py` the accuracy-vs-N PNG. The selection rules themselves live in
`verbalrl.selection`, shared with the graphs and the run baselines.
"""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "CandidateRecord": ".pool",
    "ProblemCandidates": ".pool",
    "PoolStats": ".pool",
    "sample_pool": ".pool",
    "read_pool": ".pool",
    "write_pool": ".pool",
    "group_by_problem": ".pool",
    "pool_stats": ".pool",
    "pool_task": ".pool",
    "read_stream": ".learning",
    "stream_rows": ".learning",
    "cold_warm": ".learning",
    "paired_difference": ".learning",
    "rolling_accuracy": ".learning",
    "plot_learning_curves": ".learning",
    "Shot": ".shots",
    "reference_shots": ".shots",
    "pool_shots": ".shots",
    "pick_shots": ".shots",
    "EvalReport": ".evaluate",
    "evaluate_pool": ".evaluate",
    "bootstrap_ci": ".metrics",
    "roc_auc": ".metrics",
    "write_report": ".report",
    "plot_accuracy": ".plot",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
