"""Building a run from a spec: a new run's `RunSpec`, the runner that runs one, and `resume`.

In scope: `new_run_spec` (what `verbalrl run` records for a new run, checked
before anything is loaded), `build_runner` (a `Runner`, or a `RayRunner`
with `ray=RayOptions(...)`, with the model and verifier the spec names
unless given), `run_memory` (the memory a spec names, opened and closed
around a run) and `resume(run_id)` (finish a recorded run). The CLI and
`resume` build runs the same way through these. Left out: running
(`runner.py`, `ray.py`) and the spec file itself (`spec.py`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..errors import VerbalRLError
from ..graphs import GraphConfig, graph_config
from ..llm.base import LLM
from ..tasks.base import Task
from ..verifier.base import Verifier
from .options import RayOptions, RunOptions
from .runner import Runner, RunReport
from .spec import RunSpec, load_generator, new_run_id, open_run_memory, parse_memory_url, read_spec, runs_root

if TYPE_CHECKING:
    from .agent import AgentSpec
    from .ray import RayRunner

MemoryOpener = Callable[[str | None, str | None], Any]  # (folder, server URL) -> an open memory


def new_run_spec(
    *,
    graph: str | None = None,
    task: str | None = None,
    model: str | None = None,
    verifier: str | None = None,
    agent: AgentSpec | None = None,
    config: GraphConfig | None = None,
    task_options: dict[str, Any] | None = None,
    split: str = "test",
    n: int = 50,
    seed: int = 0,
    base_url: str | None = None,
    dtype: str = "auto",
    memory: str | Path | None = None,
    memory_url: str | None = None,
    options: RunOptions | None = None,
    ray: bool = False,
) -> RunSpec:
    """The spec of a new run of `graph` over `n` problems of `task` (its run id and output fixed).

    `options` are the runner options it records (run id, output, baselines,
    checkpoints); `ray` whether it fans out (a memory folder cannot be shared).
    With `agent` (an `AgentSpec`) the graph, config, task, model, verifier and memory are
    the agent's (giving them too is an error); without, they make the agent the run records.
    """
    if agent is not None:
        given = {"graph": graph, "task": task, "model": model, "verifier": verifier, "config": config,
                 "task_options": task_options, "base_url": base_url, "memory": memory}
        clash = [name for name, value in given.items() if value is not None]
        if clash or dtype != "auto":
            raise VerbalRLError(f"an agent spec fixes {', '.join(clash or ['dtype'])}: edit the spec instead")
        agent = agent.resolved()
        graph, task, model, config = agent.graph, agent.task, agent.model, agent.config
        verifier = agent.verifier
        task_options, base_url, dtype, memory = agent.task_options, agent.base_url, agent.dtype, agent.memory
    if graph is None or task is None or model is None:
        raise VerbalRLError("a new run needs graph, task and model (or an agent spec)")
    from ..graphs import GRAPHS
    from ..verifier.registry import verifier_help

    if graph not in GRAPHS:
        raise VerbalRLError(f"unknown graph {graph!r}: choose one of {', '.join(GRAPHS)}")
    if not verifier or not verifier.strip():
        raise VerbalRLError(verifier_help())
    if memory is not None and memory_url is not None:
        raise VerbalRLError("give --memory (a folder) or --memory-url (a chroma server), not both")
    if ray and memory is not None:
        raise VerbalRLError(
            f"--ray cannot use a memory folder (it is locked to one process): start `chroma run --path "
            f"{memory} --host 0.0.0.0 --port 8000` and pass --memory-url http://HOST:8000"
        )
    if memory_url:
        parse_memory_url(memory_url)  # a bad URL fails here, before a model is loaded
    config = config or graph_config(graph)
    options = options or RunOptions()
    run_id = options.run_id or new_run_id(graph)
    output = options.output or Path(options.runs_dir or runs_root()) / run_id / "results.jsonl"
    if base_url is None and model.startswith("openai:"):
        base_url = os.environ.get("OPENAI_BASE_URL")  # recorded, so workers and resume need no env
    if agent is None:
        from .agent import AgentSpec

        agent = AgentSpec(
            graph=cast(Any, graph), config=config, model=model, base_url=base_url, dtype=dtype,
            verifier=verifier, task=task, task_options=task_options or {},
            memory=str(Path(memory).resolve()) if memory else None,
        )  # fmt: skip
    return RunSpec(
        run_id=run_id, graph=graph, task=task, mode=config.mode, config=config.model_dump(mode="json"),
        output=str(Path(output).resolve()), baselines=options.baselines,
        baseline_n=options.baseline_n or config.n_drafts, checkpoint_url=options.checkpoint_url,
        keep_checkpoints=options.keep_checkpoints, task_options=task_options or {}, split=split, n=n,
        seed=seed, model=model, base_url=base_url, dtype=dtype, verifier=verifier,
        memory=str(Path(memory).resolve()) if memory else None, memory_url=memory_url, agent=agent.dump(),
    )  # fmt: skip


def _check_model(spec: RunSpec, ray: RayOptions | None, llm: LLM | None) -> None:
    """A runner needs the spec's model, unless it runs here with a model given."""
    if spec.model is not None or (ray is None and llm is not None):
        return
    again = "RayRunner(...).run()" if ray is not None else "Runner(..., run_id=...).run()"
    raise VerbalRLError(f"run {spec.run_id!r} was started from Python: call {again} again")


