"""What a run is built from: its recorded spec, and the model, verifier and memory it names.

In scope: where runs live and how they are named, `run.json` (read back for
`--resume`), building the generator and the memory from CLI specs
(`load_generator`, `open_run_memory`, `parse_memory_url`; verifiers come from
`verbalrl.verifier.load_verifier`),
and the problems and runner options a spec records. Left out: running (the
`Runner` in runner.py, `RayRunner` in fanout.py).
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import VerbalRLError
from ..graphs import GraphConfig
from ..llm.base import LLM
from ..paths import verbalrl_home
from ..tasks.base import Problem, Task

log = logging.getLogger("verbalrl.runner")

RUN_FILE = "run.json"


def runs_root() -> Path:
    """Where runs live: `$VERBALRL_HOME/runs/<run_id>/` (spec and checkpoints)."""
    return verbalrl_home() / "runs"


def new_run_id(graph: str) -> str:
    return f"{graph}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


# ----------------------------------------------------------------- building from a spec (CLI, resume)
def read_spec(run_id: str, runs_dir: str | Path | None = None) -> dict[str, Any]:
    """The recorded spec of run `run_id` (a clear error when there is none)."""
    path = Path(runs_dir or runs_root()) / run_id / RUN_FILE
    if not path.is_file():
        raise VerbalRLError(
            f"no run {run_id!r}: {path} does not exist (see the run id printed by `verbalrl run`)"
        )
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VerbalRLError(f"run {run_id!r}: {path} is unreadable ({exc}); it cannot be resumed") from None
    if not isinstance(spec, dict) or "graph" not in spec:
        raise VerbalRLError(f"run {run_id!r}: {path} is not a verbalrl run spec")
    return spec


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


def spec_problems(spec: dict[str, Any]) -> tuple[Task, list[Problem]]:
    """The task and the problems a CLI run spec names."""
    from ..tasks.registry import get_task

    task = get_task(spec["task"], **spec.get("task_options", {}))
    return task, list(task.problems(spec["split"], n=spec["n"], seed=spec.get("seed", 0)))


def spec_run_options(spec: dict[str, Any]) -> dict[str, Any]:
    """The `BaseRunner` options recorded in a run spec (to finish the run the same way)."""
    return {
        "output": spec["output"],
        "baselines": spec.get("baselines", False),
        "baseline_n": spec.get("baseline_n"),
        "checkpoint_url": spec.get("checkpoint_url"),
        "keep_checkpoints": spec.get("keep_checkpoints", False),
    }
