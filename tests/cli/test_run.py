"""`verbalrl run` and `verbalrl solve` with a scripted model (the real model is tested elsewhere).

The scripted model and verifier come in through the registries (`--model fake:x`,
`--verifier scripted:SCORE`); memory opens with a hash embedder through the CLI's
one memory seam, `open_memory`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from verbalrl.cli import run as cli_run
from verbalrl.errors import VerbalRLError
from verbalrl.llm.fake import FakeLLM
from verbalrl.llm.registry import register_backend, unregister_backend
from verbalrl.memory import ChromaMemory, MemoryLockedError
from verbalrl.testing import scripted
from verbalrl.verifier.base import FunctionVerifier
from verbalrl.verifier.registry import register_verifier, unregister_verifier

FAKE = ["--model", "fake:x"]


reply = scripted({"critic": "Check it.", "reflector": "Plan: recompute."}, default="Sum. Answer: 4")


@pytest.fixture
def app(monkeypatch) -> Iterator[typer.Typer]:
    loaded: list[str] = []

    def fake_load(model: str, **options: Any) -> FakeLLM:
        loaded.append(model)
        return FakeLLM(reply)

    def scripted(score: str, context: Any) -> FunctionVerifier:
        return FunctionVerifier(lambda q, c: float(score))

    register_backend("fake", fake_load)
    register_verifier("scripted", scripted, "a constant score: scripted:SCORE")
    monkeypatch.setattr(cli_run, "open_memory", lambda path: ChromaMemory(path, embedder="hash:64"))
    app = typer.Typer()
    cli_run.register(app)
    app.loaded = loaded  # type: ignore[attr-defined]
    try:
        yield app
    finally:
        unregister_backend("fake")
        unregister_verifier("scripted")


def invoke(app: typer.Typer, *args: str) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=True)


def test_run_with_baselines_then_resume(app, tmp_path: Path) -> None:
    out = tmp_path / "res.jsonl"
    common = ["--runs-dir", tmp_path / "runs", "--no-progress", "--json"]
    result = invoke(
        app,
        "run",
        *FAKE,
        "--graph",
        "single",
        "--task",
        "arithmetic",
        "--level",
        "1",
        "--n",
        "3",
        "--verifier",
        "checker",
        "--output",
        out,
        "--baselines",
        "--n-drafts",
        "2",
        "--max-rounds",
        "2",
        "--run-id",
        "cli1",
        *common,
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    methods = {r["method"]: r for r in report["summary"]}
    assert set(methods) == {"single", "single_shot", "self_consistency@2", "best_of_2"}
    assert report["mode"] == "verifier_only" and methods["single"]["problems"] == 3
    assert len(out.read_text().splitlines()) == 3 * 4
    spec = json.loads((tmp_path / "runs" / "cli1" / "run.json").read_text())
    assert spec["verifier"] == "checker" and spec["task_options"] == {"level": 1} and spec["n"] == 3
    assert spec["model"] == "fake:x" and app.loaded == ["x"]

    again = invoke(app, "run", "--resume", "cli1", *common)
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["skipped"] == 3
    assert len(out.read_text().splitlines()) == 12
    assert app.loaded == ["x", "x"]  # the resume loaded the recorded model


def test_run_reflective_with_memory_and_feedback_mode(app, tmp_path: Path) -> None:
    result = invoke(
        app,
        "run",
        *FAKE,
        "--graph",
        "reflective",
        "--task",
        "arithmetic",
        "--level",
        "1",
        "--n",
        "2",
        "--verifier",
        "checker",
        "--memory",
        tmp_path / "mem",
        "--learn-from-feedback",
        "--max-rounds",
        "1",
        "--runs-dir",
        tmp_path / "runs",
        "--no-progress",
        "--json",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["mode"] == "learn_from_feedback"
    rows = [json.loads(x) for x in Path(report["output"]).read_text().splitlines()]
    assert all(r["mode"] == "learn_from_feedback" and r["stored"] == 1 for r in rows)
    assert all("exemplar_stored" in r and "demonstrations" in r for r in rows)


def test_run_reflective_records_the_exemplar_settings(app, tmp_path: Path) -> None:
    args = ["--graph", "reflective", "--problems", "2", "--verifier", "scripted:0.9", "--max-rounds", "1"]
    result = invoke(
        app, "run", *FAKE, *args, "--memory", tmp_path / "mem", "--exemplar-style", "quoted",
        "--gate-threshold", "0.95", "--no-gate-majority", "--run-id", "ex", "--runs-dir", tmp_path / "runs",
        "--no-progress", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    spec = json.loads((tmp_path / "runs" / "ex" / "run.json").read_text())
    assert spec["config"]["exemplar_style"] == "quoted" and spec["config"]["gate_threshold"] == 0.95
    assert spec["config"]["gate_majority"] is False
    rows = [json.loads(x) for x in (tmp_path / "runs" / "ex" / "results.jsonl").read_text().splitlines()]
    assert [r["exemplar_stored"] for r in rows] == [False, False]  # 0.9 < the gate's 0.95


def test_memory_folder_in_use_is_a_clear_error(app, tmp_path: Path) -> None:
    with ChromaMemory(tmp_path / "mem", embedder="hash:64"):
        result = invoke(
            app,
            "run",
            *FAKE,
            "--graph",
            "reflective",
            "--n",
            "1",
            "--verifier",
            "checker",
            "--memory",
            tmp_path / "mem",
            "--runs-dir",
            tmp_path / "runs",
            "--no-progress",
        )
    assert isinstance(result.exception, MemoryLockedError)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--n", "1"], "choose a verifier"),
        (["run", "--graph", "tree", "--verifier", "checker"], "unknown graph"),
        (["run", "--resume", "nope"], "no run 'nope'"),
        (["run", "--ray", "--verifier", "checker"], "--ray needs a model server"),
        (["run", "--ray-address", "auto", "--verifier", "checker", "--model", "openai:m"], "--ray needs"),
        (
            "run --ray -g reflective --verifier checker --model openai:m --base-url http://10.0.0.2:8/v1".split(),
            "needs a memory server",
        ),
        ("run --ray -g reflective --memory /tmp/m --verifier checker".split(), "memory folder"),
        (["run", "--memory", "/tmp/m", "--memory-url", "http://h:1", "--verifier", "checker"], "not both"),
        (["run", "-g", "reflective", "--memory-url", "https://h:1", "--verifier", "checker"], "https"),
        (["run", "--checkpoint-url", "mysql://db/x", "--verifier", "checker", "--n", "1"], "SQLite file"),
        (["run", "--exemplar-style", "turns", "--verifier", "checker"], "apply to --graph reflective"),
        (["run", "-g", "reflective", "--exemplar-style", "poem", "--verifier", "checker"], "exemplar_style"),
        (["solve", "   ", "--verifier", "genrm"], "question is empty"),
        (["solve", "x" * 30_000, "--verifier", "genrm"], "limit is 20,000"),
        (["solve", "What is 2+2?", "--verifier", "checker"], "needs a gold answer"),
        (["solve", "What is 2+2?", "--verifier", "/no/such/dir"], "no such folder"),
    ],
)
def test_bad_input_gives_clear_errors(app, tmp_path: Path, args: list[str], message: str) -> None:
    model = [] if "--model" in args else FAKE  # the error comes before a model is loaded, or after a fake
    runs = ["--runs-dir", tmp_path] if args[0] == "run" else []
    result = invoke(app, *args, *runs, *model)
    assert isinstance(result.exception, VerbalRLError | ValueError), result.output
    assert message in str(result.exception)


def test_checkpoint_url_is_recorded_and_resume_uses_it(app, tmp_path: Path) -> None:
    ck = tmp_path / "elsewhere" / "ck.sqlite"
    common = ["--runs-dir", tmp_path / "runs", "--no-progress", "--json"]
    args = "run --model fake:x --n 3 --level 1 --verifier checker --max-rounds 1 --n-drafts 1".split()
    result = invoke(app, *args, "--checkpoint-url", ck, "--keep-checkpoints", "--run-id", "ck", *common)
    assert result.exit_code == 0, result.output
    spec = json.loads((tmp_path / "runs" / "ck" / "run.json").read_text())
    assert spec["checkpoint_url"] == str(ck) and spec["keep_checkpoints"] is True
    assert not (tmp_path / "runs" / "ck" / "checkpoints.sqlite").exists()
    import sqlite3

    def threads() -> int:
        with sqlite3.connect(ck) as conn:
            return int(conn.execute("SELECT count(DISTINCT thread_id) FROM checkpoints").fetchone()[0])

    assert threads() == 3  # kept, in the given file
    again = invoke(app, "run", "--resume", "ck", *common)
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["skipped"] == 3 and threads() == 3


def test_solve_shows_the_nodes_live(app) -> None:
    result = invoke(
        app,
        "solve",
        "What is 2 + 2?",
        *FAKE,
        "--verifier",
        "scripted:0.2",
        "--n-drafts",
        "2",
        "--max-rounds",
        "2",
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    for node in ("solve", "verify", "critique", "revise", "finalize"):
        assert f"▶ {node}" in out
    assert "[r1-0] answer=4 score 0.200" in out and "critique of r1-0 (critic): Check it." in out
    assert "answer: 4" in out and "mode verifier_only" in out


def test_solve_json_multi(app) -> None:
    result = invoke(
        app,
        "solve",
        "What is 2 + 2?",
        *FAKE,
        "--graph",
        "multi",
        "--verifier",
        "scripted:0.9",
        "--agents",
        "2",
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["answer"] == "4" and data["status"] == "accept" and data["llm_calls"] == 2


@pytest.mark.parametrize("flag", ["--problems", "--n", "-n"])
def test_run_takes_problems_or_its_old_spellings(app, tmp_path: Path, flag: str) -> None:
    args = ["run", flag, "2", "--level", "1", "--verifier", "checker", "--max-rounds", "1", "--n-drafts", "1"]
    result = invoke(app, *args, "--runs-dir", tmp_path / "runs", "--no-progress", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["summary"][0]["problems"] == 2


def test_run_bad_input_exits_2_through_the_main_app(tmp_path: Path) -> None:
    from verbalrl.cli import app as main_app

    result = CliRunner().invoke(main_app, ["run", "--problems", "1", "--runs-dir", str(tmp_path)])
    assert result.exit_code == 2 and "choose a verifier" in result.output


@pytest.mark.slow
def test_run_without_verifier_uses_the_packaged_one_for_the_task(app, tmp_path: Path) -> None:
    result = invoke(
        app, "run", *FAKE, "--level", "sum30", "--problems", "1", "--max-rounds", "1", "--n-drafts", "1",
        "--run-id", "dv", "--runs-dir", tmp_path / "runs", "--no-progress", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "verifier: genrm-stream (packaged" in result.stderr
    spec = json.loads((tmp_path / "runs" / "dv" / "run.json").read_text())
    assert spec["verifier"] == "genrm-stream"
    # a task no packaged verifier covers still asks for one
    other = invoke(app, "run", *FAKE, "--level", "2", "--problems", "1", "--runs-dir", tmp_path / "runs")
    assert isinstance(other.exception, VerbalRLError) and "choose a verifier" in str(other.exception)
