"""Running graphs over many problems: the runner, its spec and results, baselines, Ray fan-out.

    from verbalrl.run import Runner

    report = Runner("single", llm, verifier, task, run_id="exp1").run(task.problems("test", n=50))

`runner.py` runs in this process (progress, one JSONL line per problem,
checkpoints, resume); `solver.py` is the work on one problem; `ray.py` fans
problems out to Ray workers; `options.py` is how a run is run
(`RunOptions`, `RayOptions`); `spec.py` what a run is built from and
records (`RunSpec`, its `run.json`); `build.py` builds a runner from a spec
(`verbalrl run`, `resume`); `results.py` the results file, its records and
summary; `console.py` the terminal views; `baselines.py` single-shot,
self-consistency and best-of-N with the same model. Only this package and
`graphs/` import langgraph.
"""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "Runner": ".runner",
    "BaseRunner": ".runner",
    "RunReport": ".runner",
    "ProblemSolver": ".solver",
    "RunOptions": ".options",
    "RayOptions": ".options",
    "RunSpec": ".spec",
    "read_spec": ".spec",
    "runs_root": ".spec",
    "new_run_spec": ".build",
    "build_runner": ".build",
    "run_memory": ".build",
    "resume": ".build",
    "RayRunner": ".ray",
    "resume_with_ray": ".ray",
    "ResultRecord": ".results",
    "GraphRecord": ".results",
    "read_results": ".results",
    "append_line": ".results",
    "summarize": ".results",
    "summary_table": "..console",
    "render_event": "..console",
    "run_baselines": ".baselines",
    "Family": ".stream",
    "StreamItem": ".stream",
    "STREAM_FAMILIES": ".stream",
    "stream_families": ".stream",
    "interleave": ".stream",
    "SampledMethods": ".stream",
    "FewShotMethod": ".stream",
    "GraphMethod": ".stream",
    "run_stream": ".stream",
    "GraphLLM": ".served_graph",
    "Agent": ".agent",
    "AgentSpec": ".agent",
    "load_agent": ".agent",
    "read_agent_spec": ".agent",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
