"""`ChromaMemory`'s writes: batched idempotent upserts, near-duplicate merging, caps, import.

In scope: looking up what a write batch may match in chromadb (the batch's
ids, and one batched nearest-neighbour query), writing the plan
`dedupe.plan_batch` makes, per-task caps (counted by a `where` query, once
per task in a locked folder; evicted in `caps.py`'s order), `prune`, and
`put_records` (an import: records as given, no merging). Left out: the rules themselves (`memory/dedupe.py`,
`memory/caps.py`, `memory/concepts.py`, `memory/ingest.py`), which every
backend shares.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any, Literal, TypeVar, cast

import numpy as np

from .. import ingest
from ..caps import CapRow, eviction_victims, over_cap
from ..concepts import strongest
from ..dedupe import NEIGHBOURS, plan_batch
from ..kinds import KINDS, Kind, Record, embed_text, kind_of
from ..records import Concept, Experience, Reflection
from .base import ChromaBase, writes
from .codec import as_rows, foreign, from_metadata, is_ours

log = logging.getLogger(__name__)

R = TypeVar("R", Experience, Reflection)
_DELETE_CHUNK = 5_000


class ChromaWrites(ChromaBase):
    """The writing half of `ChromaMemory`."""

    def add_experience(self, experience: Experience) -> str:
        """Store one experience; return the id it lives under (a merged-into id for a near-dup)."""
        return self.add_experiences([experience])[0]

    @writes
    def add_experiences(self, experiences: Iterable[Experience]) -> list[str]:
        """Store many experiences in batches; ids are returned in input order.

        A failure (or any experience) with a `reflection` also stores that
        lesson as a `Reflection`.
        """
        return ingest.add_experiences(
            experiences,
            self.config.batch_size,
            self._write_batch,  # type: ignore[arg-type]
            self._schedule,
        )

    def add_reflection(self, reflection: Reflection) -> str:
        """Store one lesson; return the id it lives under."""
        return self.add_reflections([reflection])[0]

    @writes
    def add_reflections(self, reflections: Iterable[Reflection]) -> list[str]:
        """Store many lessons in batches; ids in input order."""
        return ingest.add_reflections(reflections, self.config.batch_size, self._write_batch)  # type: ignore[arg-type]

    def _existing(
        self, kind: Kind, records: Sequence[R], vectors: np.ndarray
    ) -> tuple[dict[str, tuple[R, np.ndarray]], list[list[tuple[str, float]]]]:
        """Stored records that may match the batch: by id, and by nearest neighbour."""
        col = self._col(kind)
        found: dict[str, tuple[R, np.ndarray]] = {}
        neighbours: list[list[tuple[str, float]]] = [[] for _ in records]
        got = col.get(ids=list({r.id for r in records}), include=["metadatas", "embeddings"])
        for rid, meta, emb in zip(
            got["ids"], got["metadatas"] or [], as_rows(got["embeddings"]), strict=True
        ):
            if is_ours(meta):
                found[rid] = (cast(R, from_metadata(kind, meta, rid)), emb)
        if self.config.dedupe_threshold is None:
            return found, neighbours
        res = col.query(
            query_embeddings=vectors,
            n_results=NEIGHBOURS,
            include=["metadatas", "embeddings", "distances"],
        )
        for i in range(len(records)):
            ids, metas = res["ids"][i], (res["metadatas"] or [[]])[i]
            dists, embs = (res["distances"] or [[]])[i], as_rows((res["embeddings"] or [[]])[i])
            for rid, meta, dist, emb in zip(ids, metas, dists, embs, strict=True):
                if not is_ours(meta):
                    foreign(rid, kind)
                    continue
                if rid not in found:
                    found[rid] = (cast(R, from_metadata(kind, meta, rid)), emb)
                neighbours[i].append((rid, 1.0 - float(dist)))
        return found, neighbours

    def _write_batch(
        self, kind: Literal["experience", "reflection"], records: Sequence[R]
    ) -> tuple[list[str], list[bool]]:
        """Write one batch; return (stored id per record, whether the record changed the store).

        A record changes the store when it is new or merges into a stored one;
        re-sending known content (same id, or an alias of a merged record) does not.
        """
        if not records:
            return [], []
        vectors = self.embedder.embed([embed_text(r) for r in records])
        found, neighbours = self._existing(kind, records, vectors)
        plan = plan_batch(records, vectors, found, neighbours, self.config.dedupe_threshold)
        try:
            self._upsert(kind, list(plan.writes.values()))
        except BaseException:
            # Some chunks may be stored and a re-sent batch finds them known (not new): forget
            # the cached counts of the batch's tasks, so the next cap check counts in chromadb.
            for task in {record.task for record in records}:
                self._counts.pop((kind, task), None)
            raise
        added: dict[str, int] = {}
        for rid in plan.new_ids:
            task = plan.writes[rid][0].task
            added[task] = added.get(task, 0) + 1
        for task, n in added.items():
            if (kind, task) in self._counts:
                self._counts[(kind, task)] += n
            self._enforce_cap(kind, task)
        return plan.ids, plan.changed

    # ------------------------------------------------------------ caps
    def _task_count(self, kind: Kind, task: str) -> int:
        """How many records of `task` the collection holds.

        Counting is a metadata scan in chromadb (a `where` query returning every id of the
        task), so a locked folder (this process the only writer) counts once per task and then
        keeps the count up to date on every add and eviction; a server is counted each time.
        """
        key = (kind, task)
        if key not in self._counts or self._opened.lock is None:
            got = self._col(kind).get(where={"task": task}, include=[])
            self._counts[key] = len(got["ids"])
        return self._counts[key]

    def _enforce_cap(self, kind: Kind, task: str, cap: int | None = None) -> int:
        """Evict the least useful, then oldest, records of `task` above the cap; return how many."""
        cap = cap if cap is not None else self.config.max_per_task
        if cap is None or kind == "concept":
            return 0
        if self._opened.lock is None and not over_cap(self._col(kind).count(), cap):
            return 0  # a server whose whole collection is within the cap: no task can be over it
        if not over_cap(self._task_count(kind, task), cap):
            return 0
        col = self._col(kind)
        got = col.get(where={"task": task}, include=["metadatas"])
        rows = [
            CapRow(rid, float(meta.get("utility", 0.0)), float(meta.get("last_seen", 0.0)))  # type: ignore[arg-type]
            for rid, meta in zip(got["ids"], got["metadatas"] or [], strict=True)
        ]
        victims = eviction_victims(rows, cap, self.config.evict_fraction)
        for start in range(0, len(victims), _DELETE_CHUNK):
            col.delete(ids=victims[start : start + _DELETE_CHUNK])
        self._counts[(kind, task)] = len(rows) - len(victims)
        if victims:
            log.info("memory: evicted %d %s records of task %s (cap %d)", len(victims), kind, task, cap)
        return len(victims)

    def _cap_concepts(self, task: str) -> None:
        """Delete the weakest (then oldest) concepts of `task` beyond `config.max_concepts`."""
        col = self._col("concept")
        got = col.get(where={"task": task}, include=["metadatas"])
        if len(got["ids"]) > self.config.max_concepts:
            rows = zip(got["ids"], got["metadatas"] or [], strict=True)
            stored = [cast(Concept, from_metadata("concept", m, rid)) for rid, m in rows if is_ours(m)]
            keep = {c.id for c in strongest(stored, self.config.max_concepts)}
            col.delete(ids=[c.id for c in stored if c.id not in keep])

    @writes
    def prune(self, max_per_task: int | None = None) -> dict[str, int]:
        """Apply the per-task cap now (optionally a smaller one) and drop zero-strength concepts.

        Returns how many records of each kind were removed.
        """
        removed: dict[str, int] = {kind: 0 for kind in KINDS}
        for kind in ("experience", "reflection"):
            for task in self.tasks(kind):
                removed[kind] += self._enforce_cap(kind, task, max_per_task or self.config.max_per_task)
        # The same rule as `concepts.is_dead`, as a chromadb filter.
        weak_filter: Any = {"strength": {"$lte": 0}}
        weak = self._col("concept").get(where=weak_filter, include=[])["ids"]
        if weak:
            self._col("concept").delete(ids=weak)
        removed["concept"] = len(weak)
        return removed

    # ---------------------------------------------------- raw writes (import)
    @writes
    def put_records(self, records: Sequence[Record]) -> int:
        """Store records exactly as given (ids, counts kept; no merging), re-embedded.

        This is how an import restores a backup. Caps are applied afterwards.
        """
        by_id: dict[Kind, dict[str, Any]] = {kind: {} for kind in KINDS}
        for record in records:
            by_id[kind_of(record)][record.id] = record  # a repeated id (a duplicated line): the last wins
        for kind, unique in by_id.items():
            items = list(unique.values())
            for start in range(0, len(items), self.config.batch_size):
                chunk = items[start : start + self.config.batch_size]
                vectors = self.embedder.embed([embed_text(r) for r in chunk])
                self._upsert(kind, list(zip(chunk, vectors, strict=True)))
            self._counts = {key: n for key, n in self._counts.items() if key[0] != kind}
            for task in {r.task for r in items}:
                if kind == "concept":
                    self._cap_concepts(task)
                else:
                    self._enforce_cap(kind, task)
        return len(records)
