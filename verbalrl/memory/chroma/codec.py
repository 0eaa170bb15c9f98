"""How records are laid out in chromadb: one row per record.

In scope: turning a record into (id, document, metadata) and back, and
chromadb's embeddings as numpy rows. The whole record is kept as JSON in the
`record` metadata field (chromadb metadata are flat scalars); the fields
recall and eviction filter on (task, status, problem key, utility, last
seen, strength) are copied next to it. A row without it (added by another
chromadb client) is foreign: reads skip it with a warning, `get` of its id
raises `MemoryCorruptError` naming it. Left out: embeddings (the store
computes them), the collections themselves, and the record kinds
(`memory/kinds.py`, shared by every backend).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, TypeAlias

import numpy as np
from pydantic import ValidationError

from ..errors import MemoryCorruptError
from ..kinds import Kind, Record, model_for
from ..records import Experience, Reflection

Metadata: TypeAlias = dict[str, str | int | float | bool]
log = logging.getLogger(__name__)
_WARNED: set[str] = set()


def to_row(record: Record) -> tuple[str, str, Metadata]:
    """(id, document, metadata) for a chromadb write."""
    meta: Metadata = {"record": record.model_dump_json()}
    if isinstance(record, Experience):
        meta |= {
            "task": record.task,
            "status": record.status,
            "problem_key": record.problem_key,
            "utility": record.utility,
            "last_seen": record.seen_at.timestamp(),
        }
        return record.id, record.problem, meta
    if isinstance(record, Reflection):
        meta |= {
            "task": record.task,
            "problem_key": record.problem_key,
            "utility": record.utility,
            "last_seen": record.seen_at.timestamp(),
        }
        return record.id, record.text, meta
    meta |= {"task": record.task, "strength": record.strength}
    return record.id, record.text, meta


def is_ours(meta: Mapping[str, Any] | None) -> bool:
    """Whether a row was written by verbalrl (it carries the record); rows added by other
    chromadb clients to these collections are foreign: reads skip them (`foreign`)."""
    return isinstance(meta, Mapping) and isinstance(meta.get("record"), str)


def foreign(record_id: str, kind: Kind) -> None:
    """Warn (once per row) that a row is not verbalrl's and is left out."""
    if record_id not in _WARNED:
        _WARNED.add(record_id)
        log.warning(
            "memory: row %r of the %s collection was not written by verbalrl (no `record` metadata); "
            "it is left out of reads", record_id, kind,
        )


def from_metadata(kind: Kind, meta: Mapping[str, Any], record_id: str = "?") -> Record:
    """The record stored in a row's metadata; `MemoryCorruptError` naming the row if it holds none."""
    if not is_ours(meta):
        raise MemoryCorruptError(
            f"row {record_id!r} of the {kind} collection was not written by verbalrl (no `record` metadata)"
        )
    try:
        return model_for(kind).model_validate_json(meta["record"])
    except ValidationError as exc:
        raise MemoryCorruptError(f"row {record_id!r} of the {kind} collection is malformed: {exc}") from None


def as_rows(embeddings: Any) -> list[np.ndarray]:
    """chromadb's embeddings (list or array, possibly None) as float32 rows."""
    if embeddings is None:
        return []
    return [np.asarray(e, dtype=np.float32) for e in embeddings]
