"""The fast paths of chromadb writes stay exact: cached per-task counts, index saves, durability.

A write is cheap because a task's records are counted once per locked folder
(then the count is kept up to date), because chromadb saves its HNSW index every
`hnsw_sync_threshold` writes instead of 1000 (issue 15), and because a server
skips the per-task count while its whole collection is within the cap. Each
test here checks the result against chromadb itself, never a timing.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import chromadb
import pytest
from chromadb.config import Settings

from verbalrl.memory import ChromaMemory, Experience, MemoryConfig
from verbalrl.memory.chroma.client import VerbalRLEmbeddingFunction

from .test_server import chroma_server  # noqa: F401 - the `chroma run` fixture

KINDS = ("experience", "reflection")


def _exp(task: str, i: int, *, fail: bool = False, word: str = "apples") -> Experience:
    return Experience(
        task=task,
        problem=f"How many {word} are in crate {i} of task {task}?",
        solution=f"Crate {i} holds {i * 7} {word}.",
        outcome="failure" if fail else "success",
        verified=not fail,
        reflection=f"Count crate {i} twice." if fail else None,
        score=(i % 10) / 10,
    )


def chromadb_counts(memory: ChromaMemory) -> dict[tuple[str, str], int]:
    """Records per (kind, task), counted by chromadb."""
    out: dict[tuple[str, str], int] = {}
    for kind in KINDS:
        for task in memory.tasks(kind):  # type: ignore[arg-type]
            out[(kind, task)] = len(memory._col(kind).get(where={"task": task}, include=[])["ids"])  # type: ignore[arg-type]
    return out


def assert_counts_exact(memory: ChromaMemory, cap: int) -> dict[tuple[str, str], int]:
    """Every cached count equals chromadb's, and no task is over the cap."""
    truth = chromadb_counts(memory)
    cached = dict(memory._counts)
    assert cached, "the cap check should have counted at least one task"
    for key, n in cached.items():
        assert n == truth.get(key, 0), (key, n, truth)
    assert all(n <= cap for n in truth.values()), truth
    return truth


def test_cached_counts_equal_chromadb_after_adds_merges_evictions_prune_import_and_reopen(
    tmp_path: Path,
) -> None:
    cap = 12
    config: dict[str, Any] = {"max_per_task": cap, "evict_fraction": 0.25, "embedder": "hash:64"}
    folder = tmp_path / "mem"
    with ChromaMemory(config=MemoryConfig(path=folder, **config)) as memory:
        for i in range(10):  # one by one, failures carry a lesson (a second kind)
            memory.add_experience(_exp("a", i, fail=i % 3 == 0))
        memory.add_experiences([_exp("b", i) for i in range(5)])
        truth = assert_counts_exact(memory, cap)
        assert truth[("experience", "a")] == 10 and truth[("reflection", "a")] == 4

        # the same content again, and a near-duplicate: merges, no new record
        memory.add_experience(_exp("a", 1))
        reworded = _exp("a", 2).model_copy(update={"problem": "How many apples are in crate 2 of task a ?"})
        memory.add_experience(reworded)
        assert assert_counts_exact(memory, cap)[("experience", "a")] == 10

        # over the cap: evicted down to cap * (1 - evict_fraction) = 9, then two more
        memory.add_experiences([_exp("a", i, word="pears") for i in range(10, 15)])
        assert assert_counts_exact(memory, cap)[("experience", "a")] == 9
        memory.add_experiences([_exp("a", i, word="plums") for i in range(20, 22)])
        assert assert_counts_exact(memory, cap)[("experience", "a")] == 11

        removed = memory.prune(max_per_task=6)
        assert removed["experience"] == 11 - 4 and assert_counts_exact(memory, 6)[("experience", "a")] == 4

        # an import (records as given) invalidates and recounts
        exported = list(memory.iter_records("experience", task="b"))
        memory.put_records([*exported, *(_exp("b", i, word="figs") for i in range(5, 15))])
        assert assert_counts_exact(memory, cap)[("experience", "b")] <= cap

    with ChromaMemory(config=MemoryConfig(path=folder, **config)) as memory:
        assert memory._counts == {}  # a new process counts in chromadb first
        before = chromadb_counts(memory)
        memory.add_experiences([_exp("a", i, word="kiwis") for i in range(30, 33)])
        after = assert_counts_exact(memory, cap)
        assert after[("experience", "a")] == before[("experience", "a")] + 3


