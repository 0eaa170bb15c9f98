"""`verbalrl run --graph search` with a scripted model that writes the next reference line of a chain."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from verbalrl.cli import run as cli_run
from verbalrl.errors import VerbalRLError
from verbalrl.llm.base import Prompt, prompt_text
from verbalrl.llm.fake import FakeLLM
from verbalrl.llm.registry import register_backend, unregister_backend
from verbalrl.tasks import Problem, get_task
from verbalrl.verifier.base import FunctionVerifier
from verbalrl.verifier.registry import register_verifier, unregister_verifier


def expert(prompt: Prompt) -> str:
    """The next line of the reference solution of the chain in the prompt ("" when it is complete)."""
    question = re.search(r"Compute [\d +\-]+\.", prompt_text(prompt))
    assert question is not None
    shown = Problem(id="q", task="chain", split="test", question=question[0], answer="")
    steps = (get_task("chain").reference_solution(shown) or "").splitlines()
    done = 0
    if isinstance(prompt, list) and prompt[-1]["role"] == "assistant":
        done = len([line for line in prompt[-1]["content"].splitlines() if line.strip()])
    return steps[done] if done < len(steps) else ""


@pytest.fixture
def app() -> Iterator[typer.Typer]:
    models: list[FakeLLM] = []

    def fake_load(model: str, **options: Any) -> FakeLLM:
        models.append(FakeLLM(expert))
        return models[-1]

    register_backend("fake", fake_load)
    register_verifier("scripted", lambda score, ctx: FunctionVerifier(lambda q, c: float(score)), "constant")
    app = typer.Typer()
    cli_run.register(app)
    app.models = models  # type: ignore[attr-defined]
    try:
        yield app
    finally:
        unregister_backend("fake")
        unregister_verifier("scripted")


def invoke(app: typer.Typer, *args: object) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=True)


@pytest.mark.parametrize("strategy", ["beam", "dvts", "mcts"])
def test_run_search_with_the_step_checker(app, strategy: str, tmp_path: Path, caplog) -> None:
    args = [
        "run", "--graph", "search", "--strategy", strategy, "--beams", "4", "--expansions", "2",
        "--task", "chain", "--level", "3", "--n", "2", "--model", "fake:x", "--verifier", "step-checker",
        "--runs-dir", tmp_path, "--run-id", "s", "--no-progress", "--json",
    ]  # fmt: skip
    with caplog.at_level(logging.WARNING):
        result = invoke(app, *args)
    assert result.exit_code == 0, result.output
    assert "reads the gold answer" in caplog.text  # the oracle is named and warned about, like `checker`
    spec = json.loads((tmp_path / "s" / "run.json").read_text())
    assert spec["graph"] == "search" and spec["verifier"] == "step-checker"
    config = spec["config"]
    assert (config["strategy"], config["beams"], config["expansions"]) == (strategy, 4, 2)
    rows = [json.loads(x) for x in (tmp_path / "s" / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 2
    for row in rows:
        assert row["method"] == "search" and row["correct"] is True and row["status"] == "accept"
        assert row["verifier_calls"] > 0 and row["llm_calls"] > 0
    # level 3: beam and DVTS finish after three operations and the answer line, one step per round;
    # MCTS goes on exploring until its rounds (8 by default) are used
    assert [r["rounds"] for r in rows] == ([8, 8] if strategy == "mcts" else [4, 4])
    again = invoke(app, "run", "--resume", "s", "--runs-dir", tmp_path, "--no-progress", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["skipped"] == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--graph", "search", "--task", "chain"], "needs a process verifier"),
        (["run", "--graph", "search", "--task", "chain", "--verifier", "scripted:0.5", "--n", "1"],
         "needs a process verifier"),
        (["run", "--strategy", "beam", "--verifier", "checker"], "apply to --graph search only"),
        (["run", "--beams", "3", "--verifier", "checker"], "apply to --graph search only"),
        (["run", "-g", "search", "--strategy", "greedy", "--verifier", "step-checker"], "strategy"),
        (["run", "-g", "search", "--task", "arithmetic", "--verifier", "step-checker", "--n", "1"],
         "no step checker"),
        (["solve", "Compute 2 + 3 - 1.", "-g", "search", "--verifier", "step-checker"],
         "needs a gold answer"),
    ],
)  # fmt: skip
def test_search_options_give_clear_errors(app, tmp_path: Path, args: list[str], message: str) -> None:
    runs = ["--runs-dir", tmp_path, "--no-progress"] if args[0] == "run" else []
    result = invoke(app, *args, *runs, "--model", "fake:x")
    assert isinstance(result.exception, VerbalRLError | ValueError), result.output
    assert message in str(result.exception)
