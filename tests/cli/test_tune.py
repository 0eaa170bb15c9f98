"""`verbalrl tune`: a scripted tune through the CLI finds the known best spec, which `run --agent` then
runs; a tune killed with SIGKILL resumes without redoing finished trials (a real subprocess, real
Optuna with SQLite)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from verbalrl.cli.app import app
from verbalrl.run.agent import read_agent_spec

REPO = Path(__file__).resolve().parents[2]
GOOD = "You are EXACT. Add the two numbers and end with the answer line."

# The scripted model and verifier, registered in this process or in the driver of a subprocess.
SCRIPT = '''
import re, sys, time
from verbalrl.llm.base import prompt_text
from verbalrl.llm.fake import FakeLLM
from verbalrl.llm.registry import register_backend
from verbalrl.verifier.base import FunctionVerifier
from verbalrl.verifier.registry import register_verifier

GOOD = {good!r}
DELAY = {delay!r}

def adder(prompt):
    time.sleep(DELAY)
    text = prompt_text(prompt)
    if GOOD not in text:
        return "Answer: 0"
    a, b = map(int, re.findall(r"What is (\\d+) \\+ (\\d+)\\?", text)[-1])
    return f"{{a}} + {{b}} = {{a + b}}\\nAnswer: {{a + b}}"

register_backend("fake", lambda name, **options: FakeLLM(adder), replace=True)
const = lambda arg, ctx: FunctionVerifier(lambda q, c: float(arg))  # noqa: E731
register_verifier("const", const, "a constant score", replace=True)
'''


@pytest.fixture
def scripted_models() -> Iterator[None]:
    from verbalrl.llm.registry import unregister_backend
    from verbalrl.verifier.registry import unregister_verifier

    exec(SCRIPT.format(good=GOOD, delay=0.0), {})
    try:
        yield
    finally:
        unregister_backend("fake")
        unregister_verifier("const")


def tune_args(tmp_path: Path, *extra: Any) -> list[str]:
    args = [
        "tune", "--task", "arithmetic", "--level", "1", "--model", "fake:x", "--verifier", "const:0.9",
        "--graphs", "single", "--n-drafts", "1,2,4", "--max-rounds", "1", "--thresholds", "0.5",
        "--temperature", "0.7", "--instruction", GOOD, "--out", tmp_path / "agent.yaml", *extra,
    ]  # fmt: skip
    return [str(a) for a in args]


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def test_tune_writes_the_best_spec_and_run_agent_runs_it(scripted_models, tmp_path: Path) -> None:
    plot = tmp_path / "p.png"
    args = tune_args(tmp_path, "--dev-n", 6, "--trials", 10, "--budget-calls", 1.5, "--plot", plot)
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["chosen"]["accuracy"] == 1.0 and summary["chosen"]["calls"] == 1.0
    assert summary["trials"] == 10 and summary["storage"] == f"sqlite:///{tmp_path / 'study.db'}"
    assert "checker" in summary["scoring"] and (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    spec = read_agent_spec(tmp_path / "agent.yaml")
    assert spec.instructions == GOOD and spec.config.n_drafts == 1 and spec.model == "fake:x"

    # the table view (no --json) of the same, already finished study: nothing runs again
    again = invoke(*args, "--resume", "--no-progress")
    assert again.exit_code == 0, again.output
    assert "Pareto front" in again.output and "chosen: trial" in again.output

    ran = invoke("run", "--agent", tmp_path / "agent.yaml", "--problems", 3, "--runs-dir", tmp_path / "runs",
                 "--no-progress", "--json")  # fmt: skip
    assert ran.exit_code == 0, ran.output
    assert json.loads(ran.stdout)["summary"][0]["accuracy"] == 1.0


def test_tune_refuses_bad_lists_and_an_unfinished_study_without_resume(scripted_models, tmp_path) -> None:
    bad = invoke(*tune_args(tmp_path, "--n-drafts", "1,x"))
    assert bad.exit_code == 2 and "--n-drafts takes comma-separated int values" in bad.output
    first = invoke(*tune_args(tmp_path, "--dev-n", 2, "--trials", 1, "--no-progress"))
    assert first.exit_code == 0, first.output
    second = invoke(*tune_args(tmp_path, "--dev-n", 2, "--trials", 2, "--no-progress"))
    assert second.exit_code == 2 and "pass --resume to continue it" in second.output


def finished_trials(db: Path) -> list[tuple[int, str]]:
    if not db.exists():
        return []
    try:
        with sqlite3.connect(db, timeout=5) as con:
            rows = con.execute("SELECT number, datetime_complete FROM trials WHERE state IN "
                               "('COMPLETE', 'PRUNED') ORDER BY number").fetchall()  # fmt: skip
    except sqlite3.OperationalError:  # tables not made yet
        return []
    return [(int(n), str(d)) for n, d in rows]


def test_a_killed_tune_resumes_without_redoing_finished_trials(tmp_path: Path) -> None:
    driver = tmp_path / "driver.py"
    driver.write_text(SCRIPT.format(good=GOOD, delay=0.05) + "\nfrom verbalrl.cli import main\nmain()\n")
    args = tune_args(tmp_path, "--dev-n", 4, "--trials", 8, "--thresholds", "0.3,0.5,0.7",
                     "--n-drafts", "1,2,4,8", "--prune-fraction", 0, "--no-progress")  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    db = tmp_path / "study.db"
    proc = subprocess.Popen([sys.executable, str(driver), *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 120
    while len(finished_trials(db)) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = finished_trials(db)
    assert 3 <= len(before) < 8, proc.stderr.read().decode()[-2000:] if proc.stderr else ""

    resumed = subprocess.run([sys.executable, str(driver), *args, "--resume", "--json"], env=env,
                             capture_output=True, text=True, timeout=300)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    summary = json.loads(resumed.stdout)
    after = finished_trials(db)
    assert len(after) == 8 and summary["trials"] == 8
    assert summary["ran"] == 8 - len(before)  # only the missing trials ran
    assert after[: len(before)] == before  # finished trials untouched (same numbers, same finish times)
    assert read_agent_spec(tmp_path / "agent.yaml").instructions == GOOD


def test_tune_searches_bootstrapped_demonstrations(scripted_models, tmp_path: Path) -> None:
    refused = invoke(*tune_args(tmp_path, "--shots", "0,2", "--no-progress"))
    assert refused.exit_code == 2 and "shots: 2 demonstrations need a pool" in refused.output
    result = invoke(*tune_args(tmp_path, "--dev-n", 3, "--trials", 6, "--pool-n", 3, "--shots", "0,2",
                               "--n-drafts", "1", "--no-progress", "--json"))  # fmt: skip
    assert result.exit_code == 0, result.output
    front = json.loads((tmp_path / "agent.front.json").read_text())["front"]
    shown = {len(point["spec"]["demonstrations"]) for point in front}
    assert shown <= {0, 2}
    import optuna

    summary = json.loads(result.stdout)
    study = optuna.load_study(study_name=summary["study"], storage=summary["storage"])
    demos = study.user_attrs["candidates"]["demonstrations"]
    assert len(demos) == 2
    assert all(d["solution"].rstrip().split("\n")[-1].startswith("Answer:") for d in demos)
