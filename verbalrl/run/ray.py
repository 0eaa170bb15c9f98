"""Fan a run's problems out to Ray workers that share a model server, a memory server and a checkpoint store.

In scope: `RayRunner` (the driver: submits one Ray task per problem, at most
`max_in_flight` not yet written, gathers the records and appends them to the
one results JSONL in problem order), `solve_problem` (the task body: each
worker process builds its own model client, verifier, memory client and graph
from a `WorkerSpec`, once, and reuses them for the next problems),
`resume_with_ray`, and `check_shared_services` (what a multi-machine cluster
refuses). Left out: the per-problem work itself (`solver.ProblemSolver`, the
same code the single-process `Runner` runs) and starting the services.

Shared services, because a worker holds no state of its own:
- the model behind an OpenAI-compatible server (`--model openai:NAME
  --base-url URL`: `vllm serve` on a GPU box, `verbalrl serve` on a CPU). A
  local model path is refused: every worker would load its own copy of the
  weights onto the same cores or GPU, where one server batches all workers'
  requests. (A trained verifier *folder* is allowed: each worker loads it, so
  it must exist at the same path on every node.)
- memory (reflective graph) in a `chroma run` server (`memory_url`); a memory
  folder is refused, since it is locked to one writer process.
- checkpoints in the run folder's SQLite file (workers of one machine) or in
  PostgreSQL (`checkpoint_url`, any number of machines). On a cluster of more
  than one node, SQLite and loopback service URLs are refused.

Order and durability: records are written by the driver only, as soon as
every earlier problem is written, so the file is always a prefix of the
problem order plus nothing torn. A killed driver loses only results not yet
written; their problems keep their checkpoints, so `--resume` with the same
run id skips what is written and finishes the rest cheaply (a finished graph
is read back from its checkpoint, an interrupted one continues).

Retries: a task that raises is run again (Ray `max_retries`,
`retry_exceptions=True`) on any worker; the graph continues from the
problem's checkpoint, so finished nodes are not redone. A problem that still
fails stops the run with an error naming it (the run stays resumable).
Workers' logs stay in Ray's session folder (`/tmp/ray/session_latest/logs`).
"""

from __future__ import annotations

import atexit
import ipaddress
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import VerbalRLError
from ..graphs import GraphConfig
from ..graphs.checkpoint import is_postgres_url, redact_url
from ..tasks.base import Problem, Task
from .options import RayOptions, RunOptions
from .results import ResultRecord, append_line
from .runner import BaseRunner, RunReport
from .solver import ProblemSolver
from .spec import RunSpec, load_generator, open_run_memory, parse_memory_url, uses_memory

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker builds its graph from; sent once per run (`ray.put`), rebuilt when `key` changes."""

    key: str
    graph: str
    config: GraphConfig
    task: Task
    run_id: str
    model: str
    base_url: str | None
    verifier: str
    memory_url: str | None
    checkpoint: str
    baselines: bool
    baseline_n: int


# ----------------------------------------------------------------- the worker side
# One built solver per worker process, reused by the problems of the same run.
_worker: tuple[str, ProblemSolver, list[Callable[[], None]]] | None = None


def _close_worker() -> None:
    global _worker
    if _worker is None:
        return
    closers, _worker = _worker[2], None
    for close in closers:
        try:
            close()
        except Exception:  # noqa: BLE001 - closing must not mask anything
            log.debug("closing a worker resource failed", exc_info=True)


def _solver(spec: WorkerSpec) -> ProblemSolver:
    global _worker
    if _worker is not None and _worker[0] == spec.key:
        return _worker[1]
    _close_worker()
    from ..graphs.checkpoint import open_checkpointer

    closers: list[Callable[[], None]] = []
    try:
        llm = load_generator(spec.model, spec.base_url)
        if callable(getattr(llm, "close", None)):
            closers.append(llm.close)  # type: ignore[attr-defined]
        from ..verifier.registry import load_verifier

        verifier = load_verifier(spec.verifier, llm, spec.task)
        memory = None
        if uses_memory(spec.graph, spec.config):
            memory = open_run_memory(memory_url=spec.memory_url)
            closers.append(memory.close)
        saver, close = open_checkpointer(spec.checkpoint)
        closers.append(close)
        solver = ProblemSolver(
            spec.graph,
            llm,
            verifier,
            spec.task,
            spec.config,
            run_id=spec.run_id,
            memory=memory,
            checkpointer=saver,
            baselines=spec.baselines,
            baseline_n=spec.baseline_n,
        )
    except BaseException:
        for close in closers:
            close()
        raise
    atexit.unregister(_close_worker)  # registered once, however many runs this process serves
    atexit.register(_close_worker)
    _worker = (spec.key, solver, closers)
    return solver


def solve_problem(spec: WorkerSpec, problem: Problem, done: Sequence[str]) -> list[ResultRecord]:
    """The Ray task: `problem`'s records for the methods not in `done` (each notes this worker)."""
    return list(_solver(spec).records(problem, set(done)))