def build_runner(
    spec: RunSpec,
    *,
    task: Task | None = None,
    llm: LLM | None = None,
    verifier: Verifier | None = None,
    memory: Any = None,
    ray: RayOptions | None = None,
    **runtime: Any,
) -> Runner | RayRunner:
    """The runner of `spec` with the options it records plus `runtime` ones (`runs_dir`,
    `progress`, `console`, `on_event`).

    In this process unless `ray`: the model, verifier and task the spec names
    are loaded unless given; `memory` (the graph's, when it uses one) is the
    caller's to open and close (`run_memory`). With `ray` the workers load
    their own (the spec's model must be an `openai:` server).
    """
    _check_model(spec, ray, llm)
    task = task or spec.load_task()
    options = spec.options(**runtime)
    if ray is not None:
        from .ray import RayRunner

        return RayRunner(
            spec.graph, task, spec.graph_config(), model=spec.model or "", base_url=spec.base_url,
            verifier=spec.verifier or "", memory_url=spec.memory_url, ray=ray, options=options, spec=spec,
        )  # fmt: skip
    if llm is None:
        llm = load_generator(spec.model or "", spec.base_url, spec.dtype)
    if verifier is None:
        from ..verifier.registry import load_verifier

        verifier = load_verifier(spec.verifier or "", llm, task)
    return Runner(
        spec.graph, llm, verifier, task, spec.graph_config(), memory=memory, options=options, spec=spec
    )


@contextmanager
def run_memory(
    spec: RunSpec, memory: Any = None, opener: MemoryOpener | None = open_run_memory
) -> Iterator[Any]:
    """The memory a run of `spec` uses: `memory` as given (left open), else (when the graph
    uses memory and `opener` is not None) `opener(spec.memory, spec.memory_url)`, closed after."""
    if memory is not None or opener is None or not spec.uses_memory():
        yield memory
        return
    opened = opener(spec.memory, spec.memory_url)
    try:
        yield opened
    finally:
        opened.close()


def resume(
    run_id: str,
    *,
    runs_dir: str | Path | None = None,
    llm: LLM | None = None,
    verifier: Verifier | None = None,
    memory: Any = None,
    ray: RayOptions | None = None,
    progress: bool = True,
    console: Any = None,
) -> RunReport:
    """Finish run `run_id` from its spec: finished problems are skipped, interrupted ones continue
    from their checkpoints (in the same SQLite file or PostgreSQL database).

    In this process, the model, verifier and memory are rebuilt from the spec
    unless given; with `ray` on Ray workers (also a run started without Ray).
    """
    spec = read_spec(run_id, runs_dir)
    _check_model(spec, ray, llm)
    task, problems = spec.load_problems()
    with run_memory(spec, memory, open_run_memory if ray is None else None) as opened:
        runner = build_runner(
            spec, task=task, llm=llm, verifier=verifier, memory=opened, ray=ray,
            runs_dir=runs_dir, progress=progress, console=console,
        )  # fmt: skip
        return runner.run(problems)
