"""One writer per memory folder: an exclusive `flock` on `<folder>/.verbalrl.lock`.

In scope: taking the lock without waiting (a second process, or a second
store in the same process, gets `MemoryLockedError` naming the holder's pid)
and releasing it on `release()`. The operating system drops an `flock` when
its process dies, so a killed process never leaves a lock that blocks forever.
Left out: Windows (no `fcntl`) and network filesystems where `flock` is not
reliable; use a `chroma run` server there.

Why: chromadb's embedded `PersistentClient` is thread-safe but not
process-safe; two processes writing one folder can corrupt it.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path
from typing import IO

from ..errors import MemoryLockedError

LOCK_NAME = ".verbalrl.lock"


class FolderLock:
    """An exclusive, non-blocking lock on a folder, held until `release()`."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_NAME
        self._file: IO[str] | None = None

    def acquire(self) -> FolderLock:
        """Take the lock or raise `MemoryLockedError` at once (never waits)."""
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the store's life
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise MemoryLockedError(
                f"memory folder {self.path.parent} is in use by another writer ({holder}). "
                "chromadb is not process-safe: use one process per folder, or share memory "
                "between processes through a `chroma run` server (`--memory-url http://HOST:PORT` "
                "on the CLI, `ChromaMemory(host=..., port=...)` in Python)."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        self._file = handle
        return self

    @property
    def held(self) -> bool:
        """Whether this object holds the lock now."""
        return self._file is not None

    def release(self) -> None:
        """Drop the lock (idempotent). The file stays; an unlocked file is harmless."""
        if self._file is None:
            return
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
        finally:
            self._file.close()
            self._file = None
