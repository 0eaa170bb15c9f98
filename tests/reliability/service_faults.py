"""Service faults (issue 16): the model server dies under a running `verbalrl run`.

A real `verbalrl serve` process serves the deterministic `ScriptedArithmetic`
model (the harness launcher registers it: `harness.py cli serve`), and a real
`verbalrl run` of the reflective graph uses it as `--model openai:...`.

1. `model_server_restart`: the server is killed (SIGKILL) once a few results
   are written, and started again on the same port `down` seconds later; the
   run waits (`--retry-wait`) and finishes. Compared with a clean run: every
   problem once, the same per-problem results, the same memory.
2. `model_server_gone`: the server is killed and does not come back within
   the run's `--retry-wait`: the run stops with a clear message; the server
   comes back; `--resume` finishes the run, again equal to the clean run.

`tests/reliability/test_service_faults.py` asserts; `benchmarks/reliability.py`
prints the "Service faults" table.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .harness import (
    LEVEL,
    _free_port,
    child_env,
    comparable,
    memory_snapshot,
    results_of,
    resume_argv,
    run_cli,
    start_chroma_server,
    start_cli,
    wait_up,
)

SERVED = "scripted:arithmetic"  # the name the server serves (its --model)


def start_model_server(
    port: int, env: dict[str, str], log: Path, timeout: float = 60
) -> subprocess.Popen[bytes]:
    """`verbalrl serve` of the scripted model on loopback; returns once it answers /health."""
    proc = start_cli(["serve", "--model", SERVED, "--port", str(port)], env, log)
    wait_up(f"http://127.0.0.1:{port}/health", proc, f"verbalrl serve (see {log})", timeout)
    return proc


def served_run_argv(run_id: str, runs: Path, memory: Path, n: int, port: int, retry_wait: float) -> list[str]:
    """`verbalrl run` of the reflective graph on the served model."""
    return [
        "run", "--graph", "reflective", "--model", f"openai:{SERVED}",
        "--base-url", f"http://127.0.0.1:{port}/v1", "--verifier", "checker",
        "--task", "arithmetic", "--level", str(LEVEL), "--problems", str(n), "--n-drafts", "2",
        "--memory", str(memory), "--run-id", run_id, "--runs-dir", str(runs), "--no-progress",
        "--retry-wait", str(retry_wait),
    ]


def _wait_lines(results: Path, count: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(results_of(results)) < count:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the run wrote {len(results_of(results))} results, not {count}")
        time.sleep(0.05)


def differences(results: list[dict[str, Any]], clean: list[dict[str, Any]],
                memory: dict[str, Any], clean_memory: dict[str, Any]) -> list[str]:
    """How a faulted run differs from the clean one: lost, doubled or changed problems and memory."""
    problems = []
    ids = [r["problem_id"] for r in results]
    want = {r["problem_id"]: r for r in clean}
    if sorted(ids) != sorted(want) or len(ids) != len(set(ids)):
        problems.append(f"problem ids differ: {len(ids)} lines, {len(set(ids))} distinct, clean {len(want)}")
    for r in results:
        if r["problem_id"] in want and comparable(r) != comparable(want[r["problem_id"]]):
            clean_record = comparable(want[r["problem_id"]])
            problems.append(f"{r['problem_id']}: {comparable(r)} != clean {clean_record}")
    for kind in ("experiences", "reflections"):
        got, ref = memory[kind], clean_memory[kind]
        problems += [f"{kind}: lost {rid}" for rid in sorted(set(ref) - set(got))]
        problems += [f"{kind}: extra {rid}" for rid in sorted(set(got) - set(ref))]
        # the same facts: a write done twice would show here as a count of 2
        problems += [f"{kind}: {rid} is {got[rid]}, clean {ref[rid]}" for rid in sorted(set(got) & set(ref))
                     if got[rid] != ref[rid]]
    return problems


@dataclass
class Restart:
    """What `kill_and_restart` saw: the new server, how long the old one was down, the recovery."""

    server: subprocess.Popen[bytes]
    down_s: float
    recover_s: float
    returncode: int


def kill_and_restart(server: subprocess.Popen[bytes], start: Callable[[], subprocess.Popen[bytes]],
                     run: subprocess.Popen[bytes], results: Path, after: int, down: float,
                     timeout: float) -> Restart:
    """SIGKILL `server` once the run wrote `after` results, `start` it again `down` s later, and
    wait for the run to finish (recovery: restart to the next result line)."""
    _wait_lines(results, after, run, timeout)
    server.send_signal(signal.SIGKILL)
    server.wait()
    killed_at, before = time.monotonic(), len(results_of(results))
    time.sleep(down)
    server = start()
    restarted_at = time.monotonic()
    try:
        _wait_lines(results, before + 1, run, timeout)
        recovered = time.monotonic() - restarted_at
        returncode = run.wait(timeout=timeout)
    except BaseException:
        server.kill()
        raise
    return Restart(server, round(restarted_at - killed_at, 1), round(recovered, 1), returncode)


def _stop(*procs: subprocess.Popen[bytes]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _clean(work: Path, n: int, port: int, env: dict[str, str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    server = start_model_server(port, env, work / "logs" / "clean-server.log")
    try:
        argv = served_run_argv("clean", work / "clean-runs", work / "clean-mem", n, port, 5)
        rc = run_cli(argv, env, work / "logs" / "clean.log")
        assert rc == 0, (work / "logs" / "clean.log").read_text()[-2000:]
    finally:
        server.kill()
        server.wait()
    return results_of(work / "clean-runs" / "clean" / "results.jsonl"), memory_snapshot(work / "clean-mem")


def model_server_restart(work: Path, *, n: int = 10, down: float = 10.0, after: int = 3,
                         sleep: float = 0.05, timeout: float = 300) -> dict[str, Any]:
    """Kill the model server after `after` results, restart it `down` s later; the run waits."""
    env = child_env(work, RELIABILITY_SLEEP=sleep)
    port = _free_port()
    clean, clean_memory = _clean(work, n, port, env)
    runs, results = work / "runs", work / "runs" / "faulted" / "results.jsonl"
    server = start_model_server(port, env, work / "logs" / "server-1.log")
    run = start_cli(served_run_argv("faulted", runs, work / "mem", n, port, down + 60), env,
                    work / "logs" / "faulted.log")
    try:
        again = kill_and_restart(
            server, lambda: start_model_server(port, env, work / "logs" / "server-2.log"),
            run, results, after, down, timeout,
        )
        _stop(again.server)
    finally:
        _stop(run, server)
    got = results_of(results)
    memory = memory_snapshot(work / "mem")
    return {
        "fault": "model server killed, restarted later",
        "injected": f"SIGKILL to `verbalrl serve` after {after} results; restarted {down:.0f} s later",
        "returncode": again.returncode, "problems": n, "finished": len({r["problem_id"] for r in got}),
        "lines": len(got), "down_s": again.down_s, "recover_s": again.recover_s,
        "differences": differences(got, clean, memory, clean_memory),
        "log": (work / "logs" / "faulted.log").read_text(errors="replace")[-2000:],
    }


def model_server_gone(work: Path, *, n: int = 10, after: int = 3, retry_wait: float = 3.0,
                      sleep: float = 0.05, timeout: float = 300) -> dict[str, Any]:
    """Kill the model server for good: the run stops after `retry_wait`, then `--resume` finishes."""
    env = child_env(work, RELIABILITY_SLEEP=sleep)
    port = _free_port()
    clean, clean_memory = _clean(work, n, port, env)
    runs, results = work / "runs", work / "runs" / "gone" / "results.jsonl"
    server = start_model_server(port, env, work / "logs" / "server-1.log")
    argv = served_run_argv("gone", runs, work / "mem", n, port, retry_wait)
    run = start_cli(argv, env, work / "logs" / "gone.log")
    try:
        _wait_lines(results, after, run, timeout)
        server.send_signal(signal.SIGKILL)
        server.wait()
        killed_at = time.monotonic()
        stopped_rc = run.wait(timeout=timeout)
        stopped_after = time.monotonic() - killed_at
        finished_before = len(results_of(results))
        server = start_model_server(port, env, work / "logs" / "server-2.log")
        resumed_at = time.monotonic()
        resume = [*resume_argv("gone", runs), "--retry-wait", "5"]
        resume_rc = run_cli(resume, env, work / "logs" / "resume.log")
        resume_s = time.monotonic() - resumed_at
    finally:
        _stop(run, server)
    got = results_of(results)
    memory = memory_snapshot(work / "mem")
    return {
        "fault": "model server killed, never back within the retry budget",
        "injected": f"SIGKILL to `verbalrl serve` after {after} results; run --retry-wait {retry_wait:.0f}",
        "stopped_returncode": stopped_rc, "stopped_after_s": round(stopped_after, 1),
        "finished_before_resume": finished_before, "resume_returncode": resume_rc,
        "resume_s": round(resume_s, 1),
        "problems": n, "finished": len({r["problem_id"] for r in got}), "lines": len(got),
        "differences": differences(got, clean, memory, clean_memory),
        "stop_log": (work / "logs" / "gone.log").read_text(errors="replace")[-2000:],
    }


# ---------------------------------------------------------------- the memory server
def memory_url_argv(run_id: str, runs: Path, n: int, port: int) -> list[str]:
    """`verbalrl run` of the reflective graph (scripted model in process) on a `chroma run` server."""
    return [
        "run", "--graph", "reflective", "--model", SERVED, "--verifier", "checker",
        "--task", "arithmetic", "--level", str(LEVEL), "--problems", str(n), "--n-drafts", "2",
        "--memory-url", f"http://127.0.0.1:{port}", "--run-id", run_id, "--runs-dir", str(runs),
        "--no-progress",
    ]


def memory_server_restart(work: Path, *, n: int = 10, down: float = 10.0, after: int = 3,
                          sleep: float = 0.05, timeout: float = 300) -> dict[str, Any]:
    """Kill `chroma run` after `after` results and start it again `down` s later on the same data."""
    env = child_env(work, RELIABILITY_SLEEP=sleep)
    logs = work / "logs"
    clean_server, clean_port = start_chroma_server(work / "clean-chroma")
    try:
        rc = run_cli(memory_url_argv("clean", work / "clean-runs", n, clean_port), env, logs / "clean.log")
        assert rc == 0, (logs / "clean.log").read_text()[-2000:]
        clean_memory = memory_snapshot(None, "default", port=clean_port)
    finally:
        clean_server.kill()
        clean_server.wait()
    clean = results_of(work / "clean-runs" / "clean" / "results.jsonl")

    results = work / "runs" / "faulted" / "results.jsonl"
    server, port = start_chroma_server(work / "chroma")
    run = start_cli(memory_url_argv("faulted", work / "runs", n, port), env, logs / "faulted.log")
    try:
        def restart() -> subprocess.Popen[bytes]:
            return start_chroma_server(work / "chroma", port=port)[0]  # on its data, its port

        again = kill_and_restart(server, restart, run, results, after, down, timeout)
        try:
            memory = memory_snapshot(None, "default", port=port)
        finally:
            _stop(again.server)
    finally:
        _stop(run, server)
    got = results_of(results)
    recall_errors = sum(any("recall error" in e for e in r.get("errors", [])) for r in got)
    return {
        "fault": "memory server (`chroma run`) killed, restarted later",
        "injected": f"SIGKILL to `chroma run` after {after} results; restarted {down:.0f} s later",
        "returncode": again.returncode, "problems": n, "finished": len({r["problem_id"] for r in got}),
        "lines": len(got), "down_s": again.down_s, "recover_s": again.recover_s,
        "recall_errors": recall_errors, "experiences": len(memory["experiences"]),
        "differences": differences(got, clean, memory, clean_memory),
        "log": (logs / "faulted.log").read_text(errors="replace")[-2000:],
    }


# ---------------------------------------------------------------- a full disk
def mount_tmpfs(folder: Path, size: str) -> bool:
    """Mount a tmpfs of `size` at `folder` (root only); False when this machine does not allow it."""
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True)
    return done.returncode == 0


def disk_full(work: Path, *, n: int = 30, size: str = "256k") -> dict[str, Any] | None:
    """The run folder on a `size` tmpfs: the run stops when it is full; grown, `--resume` finishes.

    None when tmpfs cannot be mounted here (not root, or no permission in a container).
    """
    from .harness import run_argv

    env = child_env(work)
    logs, runs = work / "logs", work / "runs"
    clean_argv = run_argv("clean", work / "clean-runs", work / "clean-mem", n)
    assert run_cli(clean_argv, env, logs / "clean.log") == 0
    clean = results_of(work / "clean-runs" / "clean" / "results.jsonl")
    clean_memory = memory_snapshot(work / "clean-mem")
    if not mount_tmpfs(runs, size):
        return None
    try:
        start = time.monotonic()
        stopped_rc = run_cli(run_argv("full", runs, work / "mem", n), env, logs / "full.log")
        finished_when_full = len(results_of(runs / "full" / "results.jsonl"))
        subprocess.run(["mount", "-o", "remount,size=64m", str(runs)], check=True)
        freed_at = time.monotonic()
        resume_rc = run_cli(resume_argv("full", runs), env, logs / "resume.log")
        resume_s = time.monotonic() - freed_at
        got = results_of(runs / "full" / "results.jsonl")
    finally:
        subprocess.run(["umount", "-l", str(runs)], capture_output=True)
    memory = memory_snapshot(work / "mem")
    return {
        "fault": "the disk fills under the run folder",
        "injected": f"run folder on a {size} tmpfs; grown to 64m after the stop",
        "stopped_returncode": stopped_rc, "finished_when_full": finished_when_full,
        "stop_log": (logs / "full.log").read_text(errors="replace")[-2000:],
        "resume_returncode": resume_rc, "resume_s": round(resume_s, 1),
        "seconds": round(freed_at - start, 1),
        "problems": n, "finished": len({r["problem_id"] for r in got}), "lines": len(got),
        "differences": differences(got, clean, memory, clean_memory),
    }
