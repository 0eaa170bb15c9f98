"""The work on one problem: the graph resuming its checkpoint thread, the baselines, the records.

In scope: `ProblemSolver` (shared by the in-process `Runner` and the Ray
workers of `ray.py`), the checkpoint thread of a problem (`thread_id`), the
methods of a run in writing order (`run_methods`) and the `host:pid` a record
notes (`worker_name`). Correctness is scored here, after the loop, with the
task's checker; the graphs never see it (except memory confirmation in
`learn_from_feedback` mode). Left out: which problems to do, writing the
records and the checkpoint store's lifetime (the runners).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Collection, Iterator
from typing import Any

from langchain_core.runnables import RunnableConfig

from ..errors import ContextLengthError
from ..graphs import GraphConfig, build_graph, graph_options, initial_state
from ..graphs.nodes import result_record
from ..llm.base import LLM
from ..llm.wrappers import ModelClock, TimedLLM
from ..tasks.base import Problem, Task
from ..verifier.base import TimedVerifier, Verifier
from .options import EventHandler
from .results import GraphRecord, ResultRecord

log = logging.getLogger(__name__)

__all__ = ["ProblemSolver", "run_methods", "thread_id", "worker_name"]


def thread_id(run_id: str, problem_id: str) -> str:
    """The checkpoint thread of one problem of one run."""
    return f"{run_id}/{problem_id}"


def worker_name() -> str:
    """`host:pid` of this process: recorded with each result (which machine and worker computed it)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def run_methods(graph: str, baselines: bool, baseline_n: int) -> list[str]:
    """The methods of a run, in the order their records are written: the graph, then the baselines."""
    from .baselines import BASELINES, baseline_name

    return [graph, *([baseline_name(k, baseline_n) for k in BASELINES] if baselines else [])]


class ProblemSolver:
    """The work on one problem, shared by `Runner` (in process) and the Ray workers (`ray.py`).

    Holds the graph compiled against a checkpointer and yields a problem's
    result records (the graph's, then the baselines') that are not in `done`;
    the caller writes them. The graph resumes the problem's checkpoint thread
    when one exists.
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

    def records(self, problem: Problem, done: Collection[str] = ()) -> Iterator[ResultRecord]:
        """The problem's records for every method not in `done` (graph first, then baselines)."""
        if self.graph_name not in done:
            yield self._graph_record(problem)
        if self.baselines and not all(m in done for m in self.methods()[1:]):
            yield from (r for r in self._baseline_records(problem) if r.method not in done)

    def _run_graph(
        self, problem: Problem, thread: RunnableConfig
    ) -> tuple[dict[str, Any], bool, str | None]:
        """(final state values, whether it resumed a checkpoint, the failure that ended it or None)."""
        graph = self.graph
        snapshot = graph.get_state(thread)
        resumed = bool(snapshot.values)
        if snapshot.values and not snapshot.next and "result" in snapshot.values:
            return snapshot.values, resumed, None  # finished before the crash, not yet written
        # Any saved state continues from its checkpoint, also one with an empty `next`: a kill
        # after a node's writes were saved but before its step's checkpoint shows exactly that,
        # and starting over there would run the graph twice on one thread.
        payload = None if snapshot.values else initial_state(problem)
        failure = None
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
        return graph.get_state(thread).values, resumed, failure

    def _graph_record(self, problem: Problem) -> GraphRecord:
        thread: RunnableConfig = {
            **graph_options(self.config),
            "configurable": {"thread_id": thread_id(self.run_id, problem.id)},
        }
        model_before = self.clock.seconds
        start = time.perf_counter()
        values, resumed, failure = self._run_graph(problem, thread)
        seconds = time.perf_counter() - start
        if failure is not None:
            record = result_record(values, self.config, None, None, "error")
            result: dict[str, Any] = {**record, "errors": [*record["errors"], failure]}
        else:
            result = dict(values.get("result") or {})
        fields = {
            "run_id": self.run_id,
            "method": self.graph_name,
            "graph": self.graph_name,
            "problem_id": problem.id,
            "task": problem.task,
            **result,
            "correct": self.task.check(problem, result.get("answer")),
            "gold": problem.answer,
            "seconds": round(seconds, 4),
            "model_seconds": round(self.clock.seconds - model_before, 4),
            "resumed": resumed,
            "path": values.get("path", []),
            "worker": self.worker,
        }
        if values.get("stored"):
            fields["memory_ids"] = list(values["stored"])  # what this problem wrote to memory
        return GraphRecord(**fields)

    def _baseline_records(self, problem: Problem) -> list[ResultRecord]:
        from ..graphs.steps import generation
        from .baselines import run_baselines

        # the graphs' first solve uses the same seed: a baseline and a graph draw paired samples
        gen = generation(self.config, 1, self.config.max_new_tokens, salt=f"{problem.id}/solve")
        try:
            records = run_baselines(self.llm, self.verifier, self.task, problem, n=self.baseline_n, gen=gen)
        except ContextLengthError as exc:
            error = f"{type(exc).__name__}: {exc}"
            records = [
                {"method": m, "answer": None, "score": None, "rounds": 0, "llm_calls": 0,
                 "generated_tokens": 0, "seconds": 0.0, "status": "error", "errors": [error]}
                for m in self.methods()[1:]
            ]  # fmt: skip
        return [
            ResultRecord(
                **{
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
            )
            for record in records
        ]
