"""Two `verbalrl run` processes on one memory folder; four runner processes on one `chroma run` server."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


def check_run(harness: ModuleType, results: list[dict[str, Any]], questions: list[str]) -> None:
    """Every problem once, each ending as the scripted model dictates."""
    assert len(results) == len({r["problem_id"] for r in results}) == len(questions)
    assert [r["correct"] for r in results] == [harness.expected_correct(q) for q in questions]


@pytest.mark.slow
def test_second_run_on_a_memory_folder_in_use_is_refused_and_the_first_finishes(
    harness: ModuleType, tmp_path: Path
) -> None:
    report = harness.lock_conflict(tmp_path, n=8)
    err = " ".join(report["second_stderr"].split())  # rich wraps long lines
    assert report["first_running_when_refused"]
    assert report["second_returncode"] == 2, err
    assert "error: memory folder" in err and "in use by another writer" in err, err
    assert f"pid {report['first_pid']}" in err and "chroma run" in err, err
    assert "Traceback" not in err
    assert not report["second_run_dir"]  # refused before it created anything
    assert report["first_returncode"] == 0
    check_run(harness, report["first_results"], report["questions"])
    stored = {facts[3] for facts in report["memory"]["experiences"].values()}
    assert stored == set(report["questions"])  # the first run's memory is all there


@pytest.mark.slow
def test_four_runner_processes_share_one_chroma_server_and_lose_nothing(
    harness: ModuleType, tmp_path: Path
) -> None:
    report = harness.server_writers(tmp_path, workers=4, per_worker=12)
    for worker in report["workers"]:
        assert worker["returncode"] == 0, worker["stderr"]
    for worker, results in zip(report["workers"], report["results"], strict=True):
        check_run(harness, results, worker["questions"])
    stored = {rid for w in report["workers"] for rid in w["stored"]}
    assert stored and stored <= report["experience_ids"]  # every id a worker stored is on the server
    questions = {q for w in report["workers"] for q in w["questions"]}
    assert len(questions) == 48 and set(report["experience_problems"]) == questions
    # One lesson per problem that failed a trial (the scripted lesson depends on the problem only).
    failed = {q for q in questions if harness.wrongness(q) > 0}
    assert report["reflections"] == len(failed)