def test_a_failed_write_forgets_the_cached_count(tmp_path: Path) -> None:
    """A write that stored its rows and then failed must not leave a stale count behind."""
    config = MemoryConfig(path=tmp_path / "m", max_per_task=50, embedder="hash:64")
    with ChromaMemory(config=config) as memory:
        memory.add_experience(_exp("a", 0))
        assert memory._counts[("experience", "a")] == 1
        real_upsert = memory._upsert

        def upsert_then_fail(kind: Any, rows: Any) -> None:
            real_upsert(kind, rows)
            raise OSError("disk went away after the write")

        memory._upsert = upsert_then_fail  # type: ignore[method-assign]
        with pytest.raises(OSError):
            memory.add_experience(_exp("a", 1))
        memory._upsert = real_upsert  # type: ignore[method-assign]
        memory.add_experience(_exp("a", 1))  # now known content: not new, stored once
        memory.add_experience(_exp("a", 2))
        assert chromadb_counts(memory)[("experience", "a")] == 3
        assert memory._counts[("experience", "a")] == 3


def test_a_new_folder_saves_its_index_at_the_configured_interval_and_a_reopen_changes_it(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "mem"
    config = MemoryConfig(path=folder, hnsw_sync_threshold=40, embedder="hash:64")
    with ChromaMemory(config=config) as memory:
        memory.add_experience(_exp("a", 1, fail=True))
        for kind in ("experience", "reflection", "concept"):
            assert memory._col(kind).configuration["hnsw"]["sync_threshold"] == 40  # type: ignore[arg-type]
    with ChromaMemory(config=config.model_copy(update={"hnsw_sync_threshold": 100})) as memory:
        assert memory._col("experience").configuration["hnsw"]["sync_threshold"] == 100
        assert memory.count() == 1 and memory.count("reflection") == 1


def test_a_memory_made_with_chromadbs_default_interval_gains_the_configured_one(tmp_path: Path) -> None:
    """A memory made before issue 15 (chromadb's 1000) opens with the configured interval, records intact."""
    folder = tmp_path / "old"
    client = chromadb.PersistentClient(str(folder), settings=Settings(anonymized_telemetry=False))
    col = client.create_collection(
        "verbalrl-experiences",
        embedding_function=VerbalRLEmbeddingFunction("hash:64"),  # type: ignore[arg-type]
        configuration={"hnsw": {"space": "cosine"}},
        metadata={"verbalrl_format": 1, "embedder": "hash:64"},
    )
    assert col.configuration["hnsw"]["sync_threshold"] == 1000
    client.close()
    with ChromaMemory(folder, embedder="hash:64") as memory:
        assert memory._col("experience").configuration["hnsw"]["sync_threshold"] == 100
        ids = memory.add_experiences([_exp("a", i) for i in range(150)])  # one index save and more
    with ChromaMemory(folder, embedder="hash:64") as memory:
        assert {e.id for e in memory.iter_records("experience")} == set(ids)
        ctx = memory.recall(_exp("a", 149).problem, task="a", k=1)  # written after the last save
        assert [r.experience.id for r in ctx.exemplars] == [ids[149]]


def test_another_sqlite_reading_the_store_right_after_close_loses_nothing(tmp_path: Path) -> None:
    """Why memory folders stay in SQLite's rollback-journal mode.

    WAL mode would cut a write's fsyncs from 8 to 2, but chromadb 1.5.9 closes its
    connections without checkpointing (the whole database stays in the -wal file) and
    after `close()` returns; Python's sqlite3 reading the file at that moment made the
    next open find no records or a malformed database in 10 of 15 tries (issue 15).
    """
    for attempt in range(5):
        folder = tmp_path / f"mem{attempt}"
        with ChromaMemory(folder, embedder="hash:64") as memory:
            stored = memory.add_experience(_exp("a", attempt, fail=True))
        with sqlite3.connect(f"file:{folder / 'chroma.sqlite3'}?mode=ro", uri=True) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal"
        conn.close()
        with ChromaMemory(folder, embedder="hash:64") as memory:
            assert [e.id for e in memory.iter_records("experience")] == [stored]
            assert memory.count("reflection") == 1


WRITER = textwrap.dedent("""
    import sys
    from verbalrl.memory import ChromaMemory, Experience, MemoryConfig
    cfg = MemoryConfig(path=sys.argv[1], hnsw_sync_threshold=int(sys.argv[2]), embedder="hash:64")
    with ChromaMemory(config=cfg) as memory:
        for i in range(100_000):
            fail = i % 4 == 0
            stored = memory.add_experience(Experience(
                task="t", problem=f"What is {i} times {i + 3}?", solution=f"{i * (i + 3)}",
                outcome="failure" if fail else "success", verified=not fail,
                reflection=f"Multiply {i} by {i + 3} digit by digit." if fail else None))
            print(stored, flush=True)  # acknowledged: add_experience returned
""")


@pytest.mark.parametrize("sync_threshold", [7, 100])
def test_kill_9_mid_writes_loses_no_acknowledged_record(tmp_path: Path, sync_threshold: int) -> None:
    """SIGKILL while one-by-one writes run, between and around index saves: every record an add
    returned is stored, with its lesson, and found by a vector query (the index is rebuilt from
    chromadb's log for the writes after the last save)."""
    folder = tmp_path / "mem"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(folder), str(sync_threshold)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    acknowledged: list[str] = []
    target = 3 * sync_threshold + sync_threshold // 2  # mid-way between two saves
    try:
        for line in proc.stdout:
            acknowledged.append(line.strip())
            if len(acknowledged) >= target:
                proc.send_signal(signal.SIGKILL)
                break
        acknowledged += [line.strip() for line in proc.stdout]  # printed before the kill landed
    finally:
        proc.kill()
        proc.wait(timeout=60)
        proc.stdout.close()
        assert proc.stderr is not None
        err = proc.stderr.read()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL, err[-2000:]
    assert len(acknowledged) >= target
    with ChromaMemory(config=MemoryConfig(path=folder, embedder="hash:64")) as memory:
        stored = {e.id for e in memory.iter_records("experience")}
        assert set(acknowledged) <= stored
        assert len(stored) - len(acknowledged) <= 1  # at most the write the kill interrupted
        lessons = {r.experience_id for r in memory.iter_records("reflection")}  # type: ignore[union-attr]
        failures = {e.id for e in memory.iter_records("experience") if e.outcome == "failure"}  # type: ignore[union-attr]
        assert failures & set(acknowledged) <= lessons  # a returned failure has its lesson
        for i in range(len(acknowledged) - 5, len(acknowledged)):  # written after the last save
            problem = f"What is {i} times {i + 3}?"
            ctx = memory.recall(problem, task="t", k=1, k_failures=1)
            found = [r.experience for r in ctx.exemplars + ctx.failures if r.similarity > 0.999]
            assert [e.problem for e in found] == [problem]


@pytest.mark.slow
def test_a_server_store_enforces_the_cap_with_or_without_counting_the_task(
    chroma_server: int,  # noqa: F811 - the fixture
) -> None:
    cfg = MemoryConfig(
        host="127.0.0.1", port=chroma_server, max_per_task=10, evict_fraction=0.2, embedder="hash:64"
    )
    with ChromaMemory(config=cfg) as memory:
        memory.add_experiences([_exp("a", i) for i in range(8)])  # the whole collection within the cap
        memory.add_experiences([_exp("b", i) for i in range(8)])  # 16 in all, each task within it
        assert chromadb_counts(memory) == {("experience", "a"): 8, ("experience", "b"): 8}
        memory.add_experiences([_exp("a", i, word="pears") for i in range(5)])  # task a: 13 > 10
        assert chromadb_counts(memory) == {("experience", "a"): 8, ("experience", "b"): 8}
        for i in range(3):  # one by one past the cap again
            memory.add_experience(_exp("b", i, word="plums"))
        assert chromadb_counts(memory) == {("experience", "a"): 8, ("experience", "b"): 8}  # 11, evicted to 8
