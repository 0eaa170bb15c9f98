"""kill -9 a real `verbalrl run` process at 17 points, resume it each time: nothing lost, nothing twice.

The harness (`tests/reliability/harness.py`) starts the real CLI with a scripted
model and real chromadb / SQLite checkpointer, blocks the process at exact
points (mid-node, mid memory write, after a checkpoint commit, mid JSONL
line, ...) or at fixed times, sends SIGKILL, and compares the finished run
with a clean run of the same problems.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from types import ModuleType

import pytest

N = 80


@pytest.mark.slow
def test_kill_9_at_many_points_then_resume_matches_a_clean_run(harness: ModuleType, tmp_path: Path) -> None:
    report = harness.crash_loop(tmp_path, n=N)
    harness.print_crash(report)  # the kill points, shown with -s or on failure
    kills = report["kills"]

    # Every point was reached and the process died of SIGKILL there (not of its own accord).
    assert len({k.point for k in kills}) >= 10
    assert [k.point for k in kills if not k.killed] == []
    assert {k.returncode for k in kills} == {-signal.SIGKILL}
    assert [k.point for k in kills if not k.point.startswith(("time:", "run:")) and not k.reached] == []
    assert [k.torn_tail for k in kills if k.point.startswith("jsonl-torn:")] == [True]
    # Most kills interrupted a problem (its checkpoints exist, its result does not), so resume
    # had to continue mid-graph, and each resumed process made progress or resumed mid-problem.
    assert sum(k.open_problems > 0 for k in kills) >= 10
    assert kills[-1].results_after < N  # the final resume still had work to do

    assert report["final_returncode"] == 0, report["final_log"]
    assert report["clean_returncode"] == 0
    for line in report["results_lines"]:  # the torn line was cut, not left or doubled
        json.loads(line)
    ids = [r["problem_id"] for r in report["results"]]
    assert len(ids) == len(set(ids)) == N
    assert sum(bool(r["resumed"]) for r in report["results"]) >= 5
    # Same answers, verdicts, node paths, trials and model calls as the clean run; the same
    # experiences (by content id, with merge counts) and lessons in memory: none lost, none twice.
    assert harness.crash_differences(report) == []
    assert len(report["clean_memory"]["experiences"]) >= N
    assert len(report["clean_memory"]["reflections"]) >= 5  # the failure-write point hit a failure
    assert report["threads_left"] == []  # finished problems' checkpoints were pruned, even after kills
