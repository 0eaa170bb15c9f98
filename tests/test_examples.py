"""Every example runs as written (as a subprocess) with a small budget and prints what it promises."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TINY = ["--max-new-tokens", "16"]


def run_example(name: str, *args: str, timeout: int = 240) -> str:
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "COLUMNS": "200"}
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_custom_task_example() -> None:
    out = run_example("custom_task.py", timeout=120)
    assert "train:" in out and "test:" in out


@pytest.mark.slow
def test_quickstart_example() -> None:
    out = run_example("quickstart.py", "--n", "2", "--rounds", "1", *TINY)
    assert "UNTRAINED GenRM" in out
    assert "▶ solve" in out and "▶ verify" in out and "▶ finalize" in out
    assert "mode verifier_only" in out and "correct:" in out


@pytest.mark.slow
def test_best_of_n_example() -> None:
    out = run_example("best_of_n_genrm.py", "--problems", "1", "--n", "2", *TINY)
    assert "UNTRAINED GenRM" in out
    for method in ("single", "single_shot", "self_consistency@2", "best_of_2"):
        assert f"│ {method} " in out


@pytest.mark.slow
def test_step_search_example() -> None:
    out = run_example("step_search.py", "--rounds", "1", "--step-tokens", "8")
    assert "ORACLE" in out and "problem: Compute" in out
    # one round of beam search: beams x expansions = 4 children of the empty solution, each scored
    for i in range(1, 5):
        assert f"n{i} <- n0 [" in out
    assert "n5 <- " not in out
    assert "1 rounds, 4 LLM calls" in out and "4 verifier calls" in out


@pytest.mark.slow
def test_debate_example() -> None:
    out = run_example("debate.py", "--agents", "2", "--rounds", "2", *TINY)
    assert out.count("round 1 agent") == 2 and out.count("round 2 agent") == 2
    assert "weighted vote:" in out


@pytest.mark.slow
def test_reflective_memory_example(tmp_path: Path) -> None:
    out = run_example(
        "reflective_memory.py",
        "--problems",
        "2",
        "--n",
        "1",
        "--trials",
        "1",
        "--distill-every",
        "0",
        "--memory",
        str(tmp_path / "m"),
        "--threshold",
        "0",  # accept every answer, so the first one passes the gate and teaches the second
        "--temperature",
        "0",  # greedy: a sampled first draft sometimes had no answer line and could not teach
        "--max-new-tokens",
        "32",
    )
    assert out.count("stored 1") == 2
    assert "0 demonstration(s)" in out and "1 demonstration(s)" in out  # the second recalls the first
    assert "now an exemplar" in out and "exemplar gate: 2 let through" in out
    assert "'experiences': 2" in out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_openai_endpoint_example_against_verbalrl_serve(tmp_path: Path) -> None:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "verbalrl.cli", "serve", "--port", str(port), "--dtype", "float32"],
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "server.log", "w"),  # noqa: SIM115 - closed with the process
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        "verbalrl serve did not start: " + (tmp_path / "server.log").read_text()[-2000:]
                    )
                time.sleep(0.5)
        out = run_example("openai_endpoint.py", "--base-url", f"http://127.0.0.1:{port}/v1", "-n", "1")
        assert "sample 0:" in out
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
def test_demo_runs_the_learning_stream_with_the_packaged_verifier(tmp_path: Path) -> None:
    out = run_example(
        "demo.py", "--per-family", "1", "--rounds", "1", *TINY, "--out", str(tmp_path), timeout=480
    )
    assert "verifier genrm:genrm-stream" in out and "3 held-out problems" in out
    for method in ("single_shot", "best_of_4", "reflective_no_memory", "reflective_memory"):
        assert f"│ {method} " in out
        assert (tmp_path / f"{method}.jsonl").read_text().count("\n") == 3
    assert (tmp_path / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert "learning curve:" in out


@pytest.mark.slow
def test_ray_scale_out_example() -> None:
    pytest.importorskip("ray")
    out = run_example("ray_scale_out.py", "--problems", "4", "--max-new-tokens", "24", timeout=420)
    lines = [line for line in out.splitlines() if line.startswith("  arithmetic-test-")]
    # one line per problem, in problem order (ids are arithmetic-test-<index>-<hash>)
    assert [int(line.split("-")[2]) for line in lines] == [0, 1, 2, 3]
    workers = {line.rsplit("worker ", 1)[1] for line in lines}
    assert len(workers) == 2  # both Ray worker processes solved problems
    assert "experiences" in out.split("shared memory after the run:")[1]


@pytest.mark.slow
def test_langchain_agent_example() -> None:
    out = run_example("langchain_agent.py", "--n", "2", "--max-new-tokens", "24")
    assert "UNTRAINED GenRM through ChatOpenAI" in out and out.count("p(Yes)") == 2
    # the drafts stream from the solve node; GenRM's one-token scoring calls are not messages
    assert "streamed message chunks per node: {'solve':" in out and "'verify'" not in out


@pytest.mark.slow
def test_tune_agent_example(tmp_path: Path) -> None:
    out = run_example(
        "tune_agent.py", "--dev-n", "2", "--trials", "2", "--test-n", "1", "--max-new-tokens", "16",
        "--budget-calls", "100",
        "--out", str(tmp_path / "agent.yaml"),
    )  # fmt: skip
    assert "Pareto front:" in out and "trial " in out and "chosen spec:" in out
    assert "tuned agent on 1 test problems:" in out
    assert (tmp_path / "agent.yaml").read_text().startswith("spec_version: 1")
