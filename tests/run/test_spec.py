"""The typed run layer: `RunSpec` (run.json), `RunOptions`, `ResultRecord`, and building a run from a spec."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from verbalrl.errors import VerbalRLError
from verbalrl.graphs import SingleConfig
from verbalrl.llm.fake import FakeLLM
from verbalrl.llm.registry import register_backend, unregister_backend
from verbalrl.run import (
    GraphRecord,
    ResultRecord,
    Runner,
    RunOptions,
    RunSpec,
    build_runner,
    new_run_spec,
    read_results,
    read_spec,
    resume,
)
from verbalrl.tasks import get_task
from verbalrl.verifier.base import CheckerVerifier

# A run.json as `verbalrl run` wrote it before the spec was typed (resume must still read it).
OLD_CLI_SPEC: dict[str, Any] = {
    "run_id": "old",
    "graph": "single",
    "task": "arithmetic",
    "mode": "verifier_only",
    "config": {"n_drafts": 1, "max_rounds": 1},
    "output": "OUTPUT",
    "baselines": False,
    "baseline_n": 1,
    "checkpoint_url": None,
    "keep_checkpoints": False,
    "problems": 2,
    "created": "2026-01-01T00:00:00+00:00",
    "task_options": {"level": 1},
    "split": "test",
    "n": 2,
    "seed": 0,
    "model": "fake:x",
    "base_url": None,
    "dtype": "auto",
    "verifier": "checker",
    "memory": None,
    "memory_url": None,
}


@pytest.fixture
def fake_backend() -> Iterator[list[str]]:
    loaded: list[str] = []

    def load(model: str, **options: Any) -> FakeLLM:
        loaded.append(model)
        return FakeLLM(lambda prompt: "Sum. Answer: 4")

    register_backend("fake", load)
    try:
        yield loaded
    finally:
        unregister_backend("fake")


def write_spec(runs: Path, data: dict[str, Any]) -> Path:
    folder = runs / data.get("run_id", "old")
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps(data), encoding="utf-8")
    return folder


def test_an_old_cli_run_json_loads_and_resumes(fake_backend: list[str], tmp_path: Path) -> None:
    output = tmp_path / "old-results.jsonl"
    write_spec(tmp_path, {**OLD_CLI_SPEC, "output": str(output)})
    spec = read_spec("old", tmp_path)
    assert spec.rebuildable and spec.task_options == {"level": 1} and spec.graph_config().n_drafts == 1
    report = resume("old", runs_dir=tmp_path, progress=False)
    assert fake_backend == ["x"] and report["skipped"] == 0
    rows = read_results(output)
    assert [r["method"] for r in rows] == ["single", "single"] and all(r["run_id"] == "old" for r in rows)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"n": "many"}, r"not a valid run spec: n: "),
        ({"config": {"n_drafts": 0}}, r"not a valid run spec: .*n_drafts"),
        ({"graph": "tree"}, r"not a valid run spec: unknown graph 'tree'"),
        ({"verifier": None}, r"not a valid run spec: .*must also name its verifier"),
        ({"output": None}, r"not a valid run spec: output: "),
    ],
)
def test_an_invalid_run_json_is_a_clear_error_naming_the_file(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    write_spec(tmp_path, {**OLD_CLI_SPEC, **change})
    with pytest.raises(VerbalRLError, match=message) as info:
        read_spec("old", tmp_path)
    assert str(tmp_path / "old" / "run.json") in str(info.value)


def test_unknown_keys_are_kept_and_a_python_run_records_no_model(tmp_path: Path) -> None:
    spec = RunSpec.model_validate({**OLD_CLI_SPEC, "from_a_newer_version": [1]})
    assert spec.dump()["from_a_newer_version"] == [1]
    task = get_task("arithmetic", level=1)
    llm = FakeLLM(lambda prompt: "Answer: 4")
    Runner("single", llm, CheckerVerifier(task), task, run_id="py", runs_dir=tmp_path, progress=False).run(
        task.problems("test", n=1)
    )
    written = json.loads((tmp_path / "py" / "run.json").read_text())
    assert "model" not in written and "split" not in written and written["problems"] == 1
    assert not read_spec("py", tmp_path).rebuildable
    with pytest.raises(VerbalRLError, match="started from Python"):
        resume("py", runs_dir=tmp_path)
    # a RayRunner started from Python records its model and verifier, but not its problems
    ray_run = {**OLD_CLI_SPEC, "run_id": "ray", "output": "x"}
    for key in ("task_options", "split", "n", "seed", "dtype", "memory"):
        del ray_run[key]
    write_spec(tmp_path, ray_run)
    assert not read_spec("ray", tmp_path).rebuildable
    with pytest.raises(VerbalRLError, match="started from Python"):
        resume("ray", runs_dir=tmp_path)


def test_new_run_spec_fixes_the_run_id_and_output_and_checks_before_loading(tmp_path: Path) -> None:
    options = RunOptions(run_id="new", runs_dir=tmp_path, baselines=True)
    spec = new_run_spec(
        graph="single", task="arithmetic", model="fake:x", verifier="checker", n=2, options=options
    )
    assert spec.output == str((tmp_path / "new" / "results.jsonl").resolve())
    assert spec.baselines and spec.baseline_n == SingleConfig().n_drafts and spec.mode == "verifier_only"
    with pytest.raises(VerbalRLError, match="choose a verifier"):
        new_run_spec(graph="single", task="arithmetic", model="fake:x", verifier=" ")
    with pytest.raises(VerbalRLError, match="https is not supported"):
        new_run_spec(graph="single", task="arithmetic", model="m", verifier="checker", memory_url="https://h")


def test_build_runner_runs_a_spec_with_its_recorded_options(fake_backend: list[str], tmp_path: Path) -> None:
    spec = new_run_spec(
        graph="single", task="arithmetic", task_options={"level": 1}, model="fake:x", verifier="checker",
        n=2, config=SingleConfig(n_drafts=1, max_rounds=1),
        options=RunOptions(run_id="built", runs_dir=tmp_path, keep_checkpoints=True),
    )  # fmt: skip
    runner = build_runner(spec, runs_dir=tmp_path, progress=False)
    assert isinstance(runner, Runner) and runner.keep_checkpoints and runner.run_id == "built"
    report = runner.run(spec.load_problems()[1])
    assert report["summary"][0]["problems"] == 2 and fake_backend == ["x"]
    written = read_spec("built", tmp_path)
    assert written.model == "fake:x" and written.problems == 2 and written.keep_checkpoints
    assert written.dump().keys() == {*spec.dump(), "problems", "created"}


def test_run_options_are_checked_once_and_keywords_override_an_options_object(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="keep_checkpoint"):
        RunOptions(keep_checkpoint=True)  # type: ignore[call-arg]
    with pytest.raises(VerbalRLError, match="SQLite file path or a postgresql"):
        RunOptions(checkpoint_url="mysql://db/x")
    with pytest.raises(VerbalRLError, match="contain no '/'"):
        RunOptions(run_id="a/b")
    task = get_task("arithmetic", level=1)
    base = RunOptions(run_id="a", runs_dir=tmp_path, baselines=True)
    runner = Runner("single", FakeLLM(lambda p: ""), CheckerVerifier(task), task, options=base, run_id="b")
    assert (runner.run_id, runner.baselines, runner.run_dir) == ("b", True, tmp_path / "b")
    assert base.run_id == "a"  # frozen: the given options are not changed


def test_a_result_record_keeps_graph_fields_and_writes_every_field() -> None:
    fields = dict(
        run_id="r", method="single", graph="single", problem_id="p", task="arithmetic", mode="verifier_only",
        answer=None, score=None, status="done", rounds=1, llm_calls=2, generated_tokens=3, seconds=0.5,
        errors=[], correct=None, gold="4", worker="host:1",
    )  # fmt: skip
    line = ResultRecord(**fields, lessons=["carry"]).to_line()
    assert line["answer"] is None and line["correct"] is None and line["lessons"] == ["carry"]
    assert set(line) == {*fields, "lessons"}
    with pytest.raises(ValidationError, match="path"):
        GraphRecord(**fields, accepted=False, drafts=1, failed_drafts=0, model_seconds=0.1, resumed=False)
