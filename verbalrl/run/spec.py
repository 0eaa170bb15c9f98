"""What a run is built from: `RunSpec` (its `run.json`), and the model and memory a spec names.

In scope: where runs live and how they are named, `RunSpec` (written once
when a run starts, atomically; read back, validated, for `--resume`),
building the generator and the memory from a spec (`load_generator`,
`open_run_memory`, `parse_memory_url`; verifiers come from
`verbalrl.verifier.load_verifier`). Left out: running (`runner.py`,
`ray.py`) and building a runner from a spec (`build.py`).

The file format is plain JSON, one object. Fields a run never set are left
out, as they always were: a run started from Python records what it ran
(graph, task, config, output, ...) but no `model`, so it cannot be rebuilt
by `verbalrl run --resume`; a CLI run also records how to rebuild it
(`task_options`, `split`, `n`, `seed`, `model`, `verifier`, memory, ...);
a Ray run adds `fanout`. Unknown keys are kept, so a newer file still loads.
A run started by `verbalrl run` or `Agent.run` also records its `agent`: the
whole `AgentSpec` (`agent.py`) it ran, the solver's instructions and
demonstrations included; `load_task` applies those, so a resume prompts the
model exactly as the run did.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from ..errors import VerbalRLError
from ..graphs import GraphConfig
from ..llm.base import LLM
from ..paths import verbalrl_home
from ..tasks.base import Problem, Task
from .options import RunOptions

log = logging.getLogger("verbalrl.runner")

RUN_FILE = "run.json"


def runs_root() -> Path:
    """Where runs live: `$VERBALRL_HOME/runs/<run_id>/` (spec and checkpoints)."""
    return verbalrl_home() / "runs"


def new_run_id(graph: str) -> str:
    return f"{graph}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


class FanoutSpec(BaseModel):
    """How a Ray run was fanned out (recorded; a resume takes these from its own options)."""

    model_config = ConfigDict(extra="allow")

    address: str | None = None
    max_in_flight: int | None = None
    retries: int = 2


class RunSpec(BaseModel):
    """A run's `run.json`: what it ran, the options a resume needs, and how to rebuild it.

    Field order is the order in the file. `model` and `verifier` are set for runs
    started by `verbalrl run` (which also set `split` and `n`) and by a `RayRunner`.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    run_id: str
    graph: str
    task: str
    mode: str | None = None
    config: dict[str, Any]
    output: str
    baselines: bool = False
    baseline_n: int | None = None
    checkpoint_url: str | None = None
    keep_checkpoints: bool = False
    problems: int | None = None  # how many problems the run has
    created: str | None = None  # ISO time the run started
    # how to rebuild a CLI run (absent for a run started from Python)
    task_options: dict[str, Any] = {}
    split: str | None = None
    n: int | None = None
    seed: int = 0
    model: str | None = None
    base_url: str | None = None
    dtype: str = "auto"
    verifier: str | None = None
    memory: str | None = None
    memory_url: str | None = None
    fanout: FanoutSpec | None = None
    agent: dict[str, Any] | None = None  # the AgentSpec it ran (agent.py), as JSON data

    @model_validator(mode="after")
    def _check(self) -> RunSpec:
        if self.model is not None and self.verifier is None:
            raise ValueError("a run with a model must also name its verifier")
        return self

    @property
    def rebuildable(self) -> bool:
        """Whether the spec names its model, verifier and problems (a run started by the CLI;
        a `RayRunner` started from Python records its model and verifier, not its problems)."""
        return self.model is not None and self.split is not None and self.n is not None

    def graph_config(self) -> GraphConfig:
        from ..graphs import graph_config

        return graph_config(self.graph, **self.config)

    def uses_memory(self) -> bool:
        return uses_memory(self.graph, self.config)

    def load_task(self) -> Task:
        """The task, with the recorded agent's instructions and demonstrations in its prompt."""
        from ..agents.prompted import prompted
        from ..tasks.registry import get_task

        task = get_task(self.task, **self.task_options)
        agent = self.agent or {}
        return prompted(task, agent.get("instructions"), agent.get("demonstrations") or ())

    def load_problems(self, task: Task | None = None) -> tuple[Task, list[Problem]]:
        """The task and the problems the spec names (a CLI run's)."""
        if self.split is None or self.n is None:
            raise VerbalRLError(f"run {self.run_id!r} does not record its problems (started from Python)")
        task = task or self.load_task()
        return task, list(task.problems(self.split, n=self.n, seed=self.seed))  # type: ignore[arg-type]

    def options(self, **runtime: Any) -> RunOptions:
        """The runner options it records (to finish the run the same way), plus `runtime` ones
        (`runs_dir`, `progress`, `console`, `on_event`)."""
        return RunOptions(
            run_id=self.run_id,
            output=Path(self.output),
            baselines=self.baselines,
            baseline_n=self.baseline_n,
            checkpoint_url=self.checkpoint_url,
            keep_checkpoints=self.keep_checkpoints,
            **runtime,
        )

    def dump(self) -> dict[str, Any]:
        """The JSON object of `run.json` (fields never set left out)."""
        return self.model_dump(mode="json", exclude_unset=True)

    def write(self, path: Path) -> None:
        """Write `path` atomically: a kill mid-write must not leave a truncated run.json (resume reads it)."""
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(json.dumps(self.dump(), indent=2))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)


