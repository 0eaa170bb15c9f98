"""Run a graph over many problems: progress, one JSONL line per problem, checkpoints, resume, baselines.

In scope: `Runner` (a graph plus optional baselines over a list of problems,
a rich progress bar, results appended one line at a time with flush + fsync,
every problem checkpointed with the LangGraph SQLite checkpointer under
thread id `run_id/problem_id`), `resume(run_id)` (rebuilds a CLI run from
its recorded spec and finishes it), `load_verifier` (a verifier from a CLI
spec), and the summary (accuracy, mean LLM calls, tokens and seconds per
method). Left out: the graphs and the baselines themselves.

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
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import ContextLengthError, VerbalRLError
from .graphs import GraphConfig, build_graph, graph_config, graph_options, initial_state
from .graphs.steps import result_record
from .llm.base import LLM, Completion, GenerationConfig, Prompt
from .paths import verbalrl_home
from .tasks.base import Problem, Task
from .verifier.base import Verification, Verifier

log = logging.getLogger(__name__)

RUN_FILE = "run.json"
CHECKPOINTS = "checkpoints.sqlite"
EventHandler = Callable[[str, str, dict[str, Any]], None]


def runs_root() -> Path:
    """Where runs live: `$VERBALRL_HOME/runs/<run_id>/` (spec and checkpoints)."""
    return verbalrl_home() / "runs"


def new_run_id(graph: str) -> str:
    return f"{graph}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


# ----------------------------------------------------------------- model-time accounting
class ModelClock:
    """Wall seconds during which at least one model or verifier call was running.

    Overlapping calls (parallel branches of the multi graph) count once, so
    `seconds` never exceeds the wall time and `1 - seconds / wall` is the share
    spent outside the model: the graphs' own overhead.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self._active = 0
        self._since = 0.0
        self._lock = threading.Lock()

    def enter(self) -> None:
        with self._lock:
            if self._active == 0:
                self._since = time.perf_counter()
            self._active += 1

    def leave(self) -> None:
        with self._lock:
            self._active -= 1
            if self._active == 0:
                self.seconds += time.perf_counter() - self._since


class TimedLLM:
    """An `LLM` proxy that adds the time of each call to a `ModelClock`."""

    def __init__(self, llm: LLM, clock: ModelClock) -> None:
        self.llm, self.clock = llm, clock
        self.name = llm.name
        self.capabilities = llm.capabilities

    def generate(
        self, prompts: Sequence[Prompt], config: GenerationConfig | None = None
    ) -> list[list[Completion]]:
        self.clock.enter()
        try:
            return self.llm.generate(prompts, config)
        finally:
            self.clock.leave()

    def next_token_probs(
        self, prompts: Sequence[Prompt], candidates: Sequence[str]
    ) -> list[dict[str, float]]:
        self.clock.enter()
        try:
            return self.llm.next_token_probs(prompts, candidates)
        finally:
            self.clock.leave()

    def __getattr__(self, name: str) -> Any:  # encode(), tokenizer, ... of the wrapped model
        return getattr(self.llm, name)


class TimedVerifier:
    """A `Verifier` proxy that adds the time of each call to a `ModelClock`."""

    def __init__(self, verifier: Verifier, clock: ModelClock) -> None:
        self.verifier, self.clock = verifier, clock
        self.name = verifier.name

    def verify(self, problem: Problem, candidates: Sequence[str]) -> Verification:
        self.clock.enter()
        try:
            return self.verifier.verify(problem, candidates)
        finally:
            self.clock.leave()


# ----------------------------------------------------------------- results file
def read_results(path: Path) -> list[dict[str, Any]]:
    """The records in a results JSONL (a torn last line from a crash is ignored)."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def _repair_tail(path: Path) -> None:
    """Cut a half-written last line (a crash during a write) so appends start on a fresh line."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if data.endswith(b"\n"):
        return
    cut = data.rfind(b"\n") + 1
    with path.open("r+b") as fh:
        fh.truncate(cut)
    log.warning("%s: dropped a half-written last line", path)


