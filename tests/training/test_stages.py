"""Resumable stages: a finished stage runs once ever, a failed one runs again and is counted."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from verbalrl.training.stages import StageDir, last_checkpoint, write_json


def test_a_finished_stage_is_read_back_not_run_again(tmp_path) -> None:
    calls: list[str] = []
    lines: list[str] = []
    d = StageDir(tmp_path / "iter-1", say=lines.append)

    def stage(name: str, n: int) -> Callable[[], dict[str, int]]:
        def run() -> dict[str, int]:
            calls.append(name)
            return {"candidates": n}

        return run

    first = d.run("generate", stage("x", 3))
    again = StageDir(tmp_path / "iter-1").run("generate", stage("y", 9))
    assert calls == ["x"] and first == again and again["candidates"] == 3 and "seconds" in again
    assert d.attempts() == {"generate": 1} and d.result("generate") == first
    assert lines[0] == "generate ..." and lines[1].startswith("generate: candidates=3")


def test_a_stage_that_failed_runs_again_and_its_attempts_are_counted(tmp_path) -> None:
    d = StageDir(tmp_path)

    def boom() -> dict[str, int]:
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        d.run("policy", boom)
    assert not d.done("policy")
    with pytest.raises(KeyError):
        d.result("policy")
    d.run("policy", lambda: {"examples": 4})
    assert d.attempts() == {"policy": 2} and d.result("policy")["examples"] == 4


def test_writes_are_whole_files_and_the_newest_checkpoint_wins(tmp_path) -> None:
    path = write_json(tmp_path / "a" / "m.json", {"k": [1, 2]})
    assert json.loads(path.read_text()) == {"k": [1, 2]} and [p.name for p in path.parent.iterdir()] == [
        "m.json"
    ]
    assert last_checkpoint(tmp_path) is None
    for n in (2, 10, 9):
        (tmp_path / "checkpoints" / f"checkpoint-{n}").mkdir(parents=True)
    (tmp_path / "checkpoints" / "checkpoint-x").mkdir()
    assert last_checkpoint(tmp_path) == tmp_path / "checkpoints" / "checkpoint-10"
