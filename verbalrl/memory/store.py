"""`MemoryStore`: the protocol graphs and agents program against.

In scope: the few methods a graph needs (store experiences and lessons,
recall for a problem, distil concepts on a schedule, close). `ChromaMemory`
implements it; a test double or another vector database can too. Left out:
administration (stats, export, prune), which is specific to `ChromaMemory`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from ..llm.base import LLM
from .context import MemoryContext
from .distill import DistillConfig, DistillResult
from .records import Experience, Reflection


@runtime_checkable
class MemoryStore(Protocol):
    """A memory of experiences, lessons and concepts that recalls by problem similarity."""

    def add_experience(self, experience: Experience) -> str:
        """Store one experience (idempotent); return the id it is stored under."""
        ...

    def add_experiences(self, experiences: Iterable[Experience]) -> list[str]:
        """Store many experiences in batches; ids in input order."""
        ...

    def add_reflection(self, reflection: Reflection) -> str:
        """Store one lesson; return the id it is stored under."""
        ...

    def recall(
        self,
        problem: str,
        task: str | None = None,
        k: int = 3,
        *,
        k_failures: int | None = None,
        k_reflections: int | None = None,
        k_concepts: int | None = None,
        exclude_problem: bool = False,
    ) -> MemoryContext:
        """Exemplars, failures, lessons and concepts relevant to `problem`."""
        ...

    def maybe_distill(
        self, llm: LLM, task: str, every: int, config: DistillConfig | None = None
    ) -> DistillResult | None:
        """Distil concepts when `every` experiences were stored since the last time."""
        ...

    def close(self) -> None:
        """Release resources (locks, clients)."""
        ...
