"""Per-task caps on experiences and reflections: which records to evict.

In scope: the eviction order (least useful first, then least recently
seen) and how far below the cap eviction goes (`evict_fraction`, so it runs
rarely rather than on every write once a task is full). Left out: counting
and deleting (each backend), and the concept cap (`concepts.py`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from .records import Experience, Reflection


class CapRow(NamedTuple):
    """What eviction looks at: a record's id, its usefulness and when it was last seen (epoch s)."""

    id: str
    utility: float
    last_seen: float


def cap_row(record: Experience | Reflection) -> CapRow:
    """The eviction facts of a record (chromadb keeps the same two numbers in its metadata)."""
    return CapRow(record.id, record.utility, record.seen_at.timestamp())


def over_cap(count: int, cap: int | None) -> bool:
    """Whether a task holding `count` records must be evicted from."""
    return cap is not None and count > cap


def eviction_victims(rows: Sequence[CapRow], cap: int, evict_fraction: float) -> list[str]:
    """Ids to delete so that `rows` (one task's records) fall to `cap * (1 - evict_fraction)`."""
    ranked = sorted(rows, key=lambda row: (row.utility, row.last_seen))
    keep = math.floor(cap * (1.0 - evict_fraction)) or cap
    return [row.id for row in ranked[: max(0, len(ranked) - keep)]]
