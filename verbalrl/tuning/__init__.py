"""Agentic system search at the module level: which graph, with which settings, under a compute budget.

    from verbalrl.run.agent import AgentSpec
    from verbalrl.tuning import SearchSpace, TuneSettings, tune

    base = AgentSpec(task="arithmetic", task_options={"level": "sum30"}, verifier="genrm-sum30")
    result = tune(TuneSettings(base=base, dev_n=20), trials=30, budget_calls=8,
                  storage="sqlite:///runs/tune/study.db")
    result.write("agent.yaml")        # the chosen spec; agent.front.json: the Pareto front
    # verbalrl run --agent agent.yaml

Files: `space.py` (the search space; one trial's point as an `AgentSpec`),
`objective.py` (the dev split from the train split, scoring one spec, the
pruning rule), `study.py` (the Optuna study, resumable; `tune`),
`pareto.py` (the front, the spec chosen for a budget), `plot.py` (PNG),
`prompts.py` (prompt-level candidates: instruction variants, demonstrations
bootstrapped from verified successes). The test split is never read: the
graphs get a task whose test split raises. Optuna is imported lazily.
"""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "SearchSpace": ".space",
    "suggest": ".space",
    "DevSplit": ".objective",
    "Evaluation": ".objective",
    "TrainOnlyTask": ".objective",
    "evaluate_spec": ".objective",
    "TuneSettings": ".study",
    "TuneResult": ".study",
    "open_study": ".study",
    "tune": ".study",
    "default_storage": ".study",
    "TrialResult": ".pareto",
    "pareto_front": ".pareto",
    "choose": ".pareto",
    "trial_results": ".pareto",
    "plot_pareto": ".plot",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