def append_line(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line and make it durable (flush + fsync) before going on."""
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


# ----------------------------------------------------------------- summary
def summarize(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per method: problems, accuracy, mean LLM calls / generated tokens / seconds, mean score."""
    by_method: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_method.setdefault(r["method"], []).append(r)

    def mean(values: list[float]) -> float | None:
        return round(sum(values) / len(values), 4) if values else None

    rows = []
    for method, items in by_method.items():
        judged = [r["correct"] for r in items if r.get("correct") is not None]
        rows.append(
            {
                "method": method,
                "mode": items[0].get("mode"),
                "problems": len(items),
                "accuracy": mean([float(c) for c in judged]),
                "mean_llm_calls": mean([r["llm_calls"] for r in items]),
                "mean_generated_tokens": mean([r["generated_tokens"] for r in items]),
                "mean_seconds": mean([r["seconds"] for r in items]),
                "mean_score": mean([r["score"] for r in items if r.get("score") is not None]),
                "accepted": mean([float(r["accepted"]) for r in items if "accepted" in r]),
                "no_answer": sum(1 for r in items if r.get("answer") is None),
            }
        )
    return rows


def summary_table(rows: Sequence[dict[str, Any]], title: str = "results") -> Any:
    """A rich table of `summarize` rows: accuracy, mean LLM calls / generated tokens / seconds per problem."""
    from rich.table import Table

    table = Table(title=title)
    for col in ("method", "n", "acc", "calls", "tokens", "sec", "score", "no ans"):
        table.add_column(col, justify="left" if col == "method" else "right", no_wrap=True)

    def fmt(value: Any, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    for r in rows:
        table.add_row(
            r["method"],
            str(r["problems"]),
            fmt(r["accuracy"], ".1%"),
            fmt(r["mean_llm_calls"], ".1f"),
            fmt(r["mean_generated_tokens"], ".0f"),
            fmt(r["mean_seconds"], ".2f"),
            fmt(r["mean_score"], ".2f"),
            str(r["no_answer"]),
        )
    return table


# ----------------------------------------------------------------- the runner
class RunReport(dict):  # a dict so it prints and serialises as-is
    """`run_id`, `output`, `summary` (rows of `summarize`), `records`, `mode`, `skipped`."""


class Runner:
    """Run graph `graph` (and, if asked, the baselines) over problems, resumably.

    Example (run it again with the same `run_id` to resume)::

        runner = Runner("single", llm, verifier, task, SingleConfig(n_drafts=4), run_id="exp1")
        report = runner.run(task.problems("test", n=50))
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
        progress: bool = True,
        console: Any = None,
        on_event: EventHandler | None = None,
        spec: dict[str, Any] | None = None,
    ) -> None:
        self.graph_name = graph
        self.config = config or graph_config(graph)
        self.clock = ModelClock()
        self.llm = TimedLLM(llm, self.clock)
        self.verifier = TimedVerifier(verifier, self.clock)
        self.task = task
        self.memory = memory
        self.run_id = run_id or new_run_id(graph)
        if "/" in self.run_id or not self.run_id.strip():
            raise VerbalRLError(f"run id {self.run_id!r} must be non-empty and contain no '/'")
        self.run_dir = Path(runs_dir or runs_root()) / self.run_id
        self.output = Path(output) if output else self.run_dir / "results.jsonl"
        self.summary_path = self.output.with_name(self.output.stem + ".summary.json")
        self.baselines = baselines
        self.baseline_n = baseline_n or self.config.n_drafts
        self.progress = progress
        self.console = console
        self.on_event = on_event
        self.spec = spec or {}

    # the checkpointer lives for one run() call; the graph is compiled against it
    def _open(self) -> tuple[Any, sqlite3.Connection]:
        from .graphs.checkpoint import sqlite_checkpointer

        self.run_dir.mkdir(parents=True, exist_ok=True)
        saver, conn = sqlite_checkpointer(self.run_dir / CHECKPOINTS)
        graph = build_graph(
            self.graph_name,
            self.llm,
            self.verifier,
            self.config,
            memory=self.memory,
            checkpointer=saver,
            task=self.task,
        )
        return graph, conn

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
            "problems": len(problems),
            "created": datetime.now(UTC).isoformat(),
            **self.spec,
        }
        path.write_text(json.dumps(spec, indent=2), encoding="utf-8")

    def methods(self) -> list[str]:
        from .baselines import BASELINES, baseline_name

        names = [self.graph_name]
        if self.baselines:
            names += [baseline_name(k, self.baseline_n) for k in BASELINES]
        return names

    def run(self, problems: Sequence[Problem]) -> RunReport:
        """Run every problem not already in the output; return the report (summary over all of them)."""
        problems = list(problems)
        ids = [p.id for p in problems]
        if len(set(ids)) != len(ids):
            raise VerbalRLError("problem ids must be unique within a run (they name the checkpoints)")
        self.output.parent.mkdir(parents=True, exist_ok=True)
        _repair_tail(self.output)
        done = {(r.get("method"), r.get("problem_id")) for r in read_results(self.output)}
        methods = self.methods()
        todo = [p for p in problems if any((m, p.id) not in done for m in methods)]
        graph, conn = self._open()
        self._write_spec(problems)
        try:
            with self._progress(len(problems), len(problems) - len(todo)) as advance:
                for problem in todo:
                    if (self.graph_name, problem.id) not in done:
                        self._run_graph(graph, problem)
                    if self.baselines:
                        self._run_baselines(problem, done)
                    advance()
        finally:
            conn.close()
        records = [r for r in read_results(self.output) if r.get("problem_id") in set(ids)]
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
            skipped=len(problems) - len(todo),
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

    def _run_graph(self, graph: Any, problem: Problem) -> None:
        thread = {"configurable": {"thread_id": f"{self.run_id}/{problem.id}"}, **graph_options(self.config)}
        snapshot = graph.get_state(thread)
        resumed = bool(snapshot.values)
        model_before = self.clock.seconds
        start = time.perf_counter()
        failure = None
        if snapshot.values and not snapshot.next and "result" in snapshot.values:
            values = snapshot.values  # finished before the crash, not yet written
        else:
            payload = None if (snapshot.values and snapshot.next) else initial_state(problem)
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
        append_line(
            self.output,
            {
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
            },
        )

    def _run_baselines(self, problem: Problem, done: set[tuple[Any, Any]]) -> None:
        from .baselines import run_baselines
        from .graphs.steps import generation

        if all((m, problem.id) in done for m in self.methods()[1:]):
            return
        gen = generation(self.config, 1, self.config.max_new_tokens)
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
        for record in records:
            if (record["method"], problem.id) in done:
                continue
            append_line(
                self.output,
                {
                    "run_id": self.run_id,
                    "graph": self.graph_name,
                    "problem_id": problem.id,
                    "task": problem.task,
                    "mode": self.config.mode,
                    **record,
                    "correct": self.task.check(problem, record["answer"]),
                    "gold": problem.answer,
                },
            )


# ----------------------------------------------------------------- building from a spec (CLI, resume)
def load_verifier(spec: str, llm: LLM, task: Task) -> Verifier:
    """A verifier from a CLI spec.

    `checker` (the task's exact checker: an oracle, for experiments), `genrm`
    / `genrm-cot` (the generator model itself, untrained: a poor verifier, a
    warning), or a trained verifier folder (`PATH`, `genrm:PATH`, `genrm-cot:PATH`).
    """
    from .verifier.base import CheckerVerifier
    from .verifier.genrm import GenRMVerifier
    from .verifier.genrm_cot import GenRMCoTVerifier

    if not spec or not spec.strip():
        raise VerbalRLError(verifier_help())
    if spec == "checker":
        log.warning("verifier 'checker' reads the gold answer: an oracle for experiments, not a real run")
        return CheckerVerifier(task)
    if spec == "genrm":
        log.warning("GenRM on the untrained generator model: expect a poor verifier")
        return GenRMVerifier(llm, name=f"genrm:untrained:{llm.name}")
    if spec in ("genrm-cot", "genrm_cot"):
        log.warning("GenRM-CoT on the untrained generator model: expect a poor verifier")
        return GenRMCoTVerifier(llm, name=f"genrm_cot:untrained:{llm.name}")
    kind, _, path = (
        spec.partition(":")
        if spec.split(":", 1)[0] in ("genrm", "genrm-cot", "genrm_cot")
        else ("", "", spec)
    )
    from .verifier.artifact import resolve_artifact

    path = str(resolve_artifact(path))
    if not Path(path).exists():
        raise VerbalRLError(f"verifier {spec!r}: no such folder. {verifier_help()}")
    if kind in ("genrm-cot", "genrm_cot"):
        return GenRMCoTVerifier.load(path)
    from .verifier.artifact import is_artifact, read_metadata

    if not kind and is_artifact(path) and read_metadata(path).kind == "genrm_cot":
        return GenRMCoTVerifier.load(path)
    return GenRMVerifier.load(path)


def verifier_help() -> str:
    return (
        "choose a verifier: --verifier PATH (a trained GenRM folder from `verbalrl train-verifier`), "
        "'genrm-sum30' (the packaged GenRM for arithmetic sum30), "
        "'genrm-cot:PATH', 'checker' (oracle, reads the gold answer: experiments only), or "
        "'genrm' (the untrained generator as GenRM: a poor verifier)"
    )


def read_spec(run_id: str, runs_dir: str | Path | None = None) -> dict[str, Any]:
    """The recorded spec of run `run_id` (a clear error when there is none)."""
    path = Path(runs_dir or runs_root()) / run_id / RUN_FILE
    if not path.is_file():
        raise VerbalRLError(
            f"no run {run_id!r}: {path} does not exist (see the run id printed by `verbalrl run`)"
        )
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


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
    """Finish run `run_id` from its spec: finished problems are skipped, interrupted ones continue.

    The model, verifier and memory are rebuilt from the spec unless given.
    """
    from .tasks.registry import get_task

    spec = read_spec(run_id, runs_dir)
    if "model" not in spec and llm is None:
        raise VerbalRLError(
            f"run {run_id!r} was started from Python: call Runner(..., run_id=...).run() again"
        )
    task = get_task(spec["task"], **spec.get("task_options", {}))
    problems = task.problems(spec["split"], n=spec["n"], seed=spec.get("seed", 0))
    if llm is None:
        from .llm.registry import load_llm

        options = (
            {"base_url": spec["base_url"]} if spec.get("base_url") else {"dtype": spec.get("dtype", "auto")}
        )
        llm = load_llm(spec["model"], **options)
    verifier = verifier or load_verifier(spec["verifier"], llm, task)
    if spec["graph"] == "reflective" and memory is None and spec["config"].get("use_memory", True):
        from .memory import ChromaMemory

        memory = ChromaMemory(spec["memory"]) if spec.get("memory") else ChromaMemory()
    config = graph_config(spec["graph"], **spec["config"])
    runner = Runner(
        spec["graph"],
        llm,
        verifier,
        task,
        config,
        memory=memory,
        run_id=run_id,
        output=spec["output"],
        runs_dir=runs_dir,
        baselines=spec.get("baselines", False),
        baseline_n=spec.get("baseline_n"),
        progress=progress,
        console=console,
        spec=spec,
    )
    return runner.run(problems)
