"""Run a graph over many problems: progress, one JSONL line per problem, checkpoints, resume, baselines.

In scope: `BaseRunner` (run folder, `run.json`, results file, resume
bookkeeping, checkpoint pruning, summary) and `Runner` (the problems in this
process with a progress bar, results appended one line at a time with flush
+ fsync). Left out: the work on one problem (`solver.py`), fanning problems
out to other processes (`ray.py`), rebuilding a CLI run from its spec and
`resume(run_id)` (`build.py`).

Checkpoints: every problem is a LangGraph thread `run_id/problem_id` in the
run folder's SQLite file, or in PostgreSQL (`checkpoint_url`). Once all of a
problem's records are in the JSONL its thread is deleted (the results file
is the record; the checkpoints only serve to resume), unless
`keep_checkpoints`. A run also deletes, when it starts, the threads of
problems already complete in the JSONL (a crash between write and delete).

Resume: problems already in the JSONL are skipped; a problem that was
interrupted continues from its last checkpoint (finished nodes are not
re-run). Memory writes are content-addressed upserts, so a re-run node does
not duplicate records. A crash or Ctrl-C mid-run leaves every finished
problem in the JSONL; running again with the same run id finishes the rest.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..console import progress_bar
from ..errors import VerbalRLError
from ..graphs import GraphConfig, graph_config
from ..llm.base import LLM
from ..tasks.base import Problem, Task
from ..verifier.base import Verifier
from .options import RunOptions
from .results import append_line, disk_full_stops, read_results, repair_tail, summarize
from .solver import ProblemSolver, run_methods, thread_id
from .spec import RUN_FILE, RunSpec, new_run_id, runs_root

log = logging.getLogger(__name__)

__all__ = ["CHECKPOINTS", "BaseRunner", "RunReport", "Runner"]

CHECKPOINTS = "checkpoints.sqlite"


class RunReport(dict):  # a dict so it prints and serialises as-is
    """`run_id`, `output`, `summary` (rows of `summarize`), `records`, `mode`, `skipped`."""


class BaseRunner:
    """What every way of running shares: run folder, spec, results file, resume bookkeeping, pruning.

    Subclasses do the problems: `Runner` in this process, `ray.RayRunner` on Ray workers.
    The options come as `options` (a `RunOptions`) or as its fields by keyword (both: the
    keywords win). `spec` is what a CLI run records beyond the runner's own fields (how to
    rebuild it: model, verifier, problems, memory); see `build.py`.
    """

    def __init__(
        self,
        graph: str,
        task: Task,
        config: GraphConfig | None = None,
        *,
        options: RunOptions | None = None,
        spec: RunSpec | None = None,
        **option_fields: Any,
    ) -> None:
        self.options = options = RunOptions.of(options, **option_fields)
        self.graph_name = graph
        self.config = config or graph_config(graph)
        self.task = task
        self.run_id = options.run_id or new_run_id(graph)
        self.run_dir = Path(options.runs_dir or runs_root()) / self.run_id
        self.output = Path(options.output) if options.output else self.run_dir / "results.jsonl"
        self.summary_path = self.output.with_name(self.output.stem + ".summary.json")
        self.baselines = options.baselines
        self.baseline_n = options.baseline_n or self.config.n_drafts
        self.checkpoint_url = options.checkpoint_url
        self.keep_checkpoints = options.keep_checkpoints
        self.spec = spec

    @property
    def checkpoint_location(self) -> str:
        """Where the checkpoints are: the given URL or path, else the run folder's SQLite file."""
        if self.checkpoint_url:
            from ..graphs.checkpoint import is_postgres_url

            return (
                self.checkpoint_url
                if is_postgres_url(self.checkpoint_url)
                else str(Path(self.checkpoint_url).expanduser().resolve())
            )
        return str((self.run_dir / CHECKPOINTS).resolve())

    def _open_checkpointer(self) -> tuple[Any, Callable[[], None]]:
        from ..graphs.checkpoint import open_checkpointer

        self.run_dir.mkdir(parents=True, exist_ok=True)
        return open_checkpointer(self.checkpoint_location)

    def recorded_fields(self) -> dict[str, Any]:
        """What this runner records in run.json about itself (subclasses add theirs)."""
        return {
            "run_id": self.run_id,
            "graph": self.graph_name,
            "task": self.task.name,
            "mode": self.config.mode,
            "config": self.config.model_dump(mode="json"),
            "output": str(self.output.resolve()),
            "baselines": self.baselines,
            "baseline_n": self.baseline_n,
            "checkpoint_url": self.checkpoint_url,
            "keep_checkpoints": self.keep_checkpoints,
        }

    def run_spec(self, problems: Sequence[Problem]) -> RunSpec:
        """The spec this run records: the runner's fields, then what `spec` adds (model, ...)."""
        fields = {
            **self.recorded_fields(),
            "problems": len(problems),
            "created": datetime.now(UTC).isoformat(),
        }
        extra = self.spec.model_dump(exclude_unset=True, exclude=set(fields)) if self.spec else {}
        return RunSpec(**fields, **extra)

    def _write_spec(self, problems: Sequence[Problem]) -> None:
        path = self.run_dir / RUN_FILE
        if not path.is_file():  # written once, when the run starts; a resume reads it
            self.run_spec(problems).write(path)

    def methods(self) -> list[str]:
        return run_methods(self.graph_name, self.baselines, self.baseline_n)

    def _start(self, problems: Sequence[Problem]) -> tuple[set[tuple[Any, Any]], list[Problem]]:
        """Check the problems, repair the results file; return (records done, problems to do)."""
        ids = [p.id for p in problems]
        if len(set(ids)) != len(ids):
            raise VerbalRLError("problem ids must be unique within a run (they name the checkpoints)")
        self.output.parent.mkdir(parents=True, exist_ok=True)
        repair_tail(self.output)
        done = {(r.get("method"), r.get("problem_id")) for r in read_results(self.output)}
        methods = self.methods()
        todo = [p for p in problems if any((m, p.id) not in done for m in methods)]
        return done, todo

    def _prune_finished(self, saver: Any, problems: Sequence[Problem], todo: Sequence[Problem]) -> None:
        """Delete the threads of problems already complete in the results file.

        They are normally deleted right after their records are written; this
        catches a crash between the write and the delete.
        """
        if self.keep_checkpoints:
            return
        pending = {p.id for p in todo}
        for problem in problems:
            if problem.id not in pending:
                saver.delete_thread(thread_id(self.run_id, problem.id))

    def _prune(self, saver: Any, problem: Problem) -> None:
        """The problem's records are all written: its checkpoints are no longer needed."""
        if not self.keep_checkpoints:
            saver.delete_thread(thread_id(self.run_id, problem.id))

    def _finish(self, problems: Sequence[Problem], skipped: int) -> RunReport:
        ids = {p.id for p in problems}
        records = [r for r in read_results(self.output) if r.get("problem_id") in ids]
        summary = summarize(records)
        self.summary_path.write_text(
            json.dumps({"run_id": self.run_id, "mode": self.config.mode, "summary": summary}, indent=2),
            encoding="utf-8",
        )
        return RunReport(
            run_id=self.run_id,
            output=str(self.output),
            mode=self.config.mode,
            summary=summary,
            summary_path=str(self.summary_path),
            records=records,
            skipped=skipped,
        )

    def _progress(self, total: int, completed: int) -> Any:
        label = f"[bold]{self.graph_name}[/] {self.run_id}"
        return progress_bar(
            label, total, completed, console=self.options.console, enabled=self.options.progress
        )


