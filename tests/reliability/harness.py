"""The reliability harness (issue 6): kill -9 and resume, a 500-problem soak, concurrent writers.

The tests in this folder use it (through the `harness` fixture), and so does
the benchmark, `benchmarks/reliability.py`, which prints its reports. It is
also the launcher they start as a process:

    .venv/bin/python tests/reliability/harness.py cli run --graph ...   # the real CLI, scripted model
    .venv/bin/python tests/reliability/harness.py worker PORT INDEX PER WORKERS RUNS

1. Crash: one `verbalrl run --graph reflective --memory DIR` (a real CLI
   process, real chromadb folder, real SQLite checkpointer) is killed with
   SIGKILL at a list of points, each in a fresh process (`--resume` after the
   first), then resumed to the end. Exact points come from fault-injection
   hooks (below): the process blocks at the point and the harness kills it;
   `time:S` points kill S seconds after the process started, `run:S` points
   S seconds after its first event. Compared with
   a clean run of the same problems: each problem once in the JSONL, the same
   per-problem results, the same experiences and lessons in memory.
2. Soak: `Runner` in this process over 500 problems (reflective graph, real
   memory, real checkpointer): RSS, checkpoint DB size, open fds and threads
   every 100 problems and after closing everything.
3. Concurrency: a second `verbalrl run` on a memory folder in use is refused
   while the first finishes; four `Runner` processes share one memory
   through a `chroma run` server on loopback and lose nothing.

The launcher (`cli`) is the real CLI. Its model is `--model scripted:arithmetic`,
a backend the launcher registers (`register_backend`): `ScriptedArithmetic`
answers the arithmetic in the prompt, wrong on the first trial of about a
third of the problems and on every trial of about a ninth (a function of the
question only, so runs are deterministic), and sleeps `$RELIABILITY_SLEEP`
seconds per call so a kill at a random moment lands mid-problem. Memory goes
through the CLI's one memory seam, `verbalrl.cli.run.open_memory`, replaced
to open `ChromaMemory` with `$RELIABILITY_EMBEDDER` (default `hash:128`: the
real all-MiniLM model adds seconds of start-up to each of the ~15 processes
of the crash loop; `--embedder default` uses it). The verifier is the real
`--verifier checker`. Fault-injection hooks, by environment variable:

- `RELIABILITY_EVENTS=FILE`: one line `pid event n` per event. Events: `llm`
  (inside a model call, before it returns: mid-node), `experience-write`,
  `failure-write` (after the upsert of an experience that carries a lesson,
  before the lesson's upsert), `reflection-write`, `concept-write` (after a
  chromadb upsert, before the node finishes: mid memory write), `checkpoint`
  (after a LangGraph checkpoint commit), `pre-checkpoint` (before it: the
  previous node's writes are saved, the step's checkpoint not yet), `jsonl` (after a results line is
  durable), `prune` (after a finished problem's checkpoint thread is deleted).
- `RELIABILITY_HALT_AT=EVENT:N`: at this process's N-th such event, write
  `$RELIABILITY_HALT_FILE` and block until killed, or until the file
  `$RELIABILITY_CONTINUE_FILE` exists. `jsonl-torn:N` writes half of the
  N-th results line first (a kill in the middle of a write).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
LEVEL = 2  # two-digit addition: thousands of distinct questions, no accidental near-duplicates
MODEL = "scripted:arithmetic"  # the backend `install_hooks` registers in the launched process
RUN_ARGS = [
    *("--graph", "reflective", "--model", MODEL, "--verifier", "checker"),
    *("--task", "arithmetic", "--level", str(LEVEL)),
]
# The per-problem fields a crash must not change. Left out: timings, `resumed`, `recalled` and the
# distillation's share of calls and tokens: the distillation schedule counts experiences per
# process (`ChromaMemory.maybe_distill`), so it moves after a restart.
SAME_FIELDS = ("answer", "correct", "score", "status", "rounds", "path", "stored", "lessons")
# Points in the order they hit one run, each in a fresh process. `EVENT:N`: at the process's
# N-th EVENT (see the module docstring); `time:S`: S seconds after the process started (during
# start-up on a busy machine); `run:S`: S seconds after its first event (mid-run on any machine).
CRASH_POINTS = (
    "pre-checkpoint:5",  # a node's writes saved, the step's checkpoint not: resume must not restart
    "llm:4",  # mid-node: inside the 4th model call
    "failure-write:1",  # a failure's experience is stored, its lesson not yet
    "checkpoint:6",  # right after a checkpoint commit, mid-problem
    "jsonl-torn:2",  # half of the 2nd results line written
    "run:1.5",  # (0.2 s a problem at the default sleep: about 7 problems in)
    "reflection-write:1",  # a lesson stored, the node not yet checkpointed
    "jsonl:1",  # a results line durable, its checkpoints not yet deleted
    "time:1.0",  # during start-up (imports, opening the memory folder)
    "concept-write:1",  # during distillation
    "llm:1",  # the first model call after a resume (the resumed problem again)
    "run:2.5",
    "experience-write:3",
    "prune:1",  # a finished problem's thread deleted (at start-up a resume re-deletes finished ones)
    "run:0.5",
    "time:2.0",
    "checkpoint:1",  # the first commit of a resumed process
)


# ---------------------------------------------------------------- the scripted model and the hooks
LESSONS_HEADER = "Lessons from your previous attempts"
_QUESTION = re.compile(r"What is (\d+) ([+\-*]) (\d+)\?")
_counts: dict[str, int] = {}


def wrongness(question: str) -> int:
    """0: always right; 1: wrong on the first trial only; 2: wrong on every trial."""
    h = int(hashlib.sha256(question.encode()).hexdigest()[:8], 16)
    return 2 if h % 9 == 0 else 1 if h % 3 == 0 else 0


def scripted_reply(prompt: Any) -> str:
    """The reply of `ScriptedArithmetic` to one prompt (solver, reflector or distiller)."""
    from verbalrl.llm import prompt_text
    from verbalrl.testing import role_of

    text, role = prompt_text(prompt), role_of(prompt)
    if role == "distiller":
        return "ADD: Work digit by digit and check the carry before answering."
    # The problem is in the last user turn (demonstration turns before it are other problems), and
    # its problem section comes last there (recalled memory above it quotes other problems; a turn
    # without memory or lessons has no section heading: the whole turn is the problem).
    if not isinstance(prompt, str):
        text = next(m["content"] for m in reversed(prompt) if m["role"] == "user")
    found = _QUESTION.search(text[max(text.rfind("## Problem"), 0) :])
    if found is None:
        return "I cannot tell what the problem is.\nAnswer: 0"
    a, op, b = int(found.group(1)), found.group(2), int(found.group(3))
    if role == "reflector":
        return f"Plan: recompute {a} {op} {b} digit by digit and check the carry."
    value = a + b if op == "+" else a - b if op == "-" else a * b
    retry = LESSONS_HEADER in text
    wrong = wrongness(found.group(0))
    if wrong == 2 or (wrong == 1 and not retry):
        value += 1
    return f"{'Again' if retry else 'First'}: {a} {op} {b} = {value}.\nAnswer: {value}"


def expected_correct(question: str) -> bool:
    """Whether the reflective graph (3 trials, exact-checker verifier) ends right on this question."""
    return wrongness(question) < 2


def make_model(sleep: float = 0.0) -> Any:
    """`ScriptedArithmetic`: a FakeLLM with `scripted_reply`, a per-call sleep and the `llm` event."""
    from verbalrl.llm.fake import FakeLLM

    class ScriptedArithmetic(FakeLLM):
        def __init__(self) -> None:
            super().__init__(scripted_reply, name="scripted-arithmetic")
            self.calls = deque(maxlen=64)  # type: ignore[assignment]  # the call log must not grow in a soak

        def generate(self, prompts: Any, config: Any = None) -> Any:
            time.sleep(sleep)
            out = super().generate(prompts, config)
            event("llm")
            return out

    return ScriptedArithmetic()


def _halt() -> None:
    Path(os.environ["RELIABILITY_HALT_FILE"]).write_text(str(os.getpid()))
    go_on = os.environ.get("RELIABILITY_CONTINUE_FILE")
    while not (go_on and Path(go_on).exists()):  # the harness kills this process, or lets it go on
        time.sleep(0.05)


def event(kind: str) -> None:
    """Log one event; block for the kill when it is the one named in RELIABILITY_HALT_AT."""
    _counts[kind] = _counts.get(kind, 0) + 1
    log = os.environ.get("RELIABILITY_EVENTS")
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()} {kind} {_counts[kind]}\n")
    if os.environ.get("RELIABILITY_HALT_AT") == f"{kind}:{_counts[kind]}":
        _halt()


def install_hooks() -> None:
    """Register the scripted model, replace the CLI's memory seam, wrap the write points with `event`."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    import verbalrl.cli.run as cli_run
    import verbalrl.run.runner as runner
    from verbalrl.llm.registry import register_backend
    from verbalrl.memory import ChromaMemory

    sleep = float(os.environ.get("RELIABILITY_SLEEP", "0.02"))
    embedder = os.environ.get("RELIABILITY_EMBEDDER", "hash:128")
    register_backend("scripted", lambda model, **options: make_model(sleep), replace=True)
    cli_run.open_memory = lambda path: (  # type: ignore[assignment]
        ChromaMemory(path, embedder=embedder) if path is not None else ChromaMemory(embedder=embedder)
    )

    upsert = ChromaMemory._upsert

    def traced_upsert(self: Any, kind: Any, rows: Any) -> None:
        upsert(self, kind, rows)
        if rows:
            event(f"{kind}-write")
            if kind == "experience" and any(record.reflection for record, _ in rows):
                event("failure-write")

    ChromaMemory._upsert = traced_upsert  # type: ignore[method-assign]

    put = SqliteSaver.put

    def traced_put(self: Any, *args: Any, **kwargs: Any) -> Any:
        event("pre-checkpoint")
        out = put(self, *args, **kwargs)
        event("checkpoint")
        return out

    SqliteSaver.put = traced_put  # type: ignore[method-assign]
    delete = SqliteSaver.delete_thread

    def traced_delete(self: Any, *args: Any, **kwargs: Any) -> Any:
        out = delete(self, *args, **kwargs)
        event("prune")
        return out

    SqliteSaver.delete_thread = traced_delete  # type: ignore[method-assign]

    append = runner.append_line
    halt = os.environ.get("RELIABILITY_HALT_AT", "")
    torn_at = int(halt.split(":")[1]) if halt.startswith("jsonl-torn:") else 0

    def traced_append(path: Path, record: dict[str, Any]) -> None:
        if _counts.get("jsonl", 0) + 1 == torn_at:
            line = json.dumps(record, ensure_ascii=False)
            with path.open("a", encoding="utf-8") as fh:
                fh.write(line[: len(line) // 2])
                fh.flush()
                os.fsync(fh.fileno())
            _halt()
        append(path, record)
        event("jsonl")

    runner.append_line = traced_append  # type: ignore[assignment]


def launch_cli(argv: Sequence[str]) -> None:
    """The `cli` sub-command: `verbalrl ARGV` with the hooks installed."""
    install_hooks()
    from verbalrl.cli import main

    sys.argv = ["verbalrl", *argv]
    main()


# ---------------------------------------------------------------- processes
def child_env(work: Path, **extra: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELIABILITY_")}
    env.update(
        VERBALRL_HOME=str(work / "home"),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        ANONYMIZED_TELEMETRY="False",
        TOKENIZERS_PARALLELISM="false",
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_argv(run_id: str, runs: Path, memory: Path, n: int, seed: int = 0) -> list[str]:
    """`verbalrl run` arguments of a new reflective run over `n` arithmetic problems."""
    return [
        "run",
        *RUN_ARGS,
        "--problems",
        str(n),
        "--seed",
        str(seed),
        "--n-drafts",
        "2",
        "--memory",
        str(memory),
        "--run-id",
        run_id,
        "--runs-dir",
        str(runs),
        "--no-progress",
    ]


def resume_argv(run_id: str, runs: Path) -> list[str]:
    return ["run", "--resume", run_id, "--runs-dir", str(runs), "--no-progress"]


def start_cli(argv: Sequence[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, str(HERE), "cli", *argv], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def run_cli(argv: Sequence[str], env: dict[str, str], log: Path, timeout: float = 300) -> int:
    proc = start_cli(argv, env, log)
    try:
        return proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def results_of(path: Path) -> list[dict[str, Any]]:
    from verbalrl.run import read_results

    return read_results(path)


def checkpoint_threads(db: Path) -> set[str]:
    """Thread ids with checkpoints in a run's SQLite file (empty when there is none yet)."""
    if not db.is_file():
        return set()
    conn = sqlite3.connect(str(db))
    try:
        return {row[0] for row in conn.execute("SELECT DISTINCT thread_id FROM checkpoints")}
    except sqlite3.OperationalError:  # killed before the table was created
        return set()
    finally:
        conn.close()


def memory_snapshot(
    folder: Path | None, embedder: str = "hash:128", port: int | None = None
) -> dict[str, Any]:
    """What a memory folder (or the `chroma run` server on `port`) holds, by content: experiences
    and lessons (id -> facts), concept count.

    Opening the folder also proves its lock is free (a killed holder's `flock` died with it).
    """
    from verbalrl.memory import ChromaMemory

    where: dict[str, Any] = {"host": "127.0.0.1", "port": port} if port is not None else {"path": folder}
    with ChromaMemory(embedder=embedder, **where) as memory:
        experiences = {
            e.id: (e.status, e.count, tuple(sorted(e.aliases)), e.problem)
            for e in memory.iter_records("experience")
        }
        reflections = {
            r.id: (r.count, r.experience_id, r.text)
            for r in memory.iter_records("reflection")  # type: ignore[union-attr]
        }
        concepts = memory.count("concept")
    return {"experiences": experiences, "reflections": reflections, "concepts": concepts}


# ---------------------------------------------------------------- 1. crash and resume
@dataclass
class Kill:
    """One process of the crash loop: where it was killed and what the run looked like afterwards."""

    point: str
    killed: bool
    reached: bool  # an `EVENT:N` point: the process got to it (wrote the halt file)
    returncode: int | None
    results_before: int
    results_after: int
    last_event: str  # the process's last logged event ("-": killed before any)
    open_problems: int  # after the kill: problems with checkpoints but no results line (mid-graph)
    torn_tail: bool  # the results file ended in half a line
    seconds: float


def _wait_for_point(
    proc: subprocess.Popen[bytes], halt: Path | None, delay: float | None, events: Path | None, timeout: float
) -> bool:
    """Wait for the halt file, or `delay` seconds after the start (after the process's first event
    when `events` is given), then SIGKILL; False when the process ended first."""
    start = time.monotonic()
    since = None if events is not None else start
    mark = f"{proc.pid} ".encode()
    while proc.poll() is None:
        now = time.monotonic()
        if since is None and events is not None and events.is_file() and mark in events.read_bytes():
            since = now
        if (halt is not None and halt.exists()) or (
            delay is not None and since is not None and now - since >= delay
        ):
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        if now - start > timeout:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"process {proc.pid} did not reach its kill point in {timeout:.0f} s")
        time.sleep(0.01)
    return False


def _last_event(events: Path, pid: int) -> str:
    if not events.is_file():
        return "-"
    mine = [line.split(" ", 1)[1] for line in events.read_text().splitlines() if line.startswith(f"{pid} ")]
    return mine[-1] if mine else "-"


def crash_loop(
    work: Path,
    points: Sequence[str] = CRASH_POINTS,
    *,
    n: int = 80,  # the points use about half of them on an idle machine, fewer on a busy one
    seed: int = 0,
    sleep: float = 0.04,
    embedder: str = "hash:128",
    timeout: float = 180,
) -> dict[str, Any]:
    """Kill one run at each point (a fresh process each), resume it to the end, run it clean; compare."""
    start = time.perf_counter()
    runs, memory, events, logs = work / "runs", work / "mem", work / "events.log", work / "logs"
    run_id = "crash"
    spec, results = runs / run_id / "run.json", runs / run_id / "results.jsonl"
    base = {"RELIABILITY_EVENTS": events, "RELIABILITY_SLEEP": sleep, "RELIABILITY_EMBEDDER": embedder}
    kills: list[Kill] = []
    for i, point in enumerate(points):
        argv = resume_argv(run_id, runs) if spec.is_file() else run_argv(run_id, runs, memory, n, seed)
        halt, delay, extra = None, None, dict(base)
        if point.startswith(("time:", "run:")):
            delay = float(point.split(":", 1)[1])
        else:
            halt = work / f"halt-{i}"
            extra |= {"RELIABILITY_HALT_AT": point, "RELIABILITY_HALT_FILE": halt}
        before = len(results_of(results))
        t0 = time.perf_counter()
        proc = start_cli(argv, child_env(work, **extra), logs / f"{i:02d}.log")
        killed = _wait_for_point(proc, halt, delay, events if point.startswith("run:") else None, timeout)
        done = {r["problem_id"] for r in results_of(results)}
        threads = checkpoint_threads(runs / run_id / "checkpoints.sqlite")
        kills.append(
            Kill(
                point=point,
                killed=killed,
                reached=halt is not None and halt.exists(),
                returncode=proc.returncode,
                results_before=before,
                results_after=len(done),
                last_event=_last_event(events, proc.pid),
                open_problems=len({t.split("/", 1)[1] for t in threads} - done),
                torn_tail=results.is_file() and not results.read_bytes().endswith(b"\n"),
                seconds=round(time.perf_counter() - t0, 2),
            )
        )
    # The last process died holding the memory folder's lock: the OS must have dropped it.
    memory_snapshot(memory, embedder)
    t0 = time.perf_counter()
    argv = resume_argv(run_id, runs) if spec.is_file() else run_argv(run_id, runs, memory, n, seed)
    final_rc = run_cli(argv, child_env(work, **base), logs / "final.log", timeout)
    final_seconds = time.perf_counter() - t0
    crashed_seconds = time.perf_counter() - start

    t0 = time.perf_counter()
    clean_env = child_env(work, RELIABILITY_SLEEP=sleep, RELIABILITY_EMBEDDER=embedder)
    clean_rc = run_cli(
        run_argv("clean", work / "clean-runs", work / "clean-mem", n, seed), clean_env, logs / "clean.log"
    )
    clean_seconds = time.perf_counter() - t0
    return {
        "kills": kills,
        "final_returncode": final_rc,
        "final_log": (logs / "final.log").read_text(errors="replace")[-3000:],
        "results": results_of(results),
        "results_lines": results.read_text().splitlines() if results.is_file() else [],
        "threads_left": sorted(checkpoint_threads(runs / run_id / "checkpoints.sqlite")),
        "memory": memory_snapshot(memory, embedder),
        "clean_returncode": clean_rc,
        "clean_results": results_of(work / "clean-runs" / "clean" / "results.jsonl"),
        "clean_memory": memory_snapshot(work / "clean-mem", embedder),
        "seconds": {"crash_loop": crashed_seconds, "final_resume": final_seconds, "clean_run": clean_seconds},
    }


def comparable(record: dict[str, Any]) -> dict[str, Any]:
    """The fields of a result a crash must not change (model calls without the distillation's)."""
    out = {k: record.get(k) for k in SAME_FIELDS}
    out["llm_calls"] = record["llm_calls"] - record.get("distilled", 0)
    return out


def crash_differences(report: dict[str, Any]) -> list[str]:
    """Every way the killed-and-resumed run differs from the clean one (empty: none)."""
    problems: list[str] = []
    ids = [r["problem_id"] for r in report["results"]]
    clean = {r["problem_id"]: r for r in report["clean_results"]}
    if sorted(ids) != sorted(clean) or len(ids) != len(set(ids)):
        problems.append(f"problem ids differ: {len(ids)} lines, {len(set(ids))} distinct, clean {len(clean)}")
    for r in report["results"]:
        want = clean.get(r["problem_id"])
        if want is not None and comparable(r) != comparable(want):
            problems.append(f"{r['problem_id']}: {comparable(r)} != clean {comparable(want)}")
    for kind in ("experiences", "reflections"):
        got, want = report["memory"][kind], report["clean_memory"][kind]
        for rid in sorted(set(want) - set(got)):
            problems.append(f"{kind}: lost {rid} {want[rid]}")
        for rid in sorted(set(got) - set(want)):
            problems.append(f"{kind}: extra {rid} {got[rid]}")
        for rid in sorted(set(got) & set(want)):
            if got[rid] != want[rid]:
                problems.append(f"{kind}: {rid} is {got[rid]}, clean {want[rid]}")
    return problems


# ---------------------------------------------------------------- 2. soak
def probe(db: Path | None = None) -> dict[str, Any]:
    """RSS (MB), open fds, Python and OS threads of this process; checkpoint DB and WAL sizes (MB)."""
    status = Path("/proc/self/status").read_text()
    rss_kb = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    os_threads = int(re.search(r"Threads:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    out: dict[str, Any] = {
        "rss_mb": round(rss_kb / 1024, 1),
        "fds": len(os.listdir("/proc/self/fd")),
        "threads": threading.active_count(),
        "os_threads": os_threads,
    }
    if db is not None:
        size = lambda p: p.stat().st_size if p.is_file() else 0  # noqa: E731
        out["db_mb"] = round(size(db) / 2**20, 2)
        out["wal_mb"] = round(size(db.with_name(db.name + "-wal")) / 2**20, 2)
        out["db_total_mb"] = round(out["db_mb"] + out["wal_mb"], 2)
    return out


def _soak_run(
    work: Path, run_id: str, problems: Sequence[Any], task: Any, embedder: str | None, **runner_kw: Any
) -> tuple[Any, int]:
    """One reflective run; `embedder=None`: without memory (the no-memory ablation of the graph)."""
    from verbalrl.graphs import ReflectiveConfig
    from verbalrl.memory import ChromaMemory
    from verbalrl.run import Runner
    from verbalrl.verifier.base import CheckerVerifier

    memory = ChromaMemory(work / f"mem-{run_id}", embedder=embedder) if embedder else None
    try:
        runner = Runner(
            "reflective",
            make_model(0.0),
            CheckerVerifier(task),
            task,
            ReflectiveConfig(n_drafts=2, use_memory=memory is not None),
            memory=memory,
            run_id=run_id,
            runs_dir=work / "runs",
            progress=False,
            **runner_kw,
        )
        return runner.run(problems), memory.count("experience") if memory else 0
    finally:
        if memory is not None:
            memory.close()


def soak(
    work: Path, *, n: int = 500, every: int = 100, embedder: str | None = "hash:128", **runner_kw: Any
) -> dict[str, Any]:
    """One reflective run over `n` problems in this process, probed every `every` problems.

    `embedder=None` runs the graph without memory: what grows then is the graph, the
    checkpointer and the runner alone (chromadb's own growth with its records is left out).

    A 5-problem warm-up run (its own memory folder and run) comes first so that one-time
    start-up (imports, thread pools, caches) is in the baseline; then a leak per problem
    or per opened store shows as growth.
    """
    import gc

    from verbalrl.tasks import get_task

    task = get_task("arithmetic", level=LEVEL)
    problems = task.problems("test", n=n, seed=0)
    _soak_run(work, "warmup", task.problems("test", n=5, seed=99), task, embedder)
    gc.collect()
    baseline = probe()
    db = work / "runs" / "soak" / "checkpoints.sqlite"
    samples: list[dict[str, Any]] = []
    finished = {"n": 0}
    start = time.perf_counter()

    def on_event(problem_id: str, node: str, data: dict[str, Any]) -> None:
        if node == "finalize":
            finished["n"] += 1
            if finished["n"] % every == 0 or finished["n"] == n:
                gc.collect()
                samples.append(
                    {"problems": finished["n"], "seconds": round(time.perf_counter() - start, 1), **probe(db)}
                )

    report, experiences = _soak_run(work, "soak", problems, task, embedder, on_event=on_event, **runner_kw)
    seconds = time.perf_counter() - start
    del report
    gc.collect()
    time.sleep(0.5)  # let executor threads that are shutting down exit
    after = probe(db)
    records = results_of(work / "runs" / "soak" / "results.jsonl")
    return {
        "problems": n,
        "results": len(records),
        "distinct_results": len({r["problem_id"] for r in records}),
        "correct_as_scripted": sum(
            r["correct"] == expected_correct(p.question) for r, p in zip(records, problems, strict=False)
        ),
        "experiences": experiences,
        "threads_left": len(checkpoint_threads(db)),
        "baseline": baseline,
        "samples": samples,
        "after": after,
        "seconds": round(seconds, 1),
    }


# ---------------------------------------------------------------- 3. concurrency
def lock_conflict(work: Path, *, n: int = 8, timeout: float = 180) -> dict[str, Any]:
    """A second `verbalrl run` on a memory folder that a first one holds (paused after its first result)."""
    runs, memory, halt, go_on = work / "runs", work / "mem", work / "paused", work / "continue"
    pause = {
        "RELIABILITY_HALT_AT": "jsonl:1",
        "RELIABILITY_HALT_FILE": halt,
        "RELIABILITY_CONTINUE_FILE": go_on,
    }
    first = start_cli(run_argv("first", runs, memory, n), child_env(work, **pause), work / "first.log")
    deadline = time.monotonic() + timeout
    while not halt.exists():  # mid-run, holding the lock
        if first.poll() is not None or time.monotonic() > deadline:
            first.kill()
            raise RuntimeError("the first run ended or stalled before its first result")
        time.sleep(0.02)
    t0 = time.perf_counter()
    second = subprocess.run(
        [sys.executable, str(HERE), "cli", *run_argv("second", runs, memory, n)],
        env=child_env(work),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    second_seconds = time.perf_counter() - t0
    first_running = first.poll() is None
    go_on.touch()
    first_rc = first.wait(timeout=timeout)
    return {
        "first_pid": first.pid,
        "first_running_when_refused": first_running,
        "first_returncode": first_rc,
        "first_results": results_of(runs / "first" / "results.jsonl"),
        "questions": [p.question for p in _problems(n)],
        "second_returncode": second.returncode,
        "second_stderr": second.stderr,
        "second_seconds": round(second_seconds, 2),
        "second_run_dir": (runs / "second").exists(),
        "memory": memory_snapshot(memory),
    }


def _problems(n: int, seed: int = 0) -> list[Any]:
    from verbalrl.tasks import get_task

    return get_task("arithmetic", level=LEVEL).problems("test", n=n, seed=seed)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[Any], what: str, timeout: float) -> None:
    """Return once `url` answers; kill `proc` and raise if it exits or `timeout` passes first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.1)


def start_chroma_server(
    folder: Path, timeout: float = 90, port: int | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    """`chroma run` on loopback (on `port`, else a free one) with its data in `folder`; returns
    (process, port) once it answers. A restart on the same folder and port appends to its log."""
    chroma = Path(sys.executable).parent / "chroma"
    port = port or _free_port()
    folder.mkdir(parents=True, exist_ok=True)
    with (folder.parent / f"{folder.name}-server.log").open("ab") as log:
        proc = subprocess.Popen(
            [str(chroma), "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    wait_up(f"http://127.0.0.1:{port}/api/v2/heartbeat", proc, "chroma run", timeout)
    return proc, port


def stop(proc: subprocess.Popen[Any]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def server_worker(port: int, index: int, per_worker: int, workers: int, runs: Path) -> None:
    """The `worker` sub-command: a reflective `Runner` over its slice of problems, memory on the server."""
    from verbalrl.graphs import ReflectiveConfig
    from verbalrl.memory import ChromaMemory, MemoryConfig
    from verbalrl.run import Runner
    from verbalrl.tasks import get_task
    from verbalrl.verifier.base import CheckerVerifier

    task = get_task("arithmetic", level=LEVEL)
    problems = task.problems("test", n=per_worker * workers, seed=7)[
        index * per_worker : (index + 1) * per_worker
    ]
    stored: list[str] = []

    def on_event(problem_id: str, node: str, data: dict[str, Any]) -> None:
        stored.extend(data.get("stored", []))

    cfg = MemoryConfig(host="127.0.0.1", port=port, embedder="hash:128")
    with ChromaMemory(config=cfg) as memory:
        Runner(
            "reflective",
            make_model(0.0),
            CheckerVerifier(task),
            task,
            ReflectiveConfig(n_drafts=2),
            memory=memory,
            run_id=f"worker{index}",
            runs_dir=runs,
            progress=False,
            on_event=on_event,
        ).run(problems)
    print(json.dumps({"stored": stored, "questions": [p.question for p in problems]}))


def server_writers(
    work: Path, *, workers: int = 4, per_worker: int = 15, timeout: float = 300
) -> dict[str, Any]:
    """`workers` Runner processes at once, one `chroma run` server as their shared memory."""
    from verbalrl.memory import ChromaMemory, MemoryConfig

    server, port = start_chroma_server(work / "server-data")
    try:
        start = time.perf_counter()
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    str(HERE),
                    "worker",
                    str(port),
                    str(i),
                    str(per_worker),
                    str(workers),
                    str(work / "runs"),
                ],
                env=child_env(work),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(workers)
        ]
        outs = []
        for proc in procs:
            out, err = proc.communicate(timeout=timeout)
            outs.append(
                {
                    "returncode": proc.returncode,
                    "stderr": err[-2000:],
                    **(json.loads(out) if proc.returncode == 0 else {}),
                }
            )
        seconds = time.perf_counter() - start
        with ChromaMemory(config=MemoryConfig(host="127.0.0.1", port=port, embedder="hash:128")) as memory:
            experiences = list(memory.iter_records("experience"))
            reflections = memory.count("reflection")
    finally:
        stop(server)
    return {
        "workers": outs,
        "results": [results_of(work / "runs" / f"worker{i}" / "results.jsonl") for i in range(workers)],
        "experience_ids": {e.id for e in experiences} | {a for e in experiences for a in e.aliases},
        "experience_problems": [e.problem for e in experiences],  # type: ignore[union-attr]
        "reflections": reflections,
        "seconds": round(seconds, 1),
    }


# ---------------------------------------------------------------- the benchmark
def print_crash(report: dict[str, Any]) -> None:
    print("\n## Crash and resume")
    print(
        "| # | kill point | killed | results before -> after | last event | open problems | torn tail | s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for i, k in enumerate(report["kills"]):
        print(
            f"| {i + 1} | `{k.point}` | {'yes' if k.killed else f'no (rc {k.returncode})'} | "
            f"{k.results_before} -> {k.results_after} | {k.last_event} | {k.open_problems} | "
            f"{'yes' if k.torn_tail else 'no'} | {k.seconds} |"
        )
    diffs = crash_differences(report)
    res = report["results"]
    distinct = len({r["problem_id"] for r in res})
    print(
        f"final resume rc {report['final_returncode']}; {len(res)} lines, {distinct} "
        f"problems ({sum(bool(r.get('resumed')) for r in res)} resumed mid-problem); clean run rc "
        f"{report['clean_returncode']}, {len(report['clean_results'])} problems"
    )
    for kind in ("experiences", "reflections"):
        print(
            f"memory {kind}: crashed {len(report['memory'][kind])}, clean {len(report['clean_memory'][kind])}"
        )
    print(f"concepts: crashed {report['memory']['concepts']}, clean {report['clean_memory']['concepts']}")
    print(f"checkpoint threads left: {len(report['threads_left'])}")
    print(f"differences from the clean run: {len(diffs)}")
    for d in diffs[:20]:
        print("  ", d)
    print("seconds:", {k: round(v, 1) for k, v in report["seconds"].items()})


def print_soak(report: dict[str, Any], label: str) -> None:
    print(f"\n## Soak ({label}): {report['problems']} problems in {report['seconds']} s")
    print("| problems | s | RSS MB | DB MB | WAL MB | fds | threads (py/os) |")
    print("|---|---|---|---|---|---|---|")
    b = report["baseline"]
    print(f"| baseline | - | {b['rss_mb']} | - | - | {b['fds']} | {b['threads']}/{b['os_threads']} |")
    for s in report["samples"]:
        print(
            f"| {s['problems']} | {s['seconds']} | {s['rss_mb']} | {s['db_mb']} | {s['wal_mb']} | "
            f"{s['fds']} | {s['threads']}/{s['os_threads']} |"
        )
    a = report["after"]
    print(
        f"| after close | - | {a['rss_mb']} | {a['db_mb']} | {a['wal_mb']} | {a['fds']} | "
        f"{a['threads']}/{a['os_threads']} |"
    )
    print(
        f"results {report['results']} ({report['distinct_results']} distinct, "
        f"{report['correct_as_scripted']} as scripted), experiences {report['experiences']}, "
        f"checkpoint threads left {report['threads_left']}"
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["cli"]:
        launch_cli(sys.argv[2:])
    elif sys.argv[1:2] == ["worker"]:
        port, index, per, workers, runs = sys.argv[2:7]
        server_worker(int(port), int(index), int(per), int(workers), Path(runs))
    else:
        sys.exit(f"usage: {sys.argv[0]} cli ARGS... | worker PORT INDEX PER WORKERS RUNS")
