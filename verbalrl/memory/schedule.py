"""When concepts are distilled, and from which experiences.

In scope: counting the experiences stored per task since the last
distillation (only writes that changed the store count: a re-sent copy does
not), remembering the last `RECENT` of them as the default distillation
batch, and one distillation run: current concepts + batch -> LLM edit ->
the task's new concepts. Left out: the prompt and parser (`distill.py`) and
how a backend stores concepts (its `replace_concepts`).

The schedule lives in the store object, so it is per process: two processes
sharing a server each distil on their own count.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Sequence
from typing import Protocol

from ..llm.base import LLM
from .distill import DistillConfig, DistillResult, distill
from .records import Concept, Experience

RECENT = 1_000


class ConceptStore(Protocol):
    """What a distillation run needs from a store."""

    def concepts(self, task: str | None = None) -> list[Concept]: ...

    def replace_concepts(self, task: str, concepts: Sequence[Concept]) -> None: ...


class DistillSchedule:
    """Per-task count of new experiences, and the recent ones to distil from."""

    def __init__(self, recent: int = RECENT) -> None:
        self.recent: deque[Experience] = deque(maxlen=recent)
        self.since: Counter[str] = Counter()  # new experiences per task since the last run

    def note(self, experiences: Iterable[Experience]) -> None:
        """Count experiences that changed the store."""
        for exp in experiences:
            self.recent.append(exp)
            self.since[exp.task] += 1

    def due(self, task: str, every: int) -> bool:
        """Whether at least `every` (> 0) new experiences of `task` arrived since the last run."""
        return every > 0 and self.since[task] >= every

    def batch(self, task: str) -> list[Experience]:
        """The remembered new experiences of `task`."""
        return [e for e in self.recent if e.task == task]

    def done(self, task: str, *, consumed_recent: bool) -> None:
        """Reset `task`'s count; forget its remembered experiences when they were the batch."""
        self.since[task] = 0
        if consumed_recent:
            kept = [e for e in self.recent if e.task != task]
            self.recent.clear()
            self.recent.extend(kept)


def run_distill(
    store: ConceptStore,
    schedule: DistillSchedule,
    llm: LLM,
    task: str,
    experiences: Sequence[Experience] | None,
    config: DistillConfig,
) -> DistillResult:
    """Update `task`'s concepts from `experiences` (default: those added since the last run)."""
    batch = list(experiences) if experiences is not None else schedule.batch(task)
    current = [c for c in store.concepts(task) if c.task == task]
    result = distill(llm, batch, current, config=config, task=task)
    store.replace_concepts(task, result.concepts)
    schedule.done(task, consumed_recent=experiences is None)
    return result