class Runner(BaseRunner):
    """Run graph `graph` (and, if asked, the baselines) over problems in this process, resumably.

    Example (run it again with the same `run_id` to resume)::

        runner = Runner("single", llm, verifier, task, SingleConfig(n_drafts=4), run_id="exp1")
        report = runner.run(task.problems("test", n=50))

    Keyword arguments are `RunOptions` fields (or pass `options=RunOptions(...)`):
    `checkpoint_url="postgresql://..."` keeps the checkpoints in PostgreSQL
    instead of the run folder's SQLite file; `keep_checkpoints=True` keeps
    finished problems' checkpoints (to inspect their state history);
    `on_event(problem_id, node, update)` sees every node's update.
    """

    def __init__(
        self,
        graph: str,
        llm: LLM,
        verifier: Verifier,
        task: Task,
        config: GraphConfig | None = None,
        *,
        memory: Any = None,
        options: RunOptions | None = None,
        spec: RunSpec | None = None,
        **option_fields: Any,
    ) -> None:
        super().__init__(graph, task, config, options=options, spec=spec, **option_fields)
        self.llm = llm
        self.verifier = verifier
        self.memory = memory

    def run(self, problems: Sequence[Problem]) -> RunReport:
        """Run every problem not already in the output; return the report (summary over all of them)."""
        problems = list(problems)
        with disk_full_stops(self.output.parent, self.output, f"verbalrl run --resume {self.run_id}"):
            return self._run(problems)

    def _run(self, problems: list[Problem]) -> RunReport:
        done, todo = self._start(problems)
        # the checkpointer lives for one run() call; the graph is compiled against it
        saver, close = self._open_checkpointer()
        try:
            self._write_spec(problems)
            self._prune_finished(saver, problems, todo)
            solver = ProblemSolver(
                self.graph_name,
                self.llm,
                self.verifier,
                self.task,
                self.config,
                run_id=self.run_id,
                memory=self.memory,
                checkpointer=saver,
                baselines=self.baselines,
                baseline_n=self.baseline_n,
                on_event=self.options.on_event,
            )
            with self._progress(len(problems), len(problems) - len(todo)) as advance:
                for problem in todo:
                    have = {m for m, pid in done if pid == problem.id}
                    for record in solver.records(problem, have):
                        append_line(self.output, record.to_line())
                    self._prune(saver, problem)
                    advance()
        finally:
            close()
        return self._finish(problems, len(problems) - len(todo))
