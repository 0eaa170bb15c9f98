"""`ChromaMemory`'s concepts: listing, replacing, and distillation on a schedule.

In scope: reading a task's concepts back, replacing them after a
distillation run (delete the task's old rows, upsert the kept ones), and the
`distill` / `maybe_distill` entry points. Left out: which concepts a task
sees and keeps (`memory/concepts.py`), when to distil and from what
(`memory/schedule.py`), and the prompt and parser (`memory/distill.py`).
"""

from __future__ import annotations

from collections.abc import Sequence

from ...llm.base import LLM
from ..concepts import listing, to_keep
from ..distill import DistillConfig, DistillResult
from ..records import Concept, Experience
from ..schedule import run_distill
from .base import ChromaBase, writes


class ChromaConcepts(ChromaBase):
    """The concept part of `ChromaMemory`."""

    def concepts(self, task: str | None = None) -> list[Concept]:
        """Stored concepts of a task (and general ones), strongest first; all when task is None."""
        return listing((c for c in self.iter_records("concept") if isinstance(c, Concept)), task)

    @writes
    def replace_concepts(self, task: str, concepts: Sequence[Concept]) -> None:
        """Make `concepts` the stored concepts of `task` (others of the task are deleted).

        At most `config.max_concepts` are kept, the strongest; a repeated id is stored once.
        """
        col = self._col("concept")
        old = set(col.get(where={"task": task}, include=[])["ids"])
        keep = to_keep(concepts, self.config.max_concepts)
        gone = old - {c.id for c in keep}
        if gone:
            col.delete(ids=sorted(gone))
        if keep:
            vectors = self.embedder.embed([c.text for c in keep])
            self._upsert("concept", list(zip(keep, vectors, strict=True)))

    @writes
    def distill(
        self,
        llm: LLM,
        task: str,
        experiences: Sequence[Experience] | None = None,
        config: DistillConfig | None = None,
    ) -> DistillResult:
        """Update `task`'s concepts from `experiences` (default: those added since the last run)."""
        cfg = config or DistillConfig(max_concepts=self.config.max_concepts)
        return run_distill(self, self._schedule, llm, task, experiences, cfg)

    def maybe_distill(
        self, llm: LLM, task: str, every: int, config: DistillConfig | None = None
    ) -> DistillResult | None:
        """Distil when at least `every` new experiences were stored since the last run.

        Graphs call this after each stored experience; it returns None when it is
        not time yet. The counter is per `ChromaMemory` object (per process).
        """
        if not self._schedule.due(task, every):
            return None
        return self.distill(llm, task, config=config)
