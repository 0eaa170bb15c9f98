"""`verbalrl run --agent SPEC`: the spec's agent runs, its prompt reaches the model, run.json records
it, a resume uses it, and options the spec fixes are refused. A scripted model through the registry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from verbalrl.agents.roles import role_of
from verbalrl.cli.app import app as main_app
from verbalrl.llm.fake import FakeLLM
from verbalrl.run.agent import AgentSpec
from verbalrl.testing import registered_backend, scripted

INSTRUCTIONS = "You are AGENT-SEVEN: add, then end with `Answer: <n>`."
DEMO = {"question": "What is 1 + 1?", "solution": "1 + 1 = 2\nAnswer: 2"}


@pytest.fixture
def models() -> Iterator[list[FakeLLM]]:
    loaded: list[FakeLLM] = []

    def load(name: str, **options: Any) -> FakeLLM:
        llm = FakeLLM(scripted({}, default="Answer: 4"))
        loaded.append(llm)
        return llm

    with registered_backend("fake", load):
        yield loaded


def invoke(*args: Any) -> Any:
    return CliRunner().invoke(main_app, [str(a) for a in args], env={"COLUMNS": "200"})


def spec_file(tmp_path: Path) -> Path:
    spec = AgentSpec(
        graph="single", config={"n_drafts": 2, "max_rounds": 1}, model="fake:x", verifier="checker",
        task="arithmetic", task_options={"level": 1}, instructions=INSTRUCTIONS, demonstrations=[DEMO],
    )  # fmt: skip
    return spec.write(tmp_path / "agent.yaml")


def solver_prompts(llm: FakeLLM) -> list[Any]:
    return [p for c in llm.calls if c.method == "generate" for p in c.prompts if role_of(p) == "solver"]


def test_run_agent_records_the_spec_and_prompts_with_it(models, tmp_path: Path) -> None:
    path = spec_file(tmp_path)
    common = ["--runs-dir", tmp_path / "runs", "--no-progress", "--json"]
    result = invoke("run", "--agent", path, "--problems", 3, "--run-id", "a1", *common)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["summary"][0]["method"] == "single" and report["summary"][0]["problems"] == 3

    recorded = json.loads((tmp_path / "runs" / "a1" / "run.json").read_text())
    assert AgentSpec.model_validate(recorded["agent"]) == AgentSpec.model_validate(
        AgentSpec.from_text(path.read_text()).dump()
    )
    assert recorded["config"]["n_drafts"] == 2 and recorded["model"] == "fake:x"
    prompts = solver_prompts(models[0])
    assert len(prompts) == 3
    for p in prompts:
        assert p[0] == {"role": "system", "content": INSTRUCTIONS}
        assert p[2] == {"role": "assistant", "content": DEMO["solution"]}

    # a resume of a finished run loads the recorded model and skips every problem
    again = invoke("run", "--resume", "a1", *common)
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["skipped"] == 3 and len(models) == 2


def test_a_plain_run_records_its_agent_too(models, tmp_path: Path) -> None:
    result = invoke(
        "run", "--model", "fake:x", "--verifier", "checker", "--task", "arithmetic", "--level", 1,
        "--problems", 1, "--n-drafts", 3, "--run-id", "p1", "--runs-dir", tmp_path, "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    recorded = json.loads((tmp_path / "p1" / "run.json").read_text())
    agent = AgentSpec.model_validate(recorded["agent"])
    assert agent.graph == "single" and agent.config.n_drafts == 3 and agent.model == "fake:x"
    assert agent.task_options == {"level": 1} and agent.instructions is None


@pytest.mark.parametrize("flag", [["--n-drafts", "3"], ["--graph", "multi"], ["--model", "fake:y"]])
def test_options_an_agent_spec_fixes_are_refused(models, tmp_path: Path, flag: list[str]) -> None:
    result = invoke("run", "--agent", spec_file(tmp_path), *flag, "--runs-dir", tmp_path)
    assert result.exit_code == 2
    assert f"--agent fixes {flag[0]}: edit the agent spec instead" in result.output
    assert models == []  # refused before any model was loaded


def test_a_bad_agent_file_is_one_line_naming_the_field(models, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("task: arithmetic\nconfig:\n  n_drafts: -1\n")
    result = invoke("run", "--agent", path)
    assert result.exit_code == 2
    assert "config.n_drafts: Input should be greater than or equal to 1" in result.output
