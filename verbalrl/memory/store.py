"""`MemoryStore` and `RecordStore`: the protocols graphs, agents and tools program against.

In scope: `MemoryStore`, the few methods a graph needs (store experiences and
lessons, recall for a problem, distil concepts on a schedule, close), and
`RecordStore`, what administration and backup need on top (read records
back, restore them as given, count, prune, stats). `ChromaMemory` and
`InMemoryStore` implement both; another vector database can too, reusing
the rules in `dedupe.py`, `caps.py`, `recall.py`, `concepts.py` and
`schedule.py`. Left out: any backend.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

from ..llm.base import LLM
from .context import MemoryContext
from .distill import DistillConfig, DistillResult
from .embedding import Embedder
from .kinds import Kind, Record
from .records import Concept, Experience, Reflection


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


@runtime_checkable
class RecordStore(Protocol):
    """Reading records back and restoring them: what export, import and the CLI use."""

    @property
    def embedder(self) -> Embedder:
        """The embedder the store's vectors come from (recorded in exports)."""
        ...

    def get(self, record_id: str) -> Record | None:
        """The record with this id (of any kind), or None."""
        ...

    def count(self, kind: Kind = "experience") -> int:
        """How many records of a kind are stored."""
        ...

    def iter_records(self, kind: Kind, task: str | None = None, batch: int = 1_000) -> Iterator[Record]:
        """Every stored record of a kind (optionally of one task)."""
        ...

    def put_records(self, records: Sequence[Record]) -> int:
        """Store records exactly as given (no merging); caps are applied afterwards."""
        ...

    def concepts(self, task: str | None = None) -> list[Concept]:
        """A task's concepts and the general ones, strongest first (all when None)."""
        ...

    def prune(self, max_per_task: int | None = None) -> dict[str, int]:
        """Apply the caps now and drop dead concepts; removed records per kind."""
        ...

    def stats(self) -> dict[str, Any]:
        """Counts per kind, per task and status, and where the store lives."""
        ...
