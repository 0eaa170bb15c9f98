"""The checkpointers the runner persists graph state with (kept here: only graphs/ imports langgraph).

In scope: `open_checkpointer(location)`, which opens a SQLite file (one run,
one machine: the default) or a PostgreSQL database (`postgresql://...`: many
processes or machines share it), and `sqlite_checkpointer(path)`. Each
problem is a thread (`run_id/problem_id`); the runner deletes a thread once
the problem's records are in the results file. Left out: graphs, the runner.

Why `synchronous=NORMAL` for SQLite: SqliteSaver uses WAL; with NORMAL a
commit does not fsync (the WAL is synced at its checkpoints), which cuts a
round's overhead several-fold on slow disks. A crashed or killed *process*
loses nothing that was committed; only an OS crash or power loss can drop the
last few checkpoints, and then resume re-runs those steps (the results JSONL
itself is fsynced per line, and memory writes are idempotent). Several
processes of one machine (Ray workers) may share the file: SQLite locks it,
and the 30 s busy timeout makes a writer wait for another's short commit
instead of failing. A file on a network share is not safe: use PostgreSQL.

PostgreSQL: `PostgresSaver` on one autocommit connection (its own lock makes
it usable from the threads of a `Send` fan-out). `.setup()` creates or
migrates the tables; it runs under an advisory lock, because many workers
opening the database at once would otherwise race on the migrations table
(the lock is polled, not waited on: see `_wait_for_setup_lock`).
Needs the `postgres` extra (`langgraph-checkpoint-postgres`, `psycopg`).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import CorruptFileError

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
# Any constant shared by every process that sets up the tables (pg_advisory_lock takes a bigint).
_SETUP_LOCK_KEY = int.from_bytes(b"verbalrl", "big")
SQLITE_TIMEOUT_S = 30.0


def is_postgres_url(location: str | Path) -> bool:
    return isinstance(location, str) and location.startswith(POSTGRES_SCHEMES)


def sqlite_checkpointer(path: str | Path) -> tuple[Any, sqlite3.Connection]:
    """(a `SqliteSaver` on `path`, its connection to close when done)."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(str(path), check_same_thread=False, timeout=SQLITE_TIMEOUT_S)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        check = conn.execute("PRAGMA quick_check").fetchone()  # a damaged file fails here, not mid-run
        if check is None or check[0] != "ok":
            raise sqlite3.DatabaseError(f"integrity check: {check[0] if check else 'no answer'}")
    except sqlite3.DatabaseError as err:
        conn.close()
        raise CorruptFileError(
            f"checkpoint database {path} is damaged ({err}). Problems already in the results file are "
            f"safe. To go on, move it away (e.g. `mv {path} {path}.damaged`) and resume: the problems "
            "that were in progress start again from their beginning; nothing was changed"
        ) from None
    return SqliteSaver(conn), conn


def postgres_checkpointer(url: str) -> tuple[Any, Callable[[], None]]:
    """(a set-up `PostgresSaver` on database `url`, a function that closes its connection)."""
    try:
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg import Connection
        from psycopg.rows import dict_row
    except ImportError as err:
        raise ImportError("a postgresql:// checkpointer needs: pip install 'verbalrl[postgres]'") from err
    # The settings PostgresSaver.from_conn_string uses, without its context manager:
    # the runner holds the connection for a whole run.
    conn = Connection.connect(url, autocommit=True, prepare_threshold=0, row_factory=dict_row)
    try:
        saver = PostgresSaver(conn)  # type: ignore[arg-type]
        _wait_for_setup_lock(conn)
        try:
            saver.setup()
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_SETUP_LOCK_KEY,))
    except BaseException:
        conn.close()
        raise
    return saver, conn.close


def _wait_for_setup_lock(conn: Any, timeout_s: float = 300.0) -> None:
    """Take the setup lock, polling: a session blocked in `pg_advisory_lock` keeps a transaction
    open, and the holder's `CREATE INDEX CONCURRENTLY` migration waits for every open
    transaction to end, a deadlock."""
    deadline = time.monotonic() + timeout_s
    while not conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (_SETUP_LOCK_KEY,)).fetchone()["ok"]:
        if time.monotonic() > deadline:
            raise TimeoutError(f"another process held the checkpoint setup lock for {timeout_s:.0f} s")
        time.sleep(0.05)


def open_checkpointer(location: str | Path) -> tuple[Any, Callable[[], None]]:
    """(a checkpointer, a function that closes it) for a SQLite file path or a `postgresql://` URL."""
    if is_postgres_url(location):
        return postgres_checkpointer(str(location))
    if isinstance(location, str) and "://" in location:
        raise ValueError(f"checkpoint location {location!r}: give a SQLite file path or a postgresql:// URL")
    path = Path(location).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    saver, conn = sqlite_checkpointer(path)
    return saver, conn.close


def redact_url(location: str) -> str:
    """`location` with any password replaced by `***` (for logs and messages)."""
    if not is_postgres_url(location):
        return location
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(location)
    if parts.password is None:
        return location
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[-1]}"))
