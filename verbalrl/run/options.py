"""How a run is run: `RunOptions` (every runner) and `RayOptions` (the Ray fan-out).

In scope: the runner options, validated once where they are made, so
`Runner` and `RayRunner` take one `options` (or its fields as keyword
arguments) instead of forwarding each. Left out: what is run (`spec.py`'s
`RunSpec`, which records the options that matter for a resume: run id,
output, baselines, checkpoints).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from ..errors import VerbalRLError

# on_event(problem_id, node, update): called for each node's update (in this process only)
EventHandler = Callable[[str, str, dict[str, Any]], None]


class RunOptions(BaseModel):
    """Options of a runner; unknown names and bad values raise here, naming the field.

    `run_id` names the run (generated when None; the same id resumes it),
    `output` the results JSONL (default: `results.jsonl` in the run folder
    `runs_dir/run_id`), `baselines` adds single-shot, self-consistency and
    best-of-`baseline_n` (default: the graph's `n_drafts`) with the same model,
    `checkpoint_url` a SQLite file path or `postgresql://` URL (default: the
    run folder's SQLite file), `keep_checkpoints` keeps finished problems'
    threads. `progress`, `console` (a rich console) and `on_event` are for
    this process only and never recorded.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    run_id: str | None = None
    output: Path | None = None
    runs_dir: Path | None = None
    baselines: bool = False
    baseline_n: int | None = None
    checkpoint_url: str | None = None
    keep_checkpoints: bool = False
    progress: bool = True
    console: Any = None
    on_event: EventHandler | None = None

    @model_validator(mode="after")
    def _check(self) -> RunOptions:
        if self.run_id and ("/" in self.run_id or not self.run_id.strip()):
            raise VerbalRLError(f"run id {self.run_id!r} must be non-empty and contain no '/'")
        url = self.checkpoint_url
        if url and "://" in url:
            from ..graphs.checkpoint import is_postgres_url

            if not is_postgres_url(url):
                raise VerbalRLError(
                    f"checkpoint location {url!r}: give a SQLite file path or a postgresql:// URL"
                )
        return self

    @classmethod
    def of(cls, options: RunOptions | None = None, **fields: Any) -> RunOptions:
        """`options` with `fields` replaced (validated again), or new options from `fields`."""
        if options is None:
            return cls(**fields)
        if not fields:
            return options
        return cls(**{**{name: getattr(options, name) for name in cls.model_fields}, **fields})


class RayOptions(BaseModel):
    """How `RayRunner` fans out: the cluster (`address`: None = RAY_ADDRESS, the latest local
    cluster or a new one; `auto`; `host:port`; `ray://host:port`), the problems submitted and
    not yet written (`max_in_flight`, default twice the workers), how often a failed task is run
    again (`retries`) and the CPUs one task takes (`task_cpus`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    address: str | None = None
    max_in_flight: int | None = None
    retries: int = 2
    task_cpus: float = 1.0

    @model_validator(mode="after")
    def _check(self) -> RayOptions:
        if (
            self.retries < 0
            or (self.max_in_flight is not None and self.max_in_flight < 1)
            or self.task_cpus <= 0
        ):
            raise VerbalRLError("need --retries >= 0, --max-in-flight >= 1 and task_cpus > 0")
        return self

    def recorded(self) -> dict[str, Any]:
        """What run.json records of it (its `fanout` entry)."""
        return {"address": self.address, "max_in_flight": self.max_in_flight, "retries": self.retries}