def read_spec(run_id: str, runs_dir: str | Path | None = None) -> RunSpec:
    """The recorded spec of run `run_id`, validated (a clear error naming the file otherwise)."""
    path = Path(runs_dir or runs_root()) / run_id / RUN_FILE
    if not path.is_file():
        raise VerbalRLError(
            f"no run {run_id!r}: {path} does not exist (see the run id printed by `verbalrl run`)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VerbalRLError(f"run {run_id!r}: {path} is unreadable ({exc}); it cannot be resumed") from None
    if not isinstance(data, dict) or "graph" not in data:
        raise VerbalRLError(f"run {run_id!r}: {path} is not a verbalrl run spec")
    try:
        spec = RunSpec.model_validate({"run_id": run_id, **data})
        spec.graph_config()  # a config the graph does not accept fails here, not mid-resume
        if spec.agent is not None:
            from .agent import AgentSpec

            AgentSpec.model_validate(spec.agent)
    except (ValidationError, ValueError) as exc:
        raise VerbalRLError(f"run {run_id!r}: {path} is not a valid run spec: {_first_error(exc)}") from None
    return spec


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        return f"{where}: {error['msg']}" if where else str(error["msg"])
    return str(exc)


def load_generator(model: str, base_url: str | None = None, dtype: str = "auto") -> LLM:
    """The generator a run spec names (`openai:NAME` with `base_url`, or a local model in `dtype`)."""
    from ..llm.registry import load_llm

    if base_url:
        return load_llm(model, base_url=base_url)
    return load_llm(model, dtype=dtype)


def parse_memory_url(url: str) -> tuple[str, int]:
    """(host, port) of a `chroma run` server URL such as `http://10.0.0.5:8000` (port default 8000)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme != "http" or not parts.hostname or parts.path.strip("/"):
        raise VerbalRLError(
            f"memory URL {url!r}: give http://HOST:PORT of a `chroma run` server (https is not supported)"
        )
    try:
        port = parts.port or 8000
    except ValueError as exc:
        raise VerbalRLError(f"memory URL {url!r}: {exc}") from None
    return parts.hostname, port


def uses_memory(graph: str, config: GraphConfig | dict[str, Any]) -> bool:
    """Whether graph `graph` with `config` reads and writes memory."""
    fields = config if isinstance(config, dict) else config.model_dump()
    return graph == "reflective" and bool(fields.get("use_memory", True))


def open_run_memory(memory: str | None = None, memory_url: str | None = None) -> Any:
    """A `ChromaMemory`: the `chroma run` server at `memory_url`, else folder `memory` (else the default)."""
    from ..memory import ChromaMemory

    if memory_url:
        host, port = parse_memory_url(memory_url)
        return ChromaMemory(host=host, port=port)
    return ChromaMemory(memory) if memory else ChromaMemory()
