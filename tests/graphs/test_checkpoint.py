"""Checkpointers: SQLite files and a real PostgreSQL server (started on loopback by a fixture).

The PostgreSQL tests need the server binaries (initdb, pg_ctl); they are
skipped, saying so, only where none are installed. As root, the cluster is
created and run as the unprivileged `postgres` (or `nobody`) user, because
initdb refuses to run as root.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from verbalrl.graphs import SingleConfig, build_graph, graph_options, initial_state
from verbalrl.graphs.checkpoint import open_checkpointer, redact_url
from verbalrl.llm.fake import FakeLLM
from verbalrl.run import Runner, read_results
from verbalrl.tasks import get_task
from verbalrl.testing import failing, role_of, scripted
from verbalrl.verifier.base import FunctionVerifier


def _pg_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def pg_server() -> Iterator[str]:
    """A fresh PostgreSQL cluster on 127.0.0.1:<free port>; yields its base URL (no database)."""
    bindir = _pg_bin()
    if bindir is None or not (bindir / "initdb").exists():
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    # Not under pytest's tmp folder: its root-only parents would lock the postgres user out.
    root = Path(tempfile.mkdtemp(prefix="verbalrl-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the cluster as an unprivileged user
        user = next((u for u in ("postgres", "nobody") if _has_user(u)), None)
        if user is None:
            pytest.skip("running as root and there is no postgres or nobody user to run PostgreSQL as")
        entry = pwd.getpwnam(user)
        for path in (root, sock):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        prefix = ["runuser", "-u", user, "--"]
    port = _free_port()

    def pg(*args: str) -> None:
        done = subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = (root / "log").read_text() if (root / "log").exists() else ""
            pytest.fail(f"{Path(args[0]).name} failed: {done.stdout}{done.stderr}{log}"[-3000:])

    options = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"
    try:
        initdb = ["-U", "verbalrl", "--auth=trust", "--locale=C", "--encoding=UTF8", "--no-sync"]
        pg(str(bindir / "initdb"), "-D", str(data), *initdb)
        pg(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-o", options, "-w", "start")
        yield f"postgresql://verbalrl@127.0.0.1:{port}"
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


_databases = iter(range(10**6))


@pytest.fixture
def pg_url(pg_server: str) -> str:
    """A new, empty database on the server."""
    import psycopg

    name = f"t{next(_databases)}"
    with psycopg.connect(f"{pg_server}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{pg_server}/{name}"


def _pg_threads(url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT thread_id, count(*) FROM checkpoints GROUP BY thread_id").fetchall()
    return {str(t): int(n) for t, n in rows}


def _sqlite_threads(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT thread_id, count(*) FROM checkpoints GROUP BY thread_id").fetchall()
    return {str(t): int(n) for t, n in rows}


# ----------------------------------------------------------------- open_checkpointer
def replies(fail_on: str | None = None, after: int = 0):
    """Role-scripted replies; the prompts of role `fail_on` after the first `after` raise."""
    # any other role (solver, reflector, ...) gets the first try, as before the roles were named
    reply = scripted(
        {"critic": "Check the sum.", "reviser": "Revised. Answer: 99"}, default="First try. Answer: 98"
    )
    return failing(reply, fail_on, after) if fail_on else reply


@pytest.fixture
def task():
    return get_task("arithmetic", level=2)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_graph_checkpoints_resumes_and_deletes_a_thread(kind: str, task, tmp_path: Path, request) -> None:
    location = str(tmp_path / "ck.sqlite") if kind == "sqlite" else request.getfixturevalue("pg_url")
    saver, close = open_checkpointer(location)
    try:
        config = SingleConfig(n_drafts=2, max_rounds=2)
        problem = task.problems("test", n=1, seed=0)[0]
        thread = {"configurable": {"thread_id": "run/p1"}, **graph_options(config)}
        crashing = build_graph(
            "single", FakeLLM(replies("reviser")), _low(), config, checkpointer=saver, task=task
        )
        with pytest.raises(RuntimeError, match="injected crash"):
            crashing.invoke(initial_state(problem), thread)
        stopped = crashing.get_state(thread)
        assert stopped.next == ("revise",) and len(stopped.values["drafts"]) == 2

        healthy = FakeLLM(replies())
        graph = build_graph("single", healthy, _low(), config, checkpointer=saver, task=task)
        final = graph.invoke(None, thread)  # continue from the checkpoint: only the revision is sampled
        assert final["result"]["llm_calls"] == 4 and final["path"][-2:] == ["verify", "finalize"]
        assert [role_of(p) == "reviser" for c in healthy.calls for p in c.prompts] == [True]

        saver.delete_thread("run/p1")
        assert graph.get_state(thread).values == {}
    finally:
        close()


def _low() -> FunctionVerifier:
    return FunctionVerifier(lambda q, c: 0.1)


def test_other_schemes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SQLite file path or a postgresql:// URL"):
        open_checkpointer("mysql://root@db/x")
    saver, close = open_checkpointer(tmp_path / "new" / "dir" / "ck.sqlite")  # parent folders created
    close()
    assert (tmp_path / "new" / "dir" / "ck.sqlite").is_file()


def test_redact_url() -> None:
    assert redact_url("postgresql://u:secret@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert redact_url("postgresql://u@h/db") == "postgresql://u@h/db"
    assert redact_url("/tmp/ck.sqlite") == "/tmp/ck.sqlite"


def test_many_processes_setting_up_one_database_at_once(pg_url: str) -> None:
    """Workers open a fresh database together; the advisory lock serialises the migrations."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def open_one() -> None:
        try:
            barrier.wait()
            saver, close = open_checkpointer(pg_url)
            close()
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert _pg_threads(pg_url) == {}


