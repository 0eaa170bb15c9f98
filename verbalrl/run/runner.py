"""Run a graph over many problems: progress, one JSONL line per problem, checkpoints, resume, baselines.

In scope: `ProblemSolver` (the work on one problem: the graph resuming its
checkpoint thread, the baselines, the result records; shared with the Ray
workers of `fanout.py`), `BaseRunner` (run folder, spec, results file,
resume bookkeeping, checkpoint pruning, summary), `Runner` (the problems in
this process with a rich progress bar, results appended one line at a time
with flush + fsync), `resume(run_id)` (rebuilds a CLI run from its recorded
spec and finishes it), `load_verifier` (a verifier from a CLI spec), and the
summary (accuracy, mean LLM calls, tokens and seconds per method). Left out:
the graphs, the baselines, and fanning problems out to other processes
(`fanout.py`).

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

Correctness is scored here, after the loop, with the task's checker; the
graphs never see it (except memory confirmation in `learn_from_feedback` mode).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import ContextLengthError, VerbalRLError
from ..graphs import GraphConfig, build_graph, graph_config, graph_options, initial_state
from ..graphs.nodes import result_record
from ..llm.base import LLM
from ..llm.wrappers import ModelClock, TimedLLM
from ..tasks.base import Problem, Task
from ..verifier.base import TimedVerifier, Verifier
from ..verifier.registry import load_verifier, verifier_help
from .results import append_line, read_results, repair_tail, summarize, summary_table
from .spec import (
    RUN_FILE,
    load_generator,
    new_run_id,
    open_run_memory,
    parse_memory_url,
    read_spec,
    runs_root,
    spec_problems,
    spec_run_options,
    uses_memory,
)

log = logging.getLogger(__name__)

__all__ = [  # the results and spec helpers are re-exported from results.py and run_spec.py
    "BaseRunner",
    "CHECKPOINTS",
    "EventHandler",
    "ModelClock",
    "ProblemSolver",
    "RUN_FILE",
    "RunReport",
    "Runner",
    "TimedLLM",
    "TimedVerifier",
    "append_line",
    "load_generator",
    "load_verifier",
    "new_run_id",
    "open_run_memory",
    "parse_memory_url",
    "read_results",
    "read_spec",
    "repair_tail",
    "resume",
    "run_methods",
    "runs_root",
    "spec_problems",
    "spec_run_options",
    "summarize",
    "summary_table",
    "thread_id",
    "uses_memory",
    "verifier_help",
    "worker_name",
]

CHECKPOINTS = "checkpoints.sqlite"
EventHandler = Callable[[str, str, dict[str, Any]], None]


# ----------------------------------------------------------------- the work on one problem
def thread_id(run_id: str, problem_id: str) -> str:
    """The checkpoint thread of one problem of one run."""
    return f"{run_id}/{problem_id}"


def worker_name() -> str:
    """`host:pid` of this process: recorded with each result (which machine and worker computed it)."""
    return f"{socket.gethostname()}:{os.getpid()}"


class ProblemSolver:
    """The work on one problem, shared by `Runner` (in process) and the Ray workers (`fanout.py`).

    Holds the graph compiled against a checkpointer and yields a problem's
    result records (the graph's, then the baselines') that are not in `done`;
    the caller writes them. The graph resumes the problem's checkpoint thread
    when one exists. Correctness is scored here with the task's checker.
    """

    def __init__(
        self,
        graph: str,
        llm: LLM,
        verifier: Verifier,
        task: Task,
        config: GraphConfig,
        *,
        run_id: str,
        memory: Any = None,
        checkpointer: Any = None,
        baselines: bool = False,
        baseline_n: int | None = None,
        on_event: EventHandler | None = None,
    ) -> None:
        self.graph_name = graph
        self.config = config
        self.clock = ModelClock()
        self.llm = TimedLLM(llm, self.clock)
        self.verifier = TimedVerifier(verifier, self.clock)
        self.task = task
        self.run_id = run_id
        self.baselines = baselines
        self.baseline_n = baseline_n or config.n_drafts
        self.on_event = on_event
        self.worker = worker_name()
        self.graph = build_graph(
            graph, self.llm, self.verifier, config, memory=memory, checkpointer=checkpointer, task=task
        )

    def methods(self) -> list[str]:
        return run_methods(self.graph_name, self.baselines, self.baseline_n)

    def records(self, problem: Problem, done: Collection[str] = ()) -> Iterator[dict[str, Any]]:
        """The problem's records for every method not in `done` (graph first, then baselines)."""
        if self.graph_name not in done:
            yield self._graph_record(problem)
        if self.baselines and not all(m in done for m in self.methods()[1:]):
            yield from (r for r in self._baseline_records(problem) if r["method"] not in done)

    def _graph_record(self, problem: Problem) -> dict[str, Any]:
        thread = {"configurable": {"thread_id": thread_id(self.run_id, problem.id)}}
        thread |= graph_options(self.config)
        graph = self.graph
        snapshot = graph.get_state(thread)
        resumed = bool(snapshot.values)
        model_before = self.clock.seconds
        start = time.perf_counter()
        failure = None
        if snapshot.values and not snapshot.next and "result" in snapshot.values:
            values = snapshot.values  # finished before the crash, not yet written
        else:
            # Any saved state continues from its checkpoint, also one with an empty `next`: a kill
            # after a node's writes were saved but before its step's checkpoint shows exactly that,
            # and starting over there would run the graph twice on one thread.
            payload = None if snapshot.values else initial_state(problem)
            try:
                for update in graph.stream(payload, thread, stream_mode="updates"):
                    if self.on_event is not None:
                        for node, data in update.items():
                            self.on_event(problem.id, node, data if isinstance(data, dict) else {})
            except ContextLengthError as exc:
                # This problem can never fit the model: record it as failed and go on (a resume
                # would only fail again). Other errors stop the run, which stays resumable.
                failure = f"{type(exc).__name__}: {exc}"
                log.warning("problem %s: %s", problem.id, failure)
            values = graph.get_state(thread).values
        seconds = time.perf_counter() - start
        if failure is not None:
            result = result_record(values, self.config, None, None, "error")
            result["errors"] = [*result["errors"], failure]
        else:
            result = dict(values.get("result") or {})
        answer = result.get("answer")
        record = {
            "run_id": self.run_id,
            "method": self.graph_name,
            "graph": self.graph_name,
            "problem_id": problem.id,
            "task": problem.task,
            **result,
            "correct": self.task.check(problem, answer),
            "gold": problem.answer,
            "seconds": round(seconds, 4),
            "model_seconds": round(self.clock.seconds - model_before, 4),
            "resumed": resumed,
            "path": values.get("path", []),
            "worker": self.worker,
        }
        if values.get("stored"):
            record["memory_ids"] = list(values["stored"])  # what this problem wrote to memory
        return record

    def _baseline_records(self, problem: Problem) -> list[dict[str, Any]]:
        from ..graphs.steps import generation
        from .baselines import run_baselines

        # the graphs' first solve uses the same seed: a baseline and a graph draw paired samples
        gen = generation(self.config, 1, self.config.max_new_tokens, salt=f"{problem.id}/solve")
        try:
            records = run_baselines(self.llm, self.verifier, self.task, problem, n=self.baseline_n, gen=gen)
        except ContextLengthError as exc:
            records = [
                {
                    "method": m,
                    "answer": None,
                    "score": None,
                    "rounds": 0,
                    "llm_calls": 0,
                    "generated_tokens": 0,
                    "seconds": 0.0,
                    "status": "error",
                    "errors": [f"{type(exc).__name__}: {exc}"],
                }
                for m in self.methods()[1:]
            ]
        return [
            {
                "run_id": self.run_id,
                "graph": self.graph_name,
                "problem_id": problem.id,
                "task": problem.task,
                "mode": self.config.mode,
                **record,
                "correct": self.task.check(problem, record["answer"]),
                "gold": problem.answer,
                "worker": self.worker,
            }
            for record in records
        ]