# ----------------------------------------------------------------- checks
def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_shared_services(nodes: int, checkpoint: str, base_url: str | None, memory_url: str | None) -> None:
    """Refuse services that the workers of a cluster of `nodes` machines cannot share."""
    if nodes <= 1:
        return
    from urllib.parse import urlsplit

    if not is_postgres_url(checkpoint):
        raise VerbalRLError(
            f"this Ray cluster has {nodes} nodes, and workers on different machines cannot share "
            f"the SQLite checkpoint file {checkpoint}: pass --checkpoint-url postgresql://USER@HOST/DB"
        )
    hosts = {"--base-url": urlsplit(base_url or "").hostname}
    if memory_url:
        hosts["--memory-url"] = parse_memory_url(memory_url)[0]
    for option, host in hosts.items():
        if host and _is_loopback(host):
            raise VerbalRLError(
                f"this Ray cluster has {nodes} nodes, but {option} points at {host}, which on each "
                "worker is that worker's own machine: give an address the workers can reach"
            )


# ----------------------------------------------------------------- the driver
def connect(address: str | None) -> bool:
    """Connect to Ray (`address`: None = RAY_ADDRESS, the latest local cluster or a new local one;
    `auto`; `host:port`; `ray://host:port`). True when this call did the connecting (and so
    should disconnect); an already initialised Ray is used as it is."""
    import ray

    if ray.is_initialized():
        return False
    try:
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    except ConnectionError as exc:
        raise VerbalRLError(
            f"no Ray cluster at {address!r} ({exc}); start one with `ray start --head`"
        ) from exc
    return True


