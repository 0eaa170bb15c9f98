"""The disk fills while a run writes: a clear error, nothing half-written that breaks --resume."""

from __future__ import annotations

from pathlib import Path

import pytest

from .service_faults import disk_full

pytestmark = pytest.mark.slow


def test_a_full_disk_stops_the_run_clearly_and_it_resumes_once_there_is_space(tmp_path: Path) -> None:
    report = disk_full(tmp_path, n=30, size="256k")
    if report is None:
        pytest.skip("cannot mount a tmpfs on this machine (needs root)")
    assert report["stopped_returncode"] == 2
    log = report["stop_log"]
    assert "no space left on the disk of" in log and "--resume" in log and "Traceback" not in log, log
    assert report["finished_when_full"] < 30
    assert report["resume_returncode"] == 0
    assert report["differences"] == [], report["differences"]
    assert report["finished"] == report["lines"] == 30
