"""Which stored record each record of a write batch lands in: itself, a merge, or a no-op.

In scope: the rule every backend applies to a batch, given the records
already stored under the batch's ids and the stored nearest neighbours of
each new record. A record whose id is known (the same content, or an alias
of a record merged before) is an idempotent no-op; otherwise it merges into
the most similar stored or earlier-in-batch record that `merge.py` calls the
same; otherwise it is new. Left out: finding the stored records and
neighbours, and writing the plan (each backend does both, in batches), and
the near-duplicate test itself (`merge.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np

from .merge import already_merged, merge_experience, merge_reflection, same_experience, same_reflection
from .records import Experience, Reflection

R = TypeVar("R", Experience, Reflection)
# Nearest neighbours inspected per new record when looking for a near-duplicate:
# records of another status or task can crowd the top few, so look past them.
NEIGHBOURS = 10


@dataclass
class BatchPlan(Generic[R]):
    """What to write for one batch, and what each input record became."""

    #: Records to upsert (new or merged) with the vector to store, by id.
    writes: dict[str, tuple[R, np.ndarray]] = field(default_factory=dict)
    #: Ids of the records that are new to the store, in batch order.
    new_ids: list[str] = field(default_factory=list)
    #: Per input record: the id it is stored under.
    ids: list[str] = field(default_factory=list)
    #: Per input record: whether it changed the store (new, or merged into a record).
    changed: list[bool] = field(default_factory=list)


def plan_batch(
    records: Sequence[R],
    vectors: np.ndarray,
    found: Mapping[str, tuple[R, np.ndarray]],
    neighbours: Sequence[Sequence[tuple[str, float]]],
    threshold: float | None,
) -> BatchPlan[R]:
    """The writes of one batch of experiences or reflections (all of one kind).

    `found` holds the stored records under the batch's ids and the
    neighbours' ids, with their stored vectors; `neighbours[i]` lists
    (id, cosine) of record i's stored nearest neighbours. `threshold` None
    turns merging off (exact copies stay idempotent).
    """
    plan: BatchPlan[R] = BatchPlan()
    new_index: dict[str, int] = {}  # id of a new record -> its row in the batch
    within = vectors @ vectors.T
    for i, record in enumerate(records):
        target: str | None = None
        merged_now = False
        if record.id in plan.writes or record.id in found:
            target = record.id  # the very same content: an idempotent no-op
        elif threshold is not None:
            candidates = list(neighbours[i]) + [(rid, float(within[i, j])) for rid, j in new_index.items()]
            for rid, sim in sorted(candidates, key=lambda c: -c[1]):
                kept, vec = plan.writes.get(rid) or found[rid]
                if already_merged(kept, record):
                    target = rid
                    break
                if _same(kept, record, sim, threshold):
                    merged = _merge(kept, record)
                    if merged.problem == record.problem and merged.problem != kept.problem:
                        vec = vectors[i]  # the record now shows the newcomer's problem
                    plan.writes[rid] = (merged, vec)
                    target, merged_now = rid, True
                    break
        if target is None:
            plan.writes[record.id] = (record, vectors[i])
            new_index[record.id] = i
            target = record.id
        plan.ids.append(target)
        plan.changed.append(merged_now or (target == record.id and new_index.get(record.id) == i))
    plan.new_ids = list(new_index)
    return plan


def _same(kept: R, record: R, sim: float, threshold: float) -> bool:
    if isinstance(kept, Experience) and isinstance(record, Experience):
        return same_experience(kept, record, sim, threshold)
    if isinstance(kept, Reflection) and isinstance(record, Reflection):
        return same_reflection(kept, record, sim, threshold)
    return False


def _merge(kept: R, record: R) -> R:
    if isinstance(kept, Experience) and isinstance(record, Experience):
        return merge_experience(kept, record)
    assert isinstance(kept, Reflection) and isinstance(record, Reflection)
    return merge_reflection(kept, record)
