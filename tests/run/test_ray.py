"""Ray fan-out against real shared services, all on 127.0.0.1, started here and stopped after.

The slow tests start a local Ray instance with 2 CPUs (two worker processes),
a `chroma run` server (memory) and `verbalrl serve` with the real
SmolLM2-135M-Instruct (the generator, and the GenRM verifier through the
server's first-token logprobs). Checkpoints are the run's SQLite file, which
workers of one machine share. The fast tests check what a multi-node cluster
refuses.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from verbalrl.cli import run as cli_run
from verbalrl.errors import VerbalRLError
from verbalrl.graphs import SingleConfig
from verbalrl.run import read_results
from verbalrl.run.ray import RayRunner, check_shared_services
from verbalrl.tasks import Problem, get_task
from verbalrl.tasks.arithmetic import ArithmeticTask

MODEL = "smollm2-135m-instruct"


# ----------------------------------------------------------------- fast: what a cluster refuses
def test_one_node_may_share_sqlite_and_loopback() -> None:
    check_shared_services(
        1, "/runs/r/checkpoints.sqlite", "http://127.0.0.1:8000/v1", "http://localhost:8001"
    )


def test_a_cluster_refuses_sqlite_checkpoints() -> None:
    with pytest.raises(VerbalRLError, match="3 nodes.*SQLite checkpoint file.*--checkpoint-url postgresql"):
        check_shared_services(3, "/runs/r/checkpoints.sqlite", "http://10.0.0.2:8000/v1", None)


@pytest.mark.parametrize(
    ("base_url", "memory_url", "option"),
    [
        ("http://127.0.0.1:8000/v1", None, "--base-url"),
        ("http://10.0.0.2:8000/v1", "http://localhost:8000", "--memory-url"),
        ("http://10.0.0.2:8000/v1", "127.0.0.2:9000", "--memory-url"),
    ],
)
def test_a_cluster_refuses_loopback_services(base_url: str, memory_url: str | None, option: str) -> None:
    with pytest.raises(VerbalRLError, match=f"{option} points at"):
        check_shared_services(2, "postgresql://u@db/v", base_url, memory_url)
    check_shared_services(2, "postgresql://u@db/v", "http://gpu-box:8000/v1", "http://mem-box:8000")


# ----------------------------------------------------------------- the services
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Services:
    model_url: str
    memory_port: int
    logs: Path


def _wait(url: str, proc: subprocess.Popen[bytes], log: Path, what: str, deadline: float) -> None:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{what} did not start: " + log.read_text()[-2000:])
            time.sleep(0.2)


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    ray = pytest.importorskip("ray")
    logs = tmp_path_factory.mktemp("services")
    bindir = Path(sys.executable).parent
    model_port, memory_port = _free_port(), _free_port()
    commands = {
        "verbalrl serve": [
            sys.executable,
            "-m",
            "verbalrl.cli",
            "serve",
            "--model",
            MODEL,
            "--port",
            str(model_port),
        ],
        "chroma run": [
            str(bindir / "chroma"),
            "run",
            "--path",
            str(logs / "chroma"),
            "--host",
            "127.0.0.1",
            "--port",
            str(memory_port),
        ],
    }
    procs = {}
    for name, command in commands.items():  # both start while Ray starts
        out = (logs / f"{name.split()[0]}.log").open("w")
        procs[name] = (subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT), out)
    try:
        ray.init(
            address="local",
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            object_store_memory=100 * 1024**2,
            _node_ip_address="127.0.0.1",
        )
        # FlakyTask lives in this test module, which the workers cannot import: send it by value.
        ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
        deadline = time.monotonic() + 300
        _wait(
            f"http://127.0.0.1:{model_port}/health",
            procs["verbalrl serve"][0],
            logs / "verbalrl.log",
            "verbalrl serve",
            deadline,
        )
        _wait(
            f"http://127.0.0.1:{memory_port}/api/v2/heartbeat",
            procs["chroma run"][0],
            logs / "chroma.log",
            "chroma run",
            deadline,
        )
        yield Services(f"http://127.0.0.1:{model_port}/v1", memory_port, logs)
    finally:
        ray.shutdown()
        for proc, out in procs.values():
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
            out.close()


def _stored_ids(port: int) -> dict[str, dict[str, Any]]:
    """Every experience in the chroma server: id -> metadata (read with chromadb itself)."""
    import chromadb
    from chromadb.config import Settings

    client = chromadb.HttpClient(host="127.0.0.1", port=port, settings=Settings(anonymized_telemetry=False))
    got = client.get_collection("verbalrl-experiences").get(include=["metadatas"])
    return dict(zip(got["ids"], got["metadatas"] or [], strict=True))


def _pid(worker: str) -> int:
    return int(worker.rsplit(":", 1)[1])


# ----------------------------------------------------------------- slow: the reflective graph via the CLI
@pytest.mark.slow
def test_cli_reflective_run_fans_out_to_two_workers(services: Services, tmp_path: Path) -> None:
    app = typer.Typer()
    cli_run.register(app)
    common = ["--runs-dir", str(tmp_path / "runs"), "--no-progress", "--json", "--ray"]
    args = [
        "run", "--graph", "reflective", "--task", "arithmetic", "--level", "1",
        "--problems", "6", "--seed", "3",
        "--model", f"openai:{MODEL}", "--base-url", services.model_url, "--verifier", "genrm",
        "--memory-url", f"http://127.0.0.1:{services.memory_port}", "--max-rounds", "1", "--n-drafts", "1",
        "--max-new-tokens", "10", "--max-tokens", "20", "--temperature", "0", "--max-in-flight", "4",
        "--run-id", "fan", *common,
    ]  # fmt: skip
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    problems = get_task("arithmetic", level=1).problems("test", n=6, seed=3)
    rows = read_results(Path(report["output"]))

    # every problem exactly once, in problem order, computed by two different worker processes
    assert [r["problem_id"] for r in rows] == [p.id for p in problems]
    workers = {r["worker"] for r in rows}
    assert len({_pid(w) for w in workers}) == 2 and os.getpid() not in {_pid(w) for w in workers}
    assert all(r["path"][0] == "recall" and r["path"][-1] == "finalize" for r in rows)
    # the GenRM verifier scored drafts through the server's logprobs (greedy: the same drafts each run)
    scored = [r["score"] for r in rows if r["score"] is not None]
    assert scored and all(0.0 <= s <= 1.0 for s in scored)

    # memory: what both workers stored is all in the chroma server, and nothing else is
    stored = _stored_ids(services.memory_port)
    written = [i for r in rows for i in r["memory_ids"]]
    assert set(stored) == set(written) and len(stored) >= 2
    for worker in workers:
        assert any(r["memory_ids"] for r in rows if r["worker"] == worker)
    assert {json.loads(meta["record"])["provenance"]["run"] for meta in stored.values()} == {"fan"}

    # finished problems leave no checkpoints; resuming skips everything and writes nothing
    with __import__("sqlite3").connect(tmp_path / "runs" / "fan" / "checkpoints.sqlite") as conn:
        assert conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0] == 0
    again = CliRunner().invoke(app, ["run", "--resume", "fan", *common], catch_exceptions=False)
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["skipped"] == 6
    assert read_results(Path(report["output"])) == rows
    assert set(_stored_ids(services.memory_port)) == set(stored)


# ----------------------------------------------------------------- slow: retries
class FlakyTask(ArithmeticTask):
    """Arithmetic whose prompt for one question fails once (a marker file says it already did):
    it raises, or with `kill=True` its worker process dies (SIGKILL, as if the OOM killer took it)."""

    def __init__(self, marker: Path, question: str, *, kill: bool = False, **options: Any) -> None:
        super().__init__(**options)
        self.marker, self.question, self.kill = marker, question, kill

    def prompt(self, problem: Problem) -> Any:
        if problem.question == self.question and not self.marker.exists():
            self.marker.write_text(str(os.getpid()))
            if self.kill:
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError("injected worker failure")
        return super().prompt(problem)


@pytest.mark.slow
def test_a_failed_task_is_retried_and_without_retries_the_run_stops_resumably(
    services: Services, tmp_path: Path
) -> None:
    problems = get_task("arithmetic", level=1).problems("test", n=3, seed=5)
    config = SingleConfig(n_drafts=1, max_rounds=1, max_new_tokens=8, temperature=0)

    def runner(run_id: str, retries: int) -> RayRunner:
        task = FlakyTask(tmp_path / f"{run_id}.failed", problems[1].question, level=1)
        return RayRunner(
            "single", task, config, model=f"openai:{MODEL}", base_url=services.model_url,
            verifier="checker", retries=retries, run_id=run_id, runs_dir=tmp_path, progress=False,
        )  # fmt: skip

    def written(run_id: str) -> list[dict[str, Any]]:
        return read_results(tmp_path / run_id / "results.jsonl")

    report = runner("retry", retries=1).run(problems)
    failed_in = int((tmp_path / "retry.failed").read_text())
    assert failed_in != os.getpid()  # the failure happened in a worker, and Ray ran the task again
    rows = written("retry")
    assert [r["problem_id"] for r in rows] == [p.id for p in problems] and report["skipped"] == 0
    # the retry continued from the problem's checkpoint (its input was saved before the failure)
    assert [r["resumed"] for r in rows] == [False, True, False]

    with pytest.raises(VerbalRLError, match=f"problem {problems[1].id} failed after 0 retries.*injected"):
        runner("stop", retries=0).run(problems)
    ids = [r["problem_id"] for r in written("stop")]
    assert ids == [p.id for p in problems[: len(ids)]] and len(ids) <= 1  # an in-order prefix only
    report = runner("stop", retries=0).run(problems)  # the resume: the marker says it failed already
    assert [r["problem_id"] for r in written("stop")] == [p.id for p in problems]
    assert report["skipped"] == len(ids)


@pytest.mark.slow
def test_a_worker_killed_mid_problem_is_replaced_and_the_problem_resumes_from_its_checkpoint(
    services: Services, tmp_path: Path
) -> None:
    problems = get_task("arithmetic", level=1).problems("test", n=4, seed=7)
    config = SingleConfig(n_drafts=1, max_rounds=1, max_new_tokens=8, temperature=0)
    marker = tmp_path / "killed.pid"
    task = FlakyTask(marker, problems[2].question, kill=True, level=1)
    runner = RayRunner(
        "single", task, config, model=f"openai:{MODEL}", base_url=services.model_url,
        verifier="checker", retries=2, run_id="kill", runs_dir=tmp_path, progress=False,
    )  # fmt: skip
    report = runner.run(problems)
    killed_pid = int(marker.read_text())
    rows = read_results(tmp_path / "kill" / "results.jsonl")
    # every problem once, in order; the killed one was finished by another worker process
    assert [r["problem_id"] for r in rows] == [p.id for p in problems] and report["skipped"] == 0
    assert _pid(rows[2]["worker"]) != killed_pid and killed_pid != os.getpid()
    assert rows[2]["resumed"] is True  # continued from the checkpoint its first worker saved