def run_methods(graph: str, baselines: bool, baseline_n: int) -> list[str]:
    """The methods of a run, in the order their records are written: the graph, then the baselines."""
    from .baselines import BASELINES, baseline_name

    return [graph, *([baseline_name(k, baseline_n) for k in BASELINES] if baselines else [])]


# ----------------------------------------------------------------- the runner
class RunReport(dict):  # a dict so it prints and serialises as-is
    """`run_id`, `output`, `summary` (rows of `summarize`), `records`, `mode`, `skipped`."""


class BaseRunner:
    """What every way of running shares: run folder, spec, results file, resume bookkeeping, pruning.

    Subclasses do the problems: `Runner` in this process, `fanout.RayRunner` on Ray workers.
    Checkpoints live in `checkpoint_url` (a SQLite file path or a `postgresql://` URL;
    default: `checkpoints.sqlite` in the run folder). Unless `keep_checkpoints`, a
    problem's checkpoint thread is deleted once all its records are in the results file.
    """

    def __init__(
        self,
        graph: str,
        task: Task,
        config: GraphConfig | None = None,
        *,
        run_id: str | None = None,
        output: str | Path | None = None,
        runs_dir: str | Path | None = None,
        baselines: bool = False,
        baseline_n: int | None = None,
        checkpoint_url: str | None = None,
        keep_checkpoints: bool = False,
        progress: bool = True,
        console: Any = None,
        spec: dict[str, Any] | None = None,
    ) -> None:
        self.graph_name = graph
        self.config = config or graph_config(graph)
        self.task = task
        self.run_id = run_id or new_run_id(graph)
        if "/" in self.run_id or not self.run_id.strip():
            raise VerbalRLError(f"run id {self.run_id!r} must be non-empty and contain no '/'")
        self.run_dir = Path(runs_dir or runs_root()) / self.run_id
        self.output = Path(output) if output else self.run_dir / "results.jsonl"
        self.summary_path = self.output.with_name(self.output.stem + ".summary.json")
        self.baselines = baselines
        self.baseline_n = baseline_n or self.config.n_drafts
        from ..graphs.checkpoint import is_postgres_url

        if checkpoint_url and "://" in checkpoint_url and not is_postgres_url(checkpoint_url):
            raise VerbalRLError(
                f"checkpoint location {checkpoint_url!r}: give a SQLite file path or a postgresql:// URL"
            )
        self.checkpoint_url = checkpoint_url
        self.keep_checkpoints = keep_checkpoints
        self.progress = progress
        self.console = console
        self.spec = spec or {}

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

    def _write_spec(self, problems: Sequence[Problem]) -> None:
        path = self.run_dir / RUN_FILE
        if path.is_file():
            return
        spec = {
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
            "problems": len(problems),
            "created": datetime.now(UTC).isoformat(),
            **self.spec,
        }
        # Atomic: a kill mid-write must not leave a truncated run.json (resume reads it).
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(json.dumps(spec, indent=2))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

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
        from contextlib import contextmanager

        @contextmanager
        def bar() -> Any:
            if not self.progress:
                yield lambda: None
                return
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            with Progress(
                TextColumn(f"[bold]{self.graph_name}[/] {self.run_id}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self.console,
                transient=False,
            ) as progress:
                task_id = progress.add_task("problems", total=total, completed=completed)
                yield lambda: progress.advance(task_id)

        return bar()


class Runner(BaseRunner):
    """Run graph `graph` (and, if asked, the baselines) over problems in this process, resumably.

    Example (run it again with the same `run_id` to resume)::

        runner = Runner("single", llm, verifier, task, SingleConfig(n_drafts=4), run_id="exp1")
        report = runner.run(task.problems("test", n=50))

    `checkpoint_url="postgresql://..."` keeps the checkpoints in PostgreSQL
    instead of the run folder's SQLite file; `keep_checkpoints=True` keeps
    finished problems' checkpoints (to inspect their state history).
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
        run_id: str | None = None,
        output: str | Path | None = None,
        runs_dir: str | Path | None = None,
        baselines: bool = False,
        baseline_n: int | None = None,
        checkpoint_url: str | None = None,
        keep_checkpoints: bool = False,
        progress: bool = True,
        console: Any = None,
        on_event: EventHandler | None = None,
        spec: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            graph,
            task,
            config,
            run_id=run_id,
            output=output,
            runs_dir=runs_dir,
            baselines=baselines,
            baseline_n=baseline_n,
            checkpoint_url=checkpoint_url,
            keep_checkpoints=keep_checkpoints,
            progress=progress,
            console=console,
            spec=spec,
        )
        self.llm = llm
        self.verifier = verifier
        self.memory = memory
        self.on_event = on_event

    def run(self, problems: Sequence[Problem]) -> RunReport:
        """Run every problem not already in the output; return the report (summary over all of them)."""
        problems = list(problems)
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
                on_event=self.on_event,
            )
            with self._progress(len(problems), len(problems) - len(todo)) as advance:
                for problem in todo:
                    have = {m for m, pid in done if pid == problem.id}
                    for record in solver.records(problem, have):
                        append_line(self.output, record)
                    self._prune(saver, problem)
                    advance()
        finally:
            close()
        return self._finish(problems, len(problems) - len(todo))


def resume(
    run_id: str,
    *,
    runs_dir: str | Path | None = None,
    llm: LLM | None = None,
    verifier: Verifier | None = None,
    memory: Any = None,
    progress: bool = True,
    console: Any = None,
) -> RunReport:
    """Finish run `run_id` from its spec in this process: finished problems are skipped, interrupted
    ones continue from their checkpoints (in the same SQLite file or PostgreSQL database).

    The model, verifier and memory are rebuilt from the spec unless given.
    (`fanout.resume_with_ray` finishes it on Ray workers instead.)
    """
    spec = read_spec(run_id, runs_dir)
    if "model" not in spec and llm is None:
        raise VerbalRLError(
            f"run {run_id!r} was started from Python: call Runner(..., run_id=...).run() again"
        )
    task, problems = spec_problems(spec)
    if llm is None:
        llm = load_generator(spec["model"], spec.get("base_url"), spec.get("dtype", "auto"))
    verifier = verifier or load_verifier(spec["verifier"], llm, task)
    opened = memory is None and uses_memory(spec["graph"], spec["config"])
    if opened:
        memory = open_run_memory(spec.get("memory"), spec.get("memory_url"))
    config = graph_config(spec["graph"], **spec["config"])
    runner = Runner(
        spec["graph"],
        llm,
        verifier,
        task,
        config,
        memory=memory,
        run_id=run_id,
        runs_dir=runs_dir,
        progress=progress,
        console=console,
        spec=spec,
        **spec_run_options(spec),
    )
    try:
        return runner.run(problems)
    finally:
        if opened:
            memory.close()
