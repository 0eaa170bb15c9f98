"""Retries of chromadb calls that fail transiently under concurrent writers.

In scope: a thin proxy around a chromadb `Collection` that retries a call
raising chromadb's `InternalError` a few times with a growing pause. A
`chroma run` server shared by several writer processes answers, now and
then, "Error creating hnsw segment reader: Nothing found on disk" while it
flushes a segment (chroma-core/chroma#4212); the same call succeeds a moment
later. Every memory write is an idempotent upsert by content id, so running
one again is safe. Left out: any other error (bad arguments, a dead server),
which is raised at once.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from chromadb.api.models.Collection import Collection
from chromadb.errors import InternalError

log = logging.getLogger(__name__)

ATTEMPTS = 6
FIRST_PAUSE_S = 0.05


class RetryingCollection:
    """Forwards to a `Collection`; get/query/upsert/delete/count retry on `InternalError`."""

    _RETRIED = frozenset({"get", "query", "upsert", "add", "delete", "count"})

    def __init__(self, collection: Collection) -> None:
        self._collection = collection

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._collection, name)
        if name not in self._RETRIED:
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            pause = FIRST_PAUSE_S
            for attempt in range(1, ATTEMPTS + 1):
                try:
                    return attr(*args, **kwargs)
                except InternalError as exc:
                    if attempt == ATTEMPTS:
                        raise
                    log.warning("chromadb %s failed (%s); retry %d/%d", name, exc, attempt, ATTEMPTS - 1)
                    time.sleep(pause)
                    pause *= 2
            raise AssertionError("unreachable")

        return call
