"""How records are laid out in chromadb: one row per record.

In scope: turning a record into (id, document, metadata) and back, and
chromadb's embeddings as numpy rows. The whole record is kept as JSON in the
`record` metadata field (chromadb metadata are flat scalars); the fields
recall and eviction filter on (task, status, problem key, utility, last
seen, strength) are copied next to it. Left out: embeddings (the store
computes them), the collections themselves, and the record kinds
(`memory/kinds.py`, shared by every backend).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

import numpy as np

from ..kinds import Kind, Record, model_for
from ..records import Experience, Reflection

Metadata: TypeAlias = dict[str, str | int | float | bool]


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


def from_metadata(kind: Kind, meta: Mapping[str, Any]) -> Record:
    """The record stored in a row's metadata."""
    return model_for(kind).model_validate_json(meta["record"])


def as_rows(embeddings: Any) -> list[np.ndarray]:
    """chromadb's embeddings (list or array, possibly None) as float32 rows."""
    if embeddings is None:
        return []
    return [np.asarray(e, dtype=np.float32) for e in embeddings]
