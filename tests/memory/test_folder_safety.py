"""One writer per folder, and corrupt or foreign folders refused without changing them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from verbalrl.memory import (
    ChromaMemory,
    EmbedderMismatchError,
    Experience,
    MemoryConfig,
    MemoryCorruptError,
    MemoryLockedError,
    MemoryUnavailableError,
)

HOLDER = textwrap.dedent("""
    import sys, time
    from verbalrl.memory import ChromaMemory
    memory = ChromaMemory(sys.argv[1], embedder="hash:128")
    print("ready", flush=True)
    time.sleep(120)
""")


def _start_holder(folder: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def test_second_store_on_a_folder_is_refused_until_the_first_closes(
    make_memory: Callable[..., ChromaMemory], tmp_path: Path
) -> None:
    first = make_memory()
    with pytest.raises(MemoryLockedError, match=f"pid {os.getpid()}"):
        ChromaMemory(tmp_path / "mem", embedder="hash:128")
    first.close()
    with ChromaMemory(tmp_path / "mem", embedder="hash:128") as again:
        assert again.count() == 0


def test_another_process_is_refused_and_a_killed_holder_frees_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "mem"
    proc = _start_holder(folder)
    try:
        with pytest.raises(MemoryLockedError, match=f"pid {proc.pid}.*chroma run"):
            ChromaMemory(folder, embedder="hash:128")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.stdout is not None
        proc.stdout.close()
    with ChromaMemory(folder, embedder="hash:128") as memory:  # the OS dropped the lock
        assert memory.count() == 0


def test_corrupt_store_gives_a_clear_error_and_is_not_overwritten(tmp_path: Path) -> None:
    folder = tmp_path / "mem"
    with ChromaMemory(folder, embedder="hash:128") as memory:
        memory.add_experience(Experience(task="t", problem="p", solution="s", outcome="failure"))
    db = folder / "chroma.sqlite3"
    garbage = b"this is not sqlite" * 1000
    db.write_bytes(garbage)
    with pytest.raises(MemoryCorruptError, match="Nothing was changed"):
        ChromaMemory(folder, embedder="hash:128")
    assert db.read_bytes() == garbage
    # The lock was released: the failure did not leave the folder held.
    with pytest.raises(MemoryCorruptError):
        ChromaMemory(folder, embedder="hash:128")


def test_foreign_folder_and_file_paths_are_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"jpg")
    with pytest.raises(MemoryCorruptError, match="not empty"):
        ChromaMemory(foreign, embedder="hash:128")
    assert sorted(p.name for p in foreign.iterdir()) == ["cat.jpg"]
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(MemoryCorruptError, match="is a file"):
        ChromaMemory(a_file, embedder="hash:128")


def test_opening_with_another_embedder_is_refused(tmp_path: Path) -> None:
    with ChromaMemory(tmp_path / "mem", embedder="hash:128") as memory:
        memory.add_experience(Experience(task="t", problem="p", outcome="failure"))
    with pytest.raises(EmbedderMismatchError, match="hash:128"):
        ChromaMemory(tmp_path / "mem", embedder="hash:64")


def test_unreachable_server_is_a_clear_error() -> None:
    start = time.monotonic()
    with pytest.raises(MemoryUnavailableError, match="chroma run"):
        ChromaMemory(config=MemoryConfig(host="127.0.0.1", port=9), embedder="hash:64")
    assert time.monotonic() - start < 60


def test_memory_paths_expand_home_and_an_unknown_user_is_a_validation_error() -> None:
    from pydantic import ValidationError

    assert MemoryConfig(path="~/mem").folder == Path.home() / "mem"
    with pytest.raises(ValidationError, match="cannot expand"):
        MemoryConfig(path="~no-such-user-4471/mem")
