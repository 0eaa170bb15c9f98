"""500 problems through `Runner` in this process: memory, checkpoint DB, fds and threads stay bounded.

The reflective graph with the scripted model, the real SQLite checkpointer
and (in the second test) real chromadb memory. Measured after 100 problems,
every 100 after that, and once the runner is done and memory closed; the
baseline is taken after a 5-problem warm-up run, so one-time start-up is not
counted as growth. Without memory the graph, checkpointer and runner alone
must not grow at all; with memory chromadb's own growth with its records
(about 3-4 MB per 100 problems here, see `benchmarks/RESULTS.md`) is allowed.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

N = 500


def check_common(report: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Assertions both soaks share; returns (sample after 100, sample after N)."""
    assert report["results"] == report["distinct_results"] == report["correct_as_scripted"] == N
    first, last = report["samples"][0], report["samples"][-1]
    assert (first["problems"], last["problems"]) == (100, N)
    # Pruning (the default): finished problems' threads are deleted, so the file reuses its pages.
    assert report["threads_left"] == 0
    assert last["db_total_mb"] < 2 * first["db_total_mb"]
    assert last["db_mb"] <= first["db_mb"] + 0.5
    # Nothing left open or running once the runner is done and memory is closed.
    base, after = report["baseline"], report["after"]
    assert after["fds"] <= base["fds"] + 1, (base, after)
    # (fewer is fine: threads of earlier tests in this process, e.g. a server's idle keep-alive
    # connections, may end during the soak)
    assert after["threads"] <= base["threads"], (base, after)
    assert after["os_threads"] <= base["os_threads"] + 1, (base, after)
    return first, last


@pytest.mark.parametrize("keep", [False, True])
def test_pruning_is_the_runner_default(harness: ModuleType, tmp_path: Path, keep: bool) -> None:
    """With default options a finished problem's checkpoint thread is deleted; `keep_checkpoints` keeps it."""
    options = {"keep_checkpoints": True} if keep else {}
    report = harness.soak(tmp_path, n=4, every=2, embedder=None, **options)
    assert report["results"] == report["distinct_results"] == 4
    assert [s["problems"] for s in report["samples"]] == [2, 4]
    assert report["threads_left"] == (4 if keep else 0)


@pytest.mark.slow
def test_500_problems_without_memory_do_not_grow(harness: ModuleType, tmp_path: Path) -> None:
    report = harness.soak(tmp_path, n=N, embedder=None)
    harness.print_soak(report, "no memory")
    first, last = check_common(report)
    # Graph + checkpointer + runner: 400 more problems may not add 5 MB (12 KB a problem).
    assert last["rss_mb"] - first["rss_mb"] < 5, report["samples"]


@pytest.mark.slow
def test_500_problems_with_chromadb_memory_stay_bounded(harness: ModuleType, tmp_path: Path) -> None:
    report = harness.soak(tmp_path, n=N, embedder="hash:128")
    harness.print_soak(report, "reflective + chromadb memory")
    first, last = check_common(report)
    assert report["experiences"] >= N
    # chromadb grows with its records (measured ~18 MB over these 400 problems, ~500 records);
    # 50 MB is under 3x that: a store, client or query result kept per write or recall is not.
    assert last["rss_mb"] - first["rss_mb"] < 50, report["samples"]