class RayRunner(BaseRunner):
    """Run graph `graph` over problems on Ray workers; results, spec and resume as `Runner`.

    Example (a model server and a chroma server already running)::

        runner = RayRunner("reflective", task, ReflectiveConfig(), model="openai:qwen",
                           base_url="http://gpu-box:8000/v1", verifier="genrm",
                           memory_url="http://mem-box:8000", address="auto",
                           checkpoint_url="postgresql://verbalrl@db-box/verbalrl")
        report = runner.run(task.problems("test", n=500))

    `verifier` is a CLI verifier spec (`genrm`, `genrm-cot`, `checker`, a
    trained folder). How it fans out is `ray` (a `RayOptions`) or its fields
    by keyword (`address`, `max_in_flight`, `retries`, `task_cpus`); the other
    keyword arguments are `RunOptions` fields, as for `Runner` (`on_event`
    excepted: the nodes run on the workers).
    """

    def __init__(
        self,
        graph: str,
        task: Task,
        config: GraphConfig | None = None,
        *,
        model: str,
        verifier: str,
        base_url: str | None = None,
        memory_url: str | None = None,
        ray: RayOptions | None = None,
        options: RunOptions | None = None,
        spec: RunSpec | None = None,
        **fields: Any,
    ) -> None:
        ray_fields = {k: fields.pop(k) for k in list(fields) if k in RayOptions.model_fields}
        super().__init__(graph, task, config, options=options, spec=spec, **fields)
        self.ray = RayOptions(**{**(ray.model_dump() if ray else {}), **ray_fields})
        self._check(model, verifier, base_url, memory_url)
        self.model, self.base_url, self.verifier = model, base_url, verifier
        self.memory_url = memory_url
        self.address = self.ray.address
        self.max_in_flight = self.ray.max_in_flight
        self.retries = self.ray.retries
        self.task_cpus = self.ray.task_cpus

    def _check(self, model: str, verifier: str, base_url: str | None, memory_url: str | None) -> None:
        from ..llm.registry import split_backend

        if split_backend(model)[0] != "openai" or not base_url:
            raise VerbalRLError(
                f"--ray needs a model server that every worker shares: --model openai:NAME --base-url URL "
                f"(got --model {model!r}{'' if base_url else ' and no --base-url'}). Serve the model once "
                "with `vllm serve NAME` (GPU) or `verbalrl serve --model NAME --host 0.0.0.0` (CPU)"
            )
        if uses_memory(self.graph_name, self.config) and not memory_url:
            raise VerbalRLError(
                "--ray with the reflective graph needs a memory server that every worker shares: "
                "--memory-url http://HOST:PORT of `chroma run --path FOLDER --host 0.0.0.0 --port PORT` "
                "(a memory folder is locked to one process), or --no-memory"
            )
        if memory_url:
            parse_memory_url(memory_url)  # a bad URL fails here, not on every worker
        if not verifier or not verifier.strip():
            from ..verifier.registry import verifier_help

            raise VerbalRLError(verifier_help())
        if self.options.on_event is not None:
            raise VerbalRLError("on_event is not available with Ray: the nodes run on the workers")

    def recorded_fields(self) -> dict[str, Any]:
        return {
            **super().recorded_fields(),
            "model": self.model,
            "base_url": self.base_url,
            "verifier": self.verifier,
            "memory_url": self.memory_url,
            "fanout": self.ray.recorded(),
        }

    def run(self, problems: Sequence[Problem]) -> RunReport:
        """Run every problem not already in the output on the workers; return the report."""
        import ray

        problems = list(problems)
        done, todo = self._start(problems)
        connected = connect(self.address)
        try:
            nodes = sum(1 for n in ray.nodes() if n.get("Alive"))
            check_shared_services(nodes, self.checkpoint_location, self.base_url, self.memory_url)
            # Opened here first: the tables exist before the workers open the store at once.
            saver, close = self._open_checkpointer()
            try:
                self._write_spec(problems)
                self._prune_finished(saver, problems, todo)
                workers = max(1, int(ray.cluster_resources().get("CPU", 1) // self.task_cpus))
                window = self.max_in_flight or 2 * workers
                log.info(
                    "run %s: %d problems on %d node(s), %d worker(s), %d in flight; checkpoints in %s",
                    self.run_id,
                    len(todo),
                    nodes,
                    workers,
                    window,
                    redact_url(self.checkpoint_location),
                )
                with self._progress(len(problems), len(problems) - len(todo)) as advance:
                    self._gather(todo, done, saver, window, advance)
            finally:
                close()
        finally:
            if connected:
                ray.shutdown()
        return self._finish(problems, len(problems) - len(todo))

    def _worker_spec(self) -> WorkerSpec:
        return WorkerSpec(
            key=uuid.uuid4().hex,
            graph=self.graph_name,
            config=self.config,
            task=self.task,
            run_id=self.run_id,
            model=self.model,
            base_url=self.base_url,
            verifier=self.verifier,
            memory_url=self.memory_url,
            checkpoint=self.checkpoint_location,
            baselines=self.baselines,
            baseline_n=self.baseline_n,
        )

    def _gather(
        self,
        todo: list[Problem],
        done: set[tuple[Any, Any]],
        saver: Any,
        window: int,
        advance: Callable[[], None],
    ) -> None:
        """Keep up to `window` problems submitted and unwritten; write each in-order prefix at once."""
        import ray
        from ray.exceptions import RayError, RayTaskError

        task = ray.remote(solve_problem).options(
            num_cpus=self.task_cpus, max_retries=self.retries, retry_exceptions=True
        )
        spec_ref = ray.put(self._worker_spec())
        in_flight: dict[Any, int] = {}
        results: dict[int, list[ResultRecord]] = {}
        have: dict[Any, list[Any]] = {}  # problem id -> methods already written (one pass, not per problem)
        for method, problem_id in done:
            have.setdefault(problem_id, []).append(method)
        submitted = written = 0
        try:
            while written < len(todo):
                while submitted < len(todo) and submitted - written < window:
                    problem = todo[submitted]
                    in_flight[task.remote(spec_ref, problem, have.get(problem.id, []))] = submitted
                    submitted += 1
                ready, _ = ray.wait(list(in_flight), num_returns=1)
                for ref in ready:
                    index = in_flight.pop(ref)
                    try:
                        results[index] = ray.get(ref)
                    except RayError as exc:
                        cause = exc.cause if isinstance(exc, RayTaskError) else exc
                        raise VerbalRLError(
                            f"problem {todo[index].id} failed after {self.retries} "
                            f"retr{'y' if self.retries == 1 else 'ies'}: {type(cause).__name__}: {cause}. "
                            f"Finished problems are in {self.output}; finish with: "
                            f"verbalrl run --resume {self.run_id} --ray"
                        ) from cause
                while written in results:
                    for record in results.pop(written):
                        append_line(self.output, record.to_line())
                    self._prune(saver, todo[written])
                    advance()
                    written += 1
        finally:
            for ref in in_flight:  # an error or Ctrl-C: stop what is still queued or running
                ray.cancel(ref)


def resume_with_ray(
    run_id: str,
    *,
    runs_dir: str | Path | None = None,
    address: str | None = None,
    max_in_flight: int | None = None,
    retries: int = 2,
    progress: bool = True,
    console: Any = None,
) -> RunReport:
    """Finish CLI run `run_id` on Ray workers (it may have been started with or without Ray)."""
    from .build import resume

    ray = RayOptions(address=address, max_in_flight=max_in_flight, retries=retries)
    return resume(run_id, runs_dir=runs_dir, ray=ray, progress=progress, console=console)
