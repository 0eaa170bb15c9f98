"""`InMemoryStore`: memory in this process's RAM, with the same rules as `ChromaMemory`.

In scope: numpy vectors per record kind, exact (brute-force) nearest
neighbours, and the shared rules: content-addressed idempotent writes and
near-duplicate merging (`dedupe.py`), per-task caps (`caps.py`), recall
(`recall.py`), concept strength (`concepts.py`) and the distillation
schedule (`schedule.py`). It implements `MemoryStore` and `RecordStore`.
Left out: persistence (everything is gone when the object is; use
`export_jsonl` to keep it), sharing between processes, and any index (a
search scans every record of its kind, fine for thousands, not millions).

Use it for tests, notebooks and short runs that should not touch disk:

    memory = InMemoryStore(embedder="hash:128")
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Literal, TypeVar, cast

import numpy as np

from ..llm.base import LLM
from . import ingest
from .caps import cap_row, eviction_victims, over_cap
from .concepts import is_dead, listing, strongest, to_keep
from .config import MemoryConfig
from .context import MemoryContext
from .dedupe import NEIGHBOURS, plan_batch
from .distill import DistillConfig, DistillResult
from .embedding import Embedder, EmbedderSpec, resolve_embedder
from .kinds import KINDS, Kind, Record, embed_text, kind_of
from .recall import Candidate, QueryCache, admits, group_of, recall_context, wanted
from .records import Concept, Experience, Reflection
from .schedule import DistillSchedule, run_distill
from .stats import store_stats

R = TypeVar("R", Experience, Reflection)
LOCATION = "in-memory"


class _Table:
    """One kind's records and their unit vectors; the matrix is rebuilt lazily after writes."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[Record, np.ndarray]] = {}
        self._matrix: tuple[list[str], np.ndarray] | None = None

    def upsert(self, rows: Iterable[tuple[Record, np.ndarray]]) -> None:
        for record, vector in rows:
            self.rows[record.id] = (record, np.asarray(vector, dtype=np.float32))
        self._matrix = None

    def delete(self, ids: Iterable[str]) -> None:
        for rid in ids:
            self.rows.pop(rid, None)
        self._matrix = None

    def nearest(self, queries: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
        """(ids, cosine similarities of each query to each row, row order best first per query)."""
        if self._matrix is None:
            ids = list(self.rows)
            dim = queries.shape[1]
            vectors = np.stack([v for _, v in self.rows.values()]) if ids else np.zeros((0, dim), np.float32)
            self._matrix = (ids, vectors)
        ids, vectors = self._matrix
        sims = queries @ vectors.T
        return ids, sims, np.argsort(-sims, axis=1, kind="stable")


class InMemoryStore:
    """Vector memory held in this process (see the module docstring).

    `config` supplies the rules (dedupe threshold, caps, recall and render
    settings; its path and server fields are ignored); `embedder` is anything
    `resolve_embedder` takes, or None for `config.embedder`.
    """

    def __init__(self, *, config: MemoryConfig | None = None, embedder: EmbedderSpec = None) -> None:
        self.config = config or MemoryConfig()
        self.embedder: Embedder = resolve_embedder(embedder if embedder is not None else self.config.embedder)
        self._tables: dict[Kind, _Table] | None = {kind: _Table() for kind in KINDS}
        self._schedule = DistillSchedule()
        self._lock = threading.RLock()  # merging reads then writes: one batch at a time
        self._embed_query = QueryCache(self.embedder)

    # ----------------------------------------------------------------- life
    @property
    def location(self) -> str:
        """Where the records live: this process."""
        return LOCATION

    def _table(self, kind: Kind) -> _Table:
        if self._tables is None:
            raise RuntimeError("this InMemoryStore is closed")
        return self._tables[kind]

    def close(self) -> None:
        """Drop every record (idempotent); the store cannot be used afterwards."""
        self._tables = None

    def __enter__(self) -> InMemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- writes
    def add_experience(self, experience: Experience) -> str:
        """Store one experience; return the id it lives under (a merged-into id for a near-dup)."""
        return self.add_experiences([experience])[0]

    def add_experiences(self, experiences: Iterable[Experience]) -> list[str]:
        """Store many experiences (and the lessons they carry); ids in input order."""
        with self._lock:
            return ingest.add_experiences(
                experiences,
                self.config.batch_size,
                self._write_batch,  # type: ignore[arg-type]
                self._schedule,
            )

    def add_reflection(self, reflection: Reflection) -> str:
        """Store one lesson; return the id it lives under."""
        return self.add_reflections([reflection])[0]

    def add_reflections(self, reflections: Iterable[Reflection]) -> list[str]:
        """Store many lessons; ids in input order."""
        with self._lock:
            return ingest.add_reflections(reflections, self.config.batch_size, self._write_batch)  # type: ignore[arg-type]

    def _write_batch(
        self, kind: Literal["experience", "reflection"], records: Sequence[R]
    ) -> tuple[list[str], list[bool]]:
        """Write one batch; return (stored id per record, whether each changed the store)."""
        if not records:
            return [], []
        table = self._table(kind)
        vectors = self.embedder.embed([embed_text(r) for r in records])
        found = {r.id: cast(tuple[R, np.ndarray], table.rows[r.id]) for r in records if r.id in table.rows}
        neighbours: list[list[tuple[str, float]]] = [[] for _ in records]
        if self.config.dedupe_threshold is not None and table.rows:
            ids, sims, order = table.nearest(vectors)
            for i in range(len(records)):
                for j in order[i, :NEIGHBOURS]:
                    found.setdefault(ids[j], cast(tuple[R, np.ndarray], table.rows[ids[j]]))
                    neighbours[i].append((ids[j], float(sims[i, j])))
        plan = plan_batch(records, vectors, found, neighbours, self.config.dedupe_threshold)
        table.upsert(plan.writes.values())
        for task in dict.fromkeys(plan.writes[rid][0].task for rid in plan.new_ids):
            self._enforce_cap(kind, task)
        return plan.ids, plan.changed

    def _enforce_cap(self, kind: Kind, task: str, cap: int | None = None) -> int:
        """Evict the least useful, then oldest, records of `task` above the cap; return how many."""
        cap = cap if cap is not None else self.config.max_per_task
        if cap is None or kind == "concept":
            return 0
        table = self._table(kind)
        rows = [cap_row(r) for r, _ in table.rows.values() if r.task == task and not isinstance(r, Concept)]
        if not over_cap(len(rows), cap):
            return 0
        victims = eviction_victims(rows, cap, self.config.evict_fraction)
        table.delete(victims)
        return len(victims)

    def _cap_concepts(self, task: str) -> None:
        table = self._table("concept")
        stored = [c for c, _ in table.rows.values() if isinstance(c, Concept) and c.task == task]
        keep = {c.id for c in strongest(stored, self.config.max_concepts)}
        table.delete(c.id for c in stored if c.id not in keep)

    def prune(self, max_per_task: int | None = None) -> dict[str, int]:
        """Apply the per-task cap now (optionally a smaller one) and drop zero-strength concepts."""
        with self._lock:
            removed: dict[str, int] = {kind: 0 for kind in KINDS}
            for kind in ("experience", "reflection"):
                for task in self.tasks(kind):
                    removed[kind] += self._enforce_cap(kind, task, max_per_task or self.config.max_per_task)
            dead = [c.id for c in self.iter_records("concept") if isinstance(c, Concept) and is_dead(c)]
            self._table("concept").delete(dead)
            removed["concept"] = len(dead)
            return removed

    def put_records(self, records: Sequence[Record]) -> int:
        """Store records exactly as given (ids, counts kept; no merging), re-embedded; caps after."""
        with self._lock:
            by_id: dict[Kind, dict[str, Record]] = {kind: {} for kind in KINDS}
            for record in records:
                by_id[kind_of(record)][record.id] = record  # a repeated id: the last wins
            for kind, unique in by_id.items():
                items = list(unique.values())
                if items:
                    vectors = self.embedder.embed([embed_text(r) for r in items])
                    self._table(kind).upsert(zip(items, vectors, strict=True))
                for task in dict.fromkeys(r.task for r in items):
                    if kind == "concept":
                        self._cap_concepts(task)
                    else:
                        self._enforce_cap(kind, task)
            return len(records)

    # ----------------------------------------------------------------- recall
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
        """What memory knows that helps with `problem` (the same rules as `ChromaMemory.recall`)."""
        with self._lock:
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
        """The `n_fetch` best admitted records of each wanted group (an exact search)."""
        groups: dict[Any, list[Candidate]] = {g: [] for g in want}
        table = self._table(kind)
        if not table.rows:
            return groups
        ids, sims, order = table.nearest(query[None, :])
        for j in order[0]:
            record, vector = table.rows[ids[j]]
            sim = float(sims[0, j])
            key = getattr(record, "problem_key", None)
            if not admits(
                record.task, key, sim, tasks=tasks, skip_key=skip_key, exclude_similarity=exclude_similarity
            ):
                continue
            group = groups.get(group_of(kind, getattr(record, "status", None)))
            if group is not None and len(group) < n_fetch:
                group.append((record, vector, sim))
        return groups

    # ------------------------------------------------------------------ reads
    def get(self, record_id: str) -> Record | None:
        """The record with this id (of any kind), or None."""
        with self._lock:
            for kind in KINDS:
                row = self._table(kind).rows.get(record_id)
                if row is not None:
                    return row[0]
            return None

    def count(self, kind: Kind = "experience") -> int:
        """How many records of a kind are stored."""
        return len(self._table(kind).rows)

    def iter_records(self, kind: Kind, task: str | None = None, batch: int = 1_000) -> Iterator[Record]:
        """Every stored record of a kind (optionally of one task), in insertion order."""
        with self._lock:
            records = [r for r, _ in self._table(kind).rows.values() if task is None or r.task == task]
        return iter(records)

    def tasks(self, kind: Kind = "experience") -> list[str]:
        """The distinct tasks that have records of this kind."""
        return sorted({r.task for r in self.iter_records(kind)})

    def stats(self) -> dict[str, Any]:
        """Counts per kind, per task and per status, and where the store lives."""
        return store_stats(
            self.location,
            self.embedder.name,
            {kind: self.count(kind) for kind in KINDS},
            self.iter_records("experience"),
        )

    # ---------------------------------------------------------------- concepts
    def concepts(self, task: str | None = None) -> list[Concept]:
        """Stored concepts of a task (and general ones), strongest first; all when task is None."""
        return listing((c for c in self.iter_records("concept") if isinstance(c, Concept)), task)

    def replace_concepts(self, task: str, concepts: Sequence[Concept]) -> None:
        """Make `concepts` the stored concepts of `task`: at most `config.max_concepts`, the strongest."""
        with self._lock:
            table = self._table("concept")
            keep = to_keep(concepts, self.config.max_concepts)
            table.delete([c.id for c, _ in table.rows.values() if c.task == task])
            if keep:
                table.upsert(zip(keep, self.embedder.embed([c.text for c in keep]), strict=True))

    def distill(
        self,
        llm: LLM,
        task: str,
        experiences: Sequence[Experience] | None = None,
        config: DistillConfig | None = None,
    ) -> DistillResult:
        """Update `task`'s concepts from `experiences` (default: those added since the last run)."""
        with self._lock:
            cfg = config or DistillConfig(max_concepts=self.config.max_concepts)
            return run_distill(self, self._schedule, llm, task, experiences, cfg)

    def maybe_distill(
        self, llm: LLM, task: str, every: int, config: DistillConfig | None = None
    ) -> DistillResult | None:
        """Distil when at least `every` new experiences were stored since the last run."""
        if not self._schedule.due(task, every):
            return None
        return self.distill(llm, task, config=config)
