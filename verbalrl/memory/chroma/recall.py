"""`ChromaMemory.recall`: the shared recall rules over chromadb's staged candidate search.

In scope: wiring `memory/recall.py` (sections, filters, MMR, query cache) to
`candidates.fetch_candidates` on this store's collections, with the query
stage counts kept in `query_counts`. Left out: the rules themselves, which
every backend shares.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..context import MemoryContext
from ..kinds import Kind
from ..recall import Candidate, recall_context, wanted
from .base import ChromaBase
from .candidates import fetch_candidates


class ChromaRecall(ChromaBase):
    """The recalling part of `ChromaMemory`."""

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
        """What memory knows that helps with `problem`.

        Returns up to `k` verified exemplars, `k_failures` failures (with their
        lessons), `k_reflections` further lessons and `k_concepts` concepts
        (each defaulting to `k`), chosen by relevance with MMR diversity and,
        for concepts, strength. `task=None` searches every task.
        `exclude_problem=True` leaves out records of this very problem (and
        any record at least `config.exclude_similarity` similar), so that an
        evaluation cannot read its own answer.
        """
        return recall_context(
            problem,
            task,
            wanted(k, k_failures, k_reflections, k_concepts),
            exclude_problem=exclude_problem,
            config=self.config,
            embed_query=self._embed_query,
            source=self._candidates,
        )

    def _candidates(
        self,
        kind: Kind,
        query: np.ndarray,
        *,
        tasks: set[str] | None,
        skip_key: str | None,
        want: dict[Any, int],
        n_fetch: int,
        exclude_similarity: float,
    ) -> dict[Any, list[Candidate]]:
        """Filtered candidates of one kind (see `candidates.fetch_candidates`)."""
        return fetch_candidates(
            self._col(kind),
            kind,
            query,
            tasks=tasks,
            skip_key=skip_key,
            want=want,
            n_fetch=n_fetch,
            exclude_similarity=exclude_similarity,
            counts=self.query_counts,
        )
