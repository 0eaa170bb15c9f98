"""The SQLite checkpointer the runner persists graph state with (kept here: only graphs/ imports langgraph).

One file per run; each problem is a thread (`run_id/problem_id`). The
connection allows use from the worker threads LangGraph runs parallel
branches (`Send`) on; close it when the run ends.

Why `synchronous=NORMAL`: SqliteSaver uses WAL; with NORMAL a commit does not
fsync (the WAL is synced at its checkpoints), which cuts a round's overhead
several-fold on slow disks. A crashed or killed *process* loses nothing that
was committed; only an OS crash or power loss can drop the last few
checkpoints, and then resume re-runs those steps (the results JSONL itself is
fsynced per line, and memory writes are idempotent).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any


def sqlite_checkpointer(path: str | Path) -> tuple[Any, sqlite3.Connection]:
    """(a `SqliteSaver` on `path`, its connection to close when done)."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(str(path), check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return SqliteSaver(conn), conn
