"""A damaged results file or checkpoint database: a clear error naming it, never a silent restart."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from .harness import child_env, results_of, resume_argv, run_argv, run_cli

pytestmark = pytest.mark.slow


def test_damaged_run_files_are_named_and_left_untouched(tmp_path: Path) -> None:
    env = child_env(tmp_path)
    runs, logs = tmp_path / "runs", tmp_path / "logs"
    assert run_cli(run_argv("r", runs, tmp_path / "mem", 6)[:-1] + ["--keep-checkpoints", "--no-progress"],
                   env, logs / "first.log") == 0
    results, db = runs / "r" / "results.jsonl", runs / "r" / "checkpoints.sqlite"
    lines = results.read_bytes().split(b"\n")
    assert len(results_of(results)) == 6 and db.is_file()

    # 1. garbage in the middle of the results file
    original = results.read_bytes()
    lines[2] = bytes(range(200, 256)) + b"\x00garbage"
    results.write_bytes(b"\n".join(lines))
    damaged = results.read_bytes()
    rc = run_cli(resume_argv("r", runs), env, logs / "results.log")
    out = (logs / "results.log").read_text(errors="replace")
    assert rc == 2 and f"results file {results}, line 3, is not a JSON record" in out, out
    assert "Traceback" not in out and results.read_bytes() == damaged  # nothing changed
    results.write_bytes(original)

    # 2. a torn last line (a crash mid-write) is not damage: resume goes on
    results.write_bytes(original[: original.rstrip(b"\n").rfind(b"\n") + 20])
    assert run_cli(resume_argv("r", runs), env, logs / "torn.log") == 0
    ids = [r["problem_id"] for r in results_of(results)]
    assert len(ids) == len(set(ids)) == 6  # the torn problem ran again, once

    # 3. a checkpoint database of garbage bytes
    shutil.copy(db, tmp_path / "good.sqlite")
    db.write_bytes(os.urandom(8192))
    for side in ("-wal", "-shm"):
        Path(str(db) + side).unlink(missing_ok=True)
    damaged = db.read_bytes()
    rc = run_cli(resume_argv("r", runs), env, logs / "db.log")
    out = (logs / "db.log").read_text(errors="replace")
    assert rc == 2 and f"checkpoint database {db} is damaged" in out and "move it away" in out, out
    assert "Traceback" not in out and db.read_bytes() == damaged
    # moved away, as the message says: resume works and redoes nothing finished
    db.rename(db.with_suffix(".damaged"))
    before = results.read_bytes()
    assert run_cli(resume_argv("r", runs), env, logs / "moved.log") == 0
    assert results.read_bytes() == before
