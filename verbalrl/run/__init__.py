"""Running graphs over many problems: the runner, its spec and results, baselines, Ray fan-out.

    from verbalrl.run import Runner

    report = Runner("single", llm, verifier, task, run_id="exp1").run(task.problems("test", n=50))

`runner.py` runs in this process (progress, one JSONL line per problem,
checkpoints, resume); `ray.py` fans problems out to Ray workers; `spec.py`
is what a run is built from (`run.json`); `results.py` the results file and
its summary; `baselines.py` single-shot, self-consistency and best-of-N with
the same model. Only this package and `graphs/` import langgraph.
"""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "Runner": ".runner",
    "BaseRunner": ".runner",
    "ProblemSolver": ".runner",
    "RunReport": ".runner",
    "resume": ".runner",
    "RayRunner": ".ray",
    "resume_with_ray": ".ray",
    "read_spec": ".spec",
    "runs_root": ".spec",
    "read_results": ".results",
    "append_line": ".results",
    "summarize": ".results",
    "run_baselines": ".baselines",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