# ----------------------------------------------------------------- the runner on PostgreSQL
def test_runner_on_postgres_crash_resume_and_pruning(task, pg_url: str, tmp_path: Path) -> None:
    problems = task.problems("test", n=4, seed=1)
    config = SingleConfig(n_drafts=2, max_rounds=2)
    common: dict[str, Any] = dict(
        run_id="pg",
        runs_dir=tmp_path / "runs",
        output=tmp_path / "o.jsonl",
        progress=False,
        checkpoint_url=pg_url,
    )
    # the 3rd reviser prompt is the third problem's revise step: it crashes there
    crashing = FakeLLM(replies(fail_on="reviser", after=2))
    with pytest.raises(RuntimeError, match="injected crash"):
        Runner("single", crashing, _low(), task, config, **common).run(problems)
    assert [r["problem_id"] for r in read_results(tmp_path / "o.jsonl")] == [p.id for p in problems[:2]]
    # the two written problems' threads are gone; the interrupted one's is kept in PostgreSQL
    assert set(_pg_threads(pg_url)) == {f"pg/{problems[2].id}"}
    assert not (tmp_path / "runs" / "pg" / "checkpoints.sqlite").exists()
    spec = json.loads((tmp_path / "runs" / "pg" / "run.json").read_text())
    assert spec["checkpoint_url"] == pg_url and spec["keep_checkpoints"] is False

    healthy = FakeLLM(replies())
    report = Runner("single", healthy, _low(), task, config, **common).run(problems)
    rows = read_results(tmp_path / "o.jsonl")
    assert sorted(r["problem_id"] for r in rows) == sorted(p.id for p in problems)  # each exactly once
    assert report["skipped"] == 2
    resumed = next(r for r in rows if r["problem_id"] == problems[2].id)
    assert resumed["resumed"] is True and resumed["llm_calls"] == 4
    kinds = [role_of(p) for c in healthy.calls for p in c.prompts]
    assert sum(k == "critic" for k in kinds) == 1  # problem 3 kept its critique from before
    assert _pg_threads(pg_url) == {}


def test_keep_checkpoints_keeps_every_thread(task, pg_url: str, tmp_path: Path) -> None:
    problems = task.problems("test", n=2, seed=2)
    Runner(
        "single",
        FakeLLM(replies()),
        _low(),
        task,
        SingleConfig(n_drafts=1, max_rounds=1),
        run_id="keep",
        runs_dir=tmp_path,
        progress=False,
        checkpoint_url=pg_url,
        keep_checkpoints=True,
    ).run(problems)
    threads = _pg_threads(pg_url)
    assert set(threads) == {f"keep/{p.id}" for p in problems} and all(n >= 3 for n in threads.values())


def test_sqlite_helper_counts(tmp_path: Path, task) -> None:
    """The SQLite default: one file in the run folder, emptied as problems are written."""
    problems = task.problems("test", n=3, seed=3)
    Runner(
        "single",
        FakeLLM(replies()),
        _low(),
        task,
        SingleConfig(n_drafts=1, max_rounds=1),
        run_id="sq",
        runs_dir=tmp_path,
        progress=False,
    ).run(problems)
    assert _sqlite_threads(tmp_path / "sq" / "checkpoints.sqlite") == {}
