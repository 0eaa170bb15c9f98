"""What every part of `ChromaMemory` stands on: the open store, its collections, raw reads and writes.

In scope: opening the store a `MemoryConfig` points at (`client.py`),
closing it (idempotent, also at garbage collection), the write lock, the
per-task count cache, upserting encoded rows in chromadb-sized chunks, and
reading records back (by id, by kind and task, counts, stats). Left out:
deciding what to write (`writes.py`), recall (`recall.py`) and concepts
(`concepts.py`).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import httpx
import numpy as np
from chromadb.api.models.Collection import Collection

from ..config import MemoryConfig
from ..embedding import Embedder, EmbedderSpec, resolve_embedder
from ..errors import MemoryCorruptError, MemoryUnavailableError
from ..kinds import KINDS, Kind, Record
from ..recall import QueryCache
from ..schedule import DistillSchedule
from ..stats import store_stats
from .client import OpenedStore, open_store
from .codec import foreign, from_metadata, is_ours, to_row

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


def writes(method: F) -> F:
    """Run a writing method under the store's write lock; a server outage is waited out.

    On a `chroma run` server that does not answer (killed, restarting), the whole write runs
    again with backoff (1, 2, 4, 5, 5 ... s) for up to `config.server_wait` seconds: memory
    writes are content-addressed upserts, so a write that half happened is simply completed.
    Then `MemoryUnavailableError`. Reads are not retried: recall fails at once and the graph
    records it.
    """

    @functools.wraps(method)
    def locked(self: ChromaBase, *args: Any, **kwargs: Any) -> Any:
        waited, delay = 0.0, 1.0
        while True:
            try:
                with self._write_lock:
                    return method(self, *args, **kwargs)
            except httpx.TransportError as err:
                if self.config.host is None or waited + delay > self.config.server_wait:
                    raise MemoryUnavailableError(
                        f"the memory server at {self.location} did not answer ({type(err).__name__}: "
                        f"{err}) for {waited:.0f} s; start it again (`chroma run`), then resume the run"
                    ) from err
                log.warning("memory server unavailable (%s); %s again in %.0f s", err, method.__name__, delay)
                time.sleep(delay)
                waited += delay
                delay = min(2 * delay, 5.0)

    return cast(F, locked)


class ChromaBase:
    """The opened chromadb store with raw reads and writes (see `ChromaMemory`)."""

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        config: MemoryConfig | None = None,
        embedder: EmbedderSpec = None,
        host: str | None = None,
        port: int | None = None,
    ) -> None:
        config = config or MemoryConfig()
        update: dict[str, Any] = {}
        if path is not None:
            update |= {"path": Path(path), "host": None}
        if host is not None:
            update |= {"host": host, "path": None}
        if port is not None:
            update["port"] = port
        self.config = MemoryConfig.model_validate(config.model_dump() | update)
        self.embedder: Embedder = resolve_embedder(embedder if embedder is not None else self.config.embedder)
        self._store: OpenedStore | None = open_store(self.config, self.embedder)
        # Per-(kind, task) record counts, cached only where this process is the
        # single writer (a locked folder); a server is recounted each time.
        self._counts: dict[tuple[Kind, str], int] = {}
        self._schedule = DistillSchedule()
        # Merging reads then writes: two threads of one process (a LangGraph
        # fan-out) must not interleave a batch, or both could add one record.
        self._write_lock = threading.RLock()
        #: How many recall queries ran at each stage (unfiltered, widened, filtered): a cost gauge.
        self.query_counts: Counter[str] = Counter()
        self._embed_query = QueryCache(self.embedder)

    # ----------------------------------------------------------------- life
    @property
    def location(self) -> str:
        """The folder or server URL this memory lives in."""
        return self._opened.location

    @property
    def _opened(self) -> OpenedStore:
        if self._store is None:
            raise RuntimeError("this ChromaMemory is closed")
        return self._store

    @property
    def _since_distill(self) -> Counter[str]:
        """New experiences per task since the last distillation (the schedule's count)."""
        return self._schedule.since

    def _col(self, kind: Kind) -> Collection:
        return self._opened.collections[kind]

    def close(self) -> None:
        """Release chromadb and the folder lock (idempotent)."""
        if self._store is None:
            return
        store, self._store = self._store, None
        try:
            store.client.close()  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - closing must not mask the caller's error
            log.debug("chromadb client close failed", exc_info=True)
        finally:
            if store.lock is not None:
                store.lock.release()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    # ------------------------------------------------------------ raw write
    def _upsert(self, kind: Kind, rows: Sequence[tuple[Any, np.ndarray]]) -> None:
        """Write (record, vector) rows as given; every write of the store goes through here."""
        if not rows:
            return
        col = self._col(kind)
        step = min(self.config.batch_size, self._opened.client.get_max_batch_size())
        for start in range(0, len(rows), step):
            chunk = rows[start : start + step]
            encoded = [to_row(record) for record, _ in chunk]
            col.upsert(
                ids=[e[0] for e in encoded],
                documents=[e[1] for e in encoded],
                metadatas=[e[2] for e in encoded],  # type: ignore[misc]
                embeddings=np.stack([vec for _, vec in chunk]),
            )

    # ------------------------------------------------------------------ reads
    def get(self, record_id: str) -> Record | None:
        """The record with this id (of any kind), or None."""
        for kind in KINDS:
            got = self._col(kind).get(ids=[record_id], include=["metadatas"])
            if got["ids"]:
                return from_metadata(kind, (got["metadatas"] or [])[0], record_id)
        return None

    def count(self, kind: Kind = "experience") -> int:
        """How many records of a kind are stored."""
        return self._col(kind).count()

    def iter_records(
        self, kind: Kind, task: str | None = None, batch: int = 1_000, *, skip_malformed: bool = False
    ) -> Iterator[Record]:
        """Every stored record of a kind (optionally of one task), in pages.

        A row that holds no valid record raises `MemoryCorruptError`, or with
        `skip_malformed` is logged and left out (what reading untrusted memory
        into training data wants: `verbalrl consolidate`).
        """
        col = self._col(kind)
        offset = 0
        where: Any = {"task": task} if task is not None else None
        while True:
            got = col.get(where=where, include=["metadatas"], limit=batch, offset=offset)
            if not got["ids"]:
                return
            for rid, meta in zip(got["ids"], got["metadatas"] or [], strict=True):
                if not is_ours(meta):
                    foreign(rid, kind)
                    continue
                try:
                    record = from_metadata(kind, meta, rid)
                except MemoryCorruptError as exc:
                    if not skip_malformed:
                        raise
                    log.warning("memory: %s; left out", exc)
                    continue
                yield record
            offset += len(got["ids"])

    def tasks(self, kind: Kind = "experience") -> list[str]:
        """The distinct tasks that have records of this kind."""
        found: set[str] = set()
        col, offset = self._col(kind), 0
        while True:
            got = col.get(include=["metadatas"], limit=5_000, offset=offset)
            if not got["ids"]:
                return sorted(found)
            found.update(str(m.get("task")) for m in got["metadatas"] or [] if is_ours(m))
            offset += len(got["ids"])

    def stats(self) -> dict[str, Any]:
        """Counts per kind, per task and per status, and where the store lives."""
        return store_stats(
            self.location,
            self.embedder.name,
            {kind: self.count(kind) for kind in KINDS},
            self.iter_records("experience"),
        )
