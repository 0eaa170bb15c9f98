"""How a stream of experiences and lessons becomes write batches.

In scope: cutting the input into batches of `batch_size`, the lesson an
experience carries (stored as a `Reflection` next to it), and which writes
count toward the distillation schedule (only those that changed the
store). Left out: writing one batch (each backend, with `dedupe.plan_batch`)
and the schedule itself (`schedule.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Literal, TypeAlias

from .records import Experience, Reflection
from .schedule import DistillSchedule

#: Writes one batch of one kind; returns (stored id per record, whether each changed the store).
WriteBatch: TypeAlias = Callable[
    [Literal["experience", "reflection"], Sequence[Experience] | Sequence[Reflection]],
    tuple[list[str], list[bool]],
]


def lessons_of(batch: Sequence[Experience], stored_ids: Sequence[str]) -> list[Reflection]:
    """The `Reflection` each experience with a `reflection` carries, pointing at its stored id.

    Also for a merged experience (its lesson may differ from the kept one's)
    and for known content: a process killed between the two writes stored the
    experience but not its lesson, and a resumed run re-sends both. A known
    lesson is a no-op.
    """
    return [
        Reflection(
            task=exp.task,
            problem=exp.problem,
            text=exp.reflection,
            experience_id=stored_id,
            provenance=exp.provenance,
            created_at=exp.created_at,
        )
        for exp, stored_id in zip(batch, stored_ids, strict=True)
        if exp.reflection
    ]


def add_experiences(
    experiences: Iterable[Experience], batch_size: int, write: WriteBatch, schedule: DistillSchedule
) -> list[str]:
    """Store experiences (and their lessons) batch by batch; ids in input order."""
    items = list(experiences)
    ids: list[str] = []
    for start in range(0, len(items), batch_size):
        batch = items[start : start + batch_size]
        batch_ids, changed = write("experience", batch)
        ids.extend(batch_ids)
        lessons = lessons_of(batch, batch_ids)
        if lessons:
            write("reflection", lessons)
        schedule.note(exp for exp, new in zip(batch, changed, strict=True) if new)
    return ids


def add_reflections(reflections: Iterable[Reflection], batch_size: int, write: WriteBatch) -> list[str]:
    """Store lessons batch by batch; ids in input order."""
    items = list(reflections)
    ids: list[str] = []
    for start in range(0, len(items), batch_size):
        ids.extend(write("reflection", items[start : start + batch_size])[0])
    return ids
