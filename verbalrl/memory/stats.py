"""What a store's `stats()` reports, the same for every backend.

In scope: the summary dict (location, embedder, counts per kind, and per
task the number of experiences of each status). Left out: where the counts
come from (each backend).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .kinds import Kind, Record
from .records import Experience


def store_stats(
    location: str, embedder: str, counts: Mapping[Kind, int], experiences: Iterable[Record]
) -> dict[str, Any]:
    """The `stats()` dict of a store holding `experiences` and `counts` records per kind."""
    per_task: dict[str, dict[str, int]] = {}
    for exp in experiences:
        assert isinstance(exp, Experience)
        row = per_task.setdefault(exp.task, {"exemplar": 0, "failure": 0, "unverified": 0})
        row[exp.status] += 1
    return {
        "location": location,
        "embedder": embedder,
        "experiences": counts["experience"],
        "reflections": counts["reflection"],
        "concepts": counts["concept"],
        "by_task": per_task,
    }
