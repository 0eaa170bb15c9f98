"""Service faults: the model server dies mid-run. Nothing lost, nothing doubled, results as a clean run."""

from __future__ import annotations

from pathlib import Path

import pytest

from .service_faults import model_server_gone, model_server_restart

pytestmark = pytest.mark.slow


def test_a_model_server_restarted_mid_run_costs_a_pause_not_the_run(tmp_path: Path) -> None:
    report = model_server_restart(tmp_path, n=8, down=4.0, after=2)
    assert report["returncode"] == 0, report["log"]
    assert report["differences"] == [], report["differences"]
    assert report["finished"] == report["lines"] == 8
    assert "model server unavailable" in report["log"] or "retrying" in report["log"]


def test_a_model_server_that_never_returns_stops_the_run_clearly_and_resume_finishes(tmp_path: Path) -> None:
    report = model_server_gone(tmp_path, n=8, after=2, retry_wait=3.0)
    assert report["stopped_returncode"] != 0
    log = report["stop_log"]
    assert "still no answer after waiting" in log and "--resume" in log and "Traceback" not in log, log
    assert report["finished_before_resume"] < 8
    assert report["resume_returncode"] == 0
    assert report["differences"] == [], report["differences"]
    assert report["finished"] == report["lines"] == 8
