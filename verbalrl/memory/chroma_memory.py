"""`ChromaMemory`: the chromadb-backed store of experiences, reflections and concepts.

In scope: batched, idempotent writes (content-hash ids, upsert), merging of
near-duplicates found by one batched nearest-neighbour query per write batch,
per-task caps with eviction of the least useful then oldest records, recall
with relevance + diversity (MMR) and exclusion of the query's own problem,
reading records back, and distillation of concepts from stored experiences.
Left out: opening chromadb (`client.py`), the record layout (`codec.py`), the
merge rules (`merge.py`), candidate fetching (`candidates.py`), rendering
(`context.py`), the distillation prompt and parser (`distill.py`), JSONL
backup (`jsonl.py`).

Processes: an embedded store (a folder) admits one process at a time, which
holds an exclusive lock until `close()`; a second one gets
`MemoryLockedError`. Many processes share one memory through a `chroma run`
server: `ChromaMemory(host="127.0.0.1", port=8000)`. With several writers on a
server, writes stay idempotent and nothing is lost, but two writers may both
store a near-duplicate the other is writing at the same moment.

Recall fetches candidates without chromadb `where` filters (`candidates.py` says why).

Disk: caps bound the number of records, not the folder size. Evicted records
leave dead slots in chromadb's HNSW files, which neither deletes nor `chroma
vacuum` give back (measured in `benchmarks/memory.py`); to compact, export
to JSONL and import into a fresh folder.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

import numpy as np
from chromadb.api.models.Collection import Collection

from ..llm.base import LLM
from .candidates import Candidate, as_rows, fetch_candidates, pick, stack
from .client import OpenedStore, open_store
from .codec import KINDS, Kind, embed_text, from_metadata, kind_of, to_row
from .config import MemoryConfig
from .context import MemoryContext, Recalled, RecalledConcept, RecalledReflection
from .distill import DistillConfig, DistillResult, distill
from .embedding import Embedder, EmbedderSpec, resolve_embedder
from .merge import (
    already_merged,
    merge_experience,
    merge_reflection,
    same_experience,
    same_reflection,
)
from .mmr import mmr_select
from .records import GENERAL_TASK, Concept, Experience, Reflection
from .sanitize import MAX_PROBLEM_CHARS, clean_text, problem_key

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


def _writes(method: F) -> F:
    """Run a writing method under the store's write lock."""

    @functools.wraps(method)
    def locked(self: ChromaMemory, *args: Any, **kwargs: Any) -> Any:
        with self._write_lock:
            return method(self, *args, **kwargs)

    return cast(F, locked)


R = TypeVar("R", Experience, Reflection)
# Nearest neighbours inspected per new record when looking for a near-duplicate:
# records of another status or task can crowd the top few, so look past them.
_NEIGHBOURS = 10
_RECENT = 1_000
_QUERY_CACHE = 256


class ChromaMemory:
    """Vector memory on chromadb (see the module docstring for processes and costs).

    >>> with ChromaMemory("/tmp/mem") as memory:                       # doctest: +SKIP
    ...     memory.add_experience(Experience(task="gsm8k", problem=..., solution=...,
    ...                                      outcome="success", verified=True))
    ...     context = memory.recall(problem, task="gsm8k", k=3, exclude_problem=True)
    ...     prompt = context.render() + "\\n\\n" + problem

    `path` (a folder) or `host`/`port` (a server) override `config`; `embedder`
    is an `Embedder`, a sentence-transformers path or name, `'hash:<dim>'`, a
    function `texts -> vectors`, or None for `config.embedder` (default
    all-MiniLM-L6-v2, offline).
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        config: MemoryConfig | None = None,
        embedder: EmbedderSpec = None,
        host: str | None = None,
        port: int | None = None,
    ) -> None:
        config = config or MemoryConfig()
        update: dict[str, Any] = {}
        if path is not None:
            update |= {"path": Path(path), "host": None}
        if host is not None:
            update |= {"host": host, "path": None}
        if port is not None:
            update["port"] = port
        self.config = MemoryConfig.model_validate(config.model_dump() | update)
        self.embedder: Embedder = resolve_embedder(embedder if embedder is not None else self.config.embedder)
        self._store: OpenedStore | None = open_store(self.config, self.embedder)
        # Per-(kind, task) record counts, cached only where this process is the
        # single writer (a locked folder); a server is recounted each time.
        self._counts: dict[tuple[Kind, str], int] = {}
        self._recent: deque[Experience] = deque(maxlen=_RECENT)
        self._since_distill: Counter[str] = Counter()  # new experiences per task
        # Merging reads then writes: two threads of one process (a LangGraph
        # fan-out) must not interleave a batch, or both could add one record.
        self._write_lock = threading.RLock()
        #: How many recall queries ran at each stage (unfiltered, widened, filtered): a cost gauge.
        self.query_counts: Counter[str] = Counter()
        self._query_cache: dict[str, np.ndarray] = {}  # insertion-ordered: FIFO eviction

    # ----------------------------------------------------------------- life
    @property
    def location(self) -> str:
        """The folder or server URL this memory lives in."""
        return self._opened.location

    @property
    def _opened(self) -> OpenedStore:
        if self._store is None:
            raise RuntimeError("this ChromaMemory is closed")
        return self._store

    def _col(self, kind: Kind) -> Collection:
        return self._opened.collections[kind]

    def close(self) -> None:
        """Release chromadb and the folder lock (idempotent)."""
        if self._store is None:
            return
        store, self._store = self._store, None
        try:
            store.client.close()  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - closing must not mask the caller's error
            log.debug("chromadb client close failed", exc_info=True)
        finally:
            if store.lock is not None:
                store.lock.release()

    def __enter__(self) -> ChromaMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    # ---------------------------------------------------------------- writes
    def add_experience(self, experience: Experience) -> str:
        """Store one experience; return the id it lives under (a merged-into id for a near-dup)."""
        return self.add_experiences([experience])[0]

    @_writes
    def add_experiences(self, experiences: Iterable[Experience]) -> list[str]:
        """Store many experiences in batches; ids are returned in input order.

        A failure (or any experience) with a `reflection` also stores that
        lesson as a `Reflection`.
        """
        items = list(experiences)
        ids: list[str] = []
        for start in range(0, len(items), self.config.batch_size):
            batch = items[start : start + self.config.batch_size]
            batch_ids, changed = self._write_batch("experience", batch)
            ids.extend(batch_ids)
            lessons = [
                Reflection(
                    task=exp.task,
                    problem=exp.problem,
                    text=exp.reflection,
                    experience_id=stored_id,
                    provenance=exp.provenance,
                    created_at=exp.created_at,
                )
                # Also for a merged experience (its lesson may differ from the kept one's) and for
                # known content: a process killed between the two writes stored the experience but
                # not its lesson, and a resumed run re-sends both. A known lesson is a no-op.
                for exp, stored_id in zip(batch, batch_ids, strict=True)
                if exp.reflection
            ]
            if lessons:
                self._write_batch("reflection", lessons)
            for exp, new in zip(batch, changed, strict=True):
                if new:
                    self._recent.append(exp)
                    self._since_distill[exp.task] += 1
        return ids

    def add_reflection(self, reflection: Reflection) -> str:
        """Store one lesson; return the id it lives under."""
        return self.add_reflections([reflection])[0]

    @_writes
    def add_reflections(self, reflections: Iterable[Reflection]) -> list[str]:
        """Store many lessons in batches; ids in input order."""
        items = list(reflections)
        ids: list[str] = []
        for start in range(0, len(items), self.config.batch_size):
            ids.extend(self._write_batch("reflection", items[start : start + self.config.batch_size])[0])
        return ids

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
            found[rid] = (cast(R, from_metadata(kind, meta)), emb)
        if self.config.dedupe_threshold is None:
            return found, neighbours
        res = col.query(
            query_embeddings=vectors,
            n_results=_NEIGHBOURS,
            include=["metadatas", "embeddings", "distances"],
        )
        for i in range(len(records)):
            ids, metas = res["ids"][i], (res["metadatas"] or [[]])[i]
            dists, embs = (res["distances"] or [[]])[i], as_rows((res["embeddings"] or [[]])[i])
            for rid, meta, dist, emb in zip(ids, metas, dists, embs, strict=True):
                if rid not in found:
                    found[rid] = (cast(R, from_metadata(kind, meta)), emb)
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
        same = same_experience if kind == "experience" else same_reflection
        merge = merge_experience if kind == "experience" else merge_reflection
        threshold = self.config.dedupe_threshold
        vectors = self.embedder.embed([embed_text(r) for r in records])
        found, neighbours = self._existing(kind, records, vectors)
        within = vectors @ vectors.T
        pending: dict[str, tuple[R, np.ndarray]] = {}
        new_index: dict[str, int] = {}  # id of a new record -> its row in the batch
        out_ids: list[str] = []
        changed: list[bool] = []
        for i, record in enumerate(records):
            target: str | None = None
            merged_now = False
            current = pending.get(record.id) or found.get(record.id)
            if current is not None:
                target = record.id  # the very same content: an idempotent no-op
            elif threshold is not None:
                candidates = list(neighbours[i]) + [
                    (rid, float(within[i, j])) for rid, j in new_index.items()
                ]
                for rid, sim in sorted(candidates, key=lambda c: -c[1]):
                    kept, vec = pending.get(rid) or found[rid]
                    if already_merged(kept, record):
                        target = rid
                        break
                    if same(kept, record, sim, threshold):  # type: ignore[arg-type]
                        merged = merge(kept, record)  # type: ignore[arg-type]
                        if merged.problem == record.problem and merged.problem != kept.problem:
                            vec = vectors[i]  # the record now shows the newcomer's problem
                        pending[rid] = (merged, vec)  # type: ignore[assignment]
                        target, merged_now = rid, True
                        break
            if target is None:
                pending[record.id] = (record, vectors[i])
                new_index[record.id] = i
                target = record.id
            out_ids.append(target)
            is_new = target == record.id and new_index.get(record.id) == i
            changed.append(merged_now or is_new)
        self._upsert(kind, list(pending.values()))
        added: dict[str, int] = {}
        for rid in new_index:
            task = pending[rid][0].task
            added[task] = added.get(task, 0) + 1
        for task, n in added.items():
            if (kind, task) in self._counts:
                self._counts[(kind, task)] += n
            self._enforce_cap(kind, task)
        return out_ids, changed

    def _upsert(self, kind: Kind, rows: Sequence[tuple[Any, np.ndarray]]) -> None:
        if not rows:
            return
        col = self._col(kind)
        step = min(self.config.batch_size, self._opened.client.get_max_batch_size())
        for start in range(0, len(rows), step):
            chunk = rows[start : start + step]
            encoded = [to_row(record) for record, _ in chunk]
            col.upsert(
                ids=[e[0] for e in encoded],
                documents=[e[1] for e in encoded],
                metadatas=[e[2] for e in encoded],  # type: ignore[misc]
                embeddings=np.stack([vec for _, vec in chunk]),
            )

    # ------------------------------------------------------------ caps
    def _task_count(self, kind: Kind, task: str) -> int:
        key = (kind, task)
        if key not in self._counts or self._opened.lock is None:
            got = self._col(kind).get(where={"task": task}, include=[])
            self._counts[key] = len(got["ids"])
        return self._counts[key]

    def _enforce_cap(self, kind: Kind, task: str, cap: int | None = None) -> int:
        """Evict the least useful, then oldest, records of `task` above the cap; return how many."""
        cap = cap if cap is not None else self.config.max_per_task
        if cap is None or kind == "concept" or self._task_count(kind, task) <= cap:
            return 0
        col = self._col(kind)
        got = col.get(where={"task": task}, include=["metadatas"])
        rows = sorted(
            zip(got["ids"], got["metadatas"] or [], strict=True),
            key=lambda row: (
                float(cast(float, row[1].get("utility", 0.0))),
                float(cast(float, row[1].get("last_seen", 0.0))),
            ),
        )
        keep = math.floor(cap * (1.0 - self.config.evict_fraction)) or cap
        victims = [rid for rid, _ in rows[: max(0, len(rows) - keep)]]
        for start in range(0, len(victims), 5_000):
            col.delete(ids=victims[start : start + 5_000])
        self._counts[(kind, task)] = len(rows) - len(victims)
        if victims:
            log.info("memory: evicted %d %s records of task %s (cap %d)", len(victims), kind, task, cap)
        return len(victims)

    @_writes
    def prune(self, max_per_task: int | None = None) -> dict[str, int]:
        """Apply the per-task cap now (optionally a smaller one) and drop zero-strength concepts.

        Returns how many records of each kind were removed.
        """
        removed: dict[str, int] = {kind: 0 for kind in KINDS}
        for kind in ("experience", "reflection"):
            for task in self.tasks(kind):
                removed[kind] += self._enforce_cap(kind, task, max_per_task or self.config.max_per_task)
        weak_filter: Any = {"strength": {"$lte": 0}}
        weak = self._col("concept").get(where=weak_filter, include=[])["ids"]
        if weak:
            self._col("concept").delete(ids=weak)
        removed["concept"] = len(weak)
        return removed

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
        """What memory knows that helps with `problem`.

        Returns up to `k` verified exemplars, `k_failures` failures (with their
        lessons), `k_reflections` further lessons and `k_concepts` concepts
        (each defaulting to `k`), chosen by relevance with MMR diversity and,
        for concepts, strength. `task=None` searches every task.
        `exclude_problem=True` leaves out records of this very problem (and
        any record at least `config.exclude_similarity` similar), so that an
        evaluation cannot read its own answer.
        """
        text = clean_text(problem, field="problem", max_chars=MAX_PROBLEM_CHARS)
        want = {
            "exemplar": k,
            "failure": k if k_failures is None else k_failures,
            "reflection": k if k_reflections is None else k_reflections,
            "concept": k if k_concepts is None else k_concepts,
        }
        context = MemoryContext(
            problem=text,
            task=task,
            item_max_chars=self.config.item_max_chars,
            max_chars=self.config.render_max_chars,
        )
        if not text or max(want.values()) <= 0:
            return context
        query = self._embed_query(text)
        skip_key = problem_key(text) if exclude_problem else None
        lam = self.config.mmr_lambda

        groups = self._candidates(
            "experience",
            query,
            task,
            skip_key,
            {"exemplar": want["exemplar"], "failure": want["failure"]},
        )
        exemplars = pick(query, groups.get("exemplar", []), want["exemplar"], lam)
        failures = pick(query, groups.get("failure", []), want["failure"], lam)
        shown = {exp.id for exp, _, _ in failures} | {a for exp, _, _ in failures for a in exp.aliases}
        shown_text = {exp.reflection for exp, _, _ in failures if exp.reflection}

        lessons = [
            c
            for c in self._candidates("reflection", query, task, skip_key, {None: want["reflection"]}).get(
                None, []
            )
            if c[0].experience_id not in shown and c[0].text not in shown_text
        ]
        lessons = pick(query, lessons, want["reflection"], lam)

        concepts = self._candidates("concept", query, task, None, {None: want["concept"]}).get(None, [])
        bonus = np.array([self.config.strength_weight * math.log1p(c[0].strength) for c in concepts])
        order = (
            mmr_select(query, stack(concepts, len(query)), want["concept"], lam, bonus) if concepts else []
        )
        return context.model_copy(
            update={
                "exemplars": [Recalled(experience=r, similarity=s) for r, _, s in exemplars],
                "failures": [Recalled(experience=r, similarity=s) for r, _, s in failures],
                "reflections": [RecalledReflection(reflection=r, similarity=s) for r, _, s in lessons],
                "concepts": [
                    RecalledConcept(concept=concepts[i][0], similarity=concepts[i][2]) for i in order
                ],
            }
        )

    def _embed_query(self, text: str) -> np.ndarray:
        """The query's vector; the last few are cached because a graph often recalls
        for the same problem from several nodes (solver, critic, reviser)."""
        cached = self._query_cache.get(text)
        if cached is None:
            cached = self.embedder.embed([text])[0]
            cached.setflags(write=False)
            self._query_cache[text] = cached
            if len(self._query_cache) > _QUERY_CACHE:
                self._query_cache.pop(next(iter(self._query_cache)))
        return cached

    def _candidates(
        self, kind: Kind, query: np.ndarray, task: str | None, skip_key: str | None, want: dict[Any, int]
    ) -> dict[Any, list[Candidate]]:
        """Filtered candidates of one kind (see `candidates.fetch_candidates`)."""
        n_fetch = self.config.overfetch * max(max(want.values()), 1)
        if kind == "concept":
            n_fetch = max(n_fetch, self.config.max_concepts)  # concepts are few: see them all
        tasks = None if task is None else ({task, GENERAL_TASK} if kind == "concept" else {task})
        return fetch_candidates(
            self._col(kind),
            kind,
            query,
            tasks=tasks,
            skip_key=skip_key,
            want=want,
            n_fetch=n_fetch,
            exclude_similarity=self.config.exclude_similarity,
            counts=self.query_counts,
        )

    # ------------------------------------------------------------------ reads
    def get(self, record_id: str) -> Experience | Reflection | Concept | None:
        """The record with this id (of any kind), or None."""
        for kind in KINDS:
            got = self._col(kind).get(ids=[record_id], include=["metadatas"])
            if got["ids"]:
                return from_metadata(kind, (got["metadatas"] or [])[0])
        return None

    def count(self, kind: Kind = "experience") -> int:
        """How many records of a kind are stored."""
        return self._col(kind).count()

    def iter_records(
        self, kind: Kind, task: str | None = None, batch: int = 1_000
    ) -> Iterator[Experience | Reflection | Concept]:
        """Every stored record of a kind (optionally of one task), in pages."""
        col = self._col(kind)
        offset = 0
        where: Any = {"task": task} if task is not None else None
        while True:
            got = col.get(where=where, include=["metadatas"], limit=batch, offset=offset)
            if not got["ids"]:
                return
            for meta in got["metadatas"] or []:
                yield from_metadata(kind, meta)
            offset += len(got["ids"])

    def tasks(self, kind: Kind = "experience") -> list[str]:
        """The distinct tasks that have records of this kind."""
        found: set[str] = set()
        col, offset = self._col(kind), 0
        while True:
            got = col.get(include=["metadatas"], limit=5_000, offset=offset)
            if not got["ids"]:
                return sorted(found)
            found.update(str(m.get("task")) for m in got["metadatas"] or [])
            offset += len(got["ids"])

    def stats(self) -> dict[str, Any]:
        """Counts per kind, per task and per status, and where the store lives."""
        per_task: dict[str, dict[str, int]] = {}
        for exp in self.iter_records("experience"):
            assert isinstance(exp, Experience)
            row = per_task.setdefault(exp.task, {"exemplar": 0, "failure": 0, "unverified": 0})
            row[exp.status] += 1
        return {
            "location": self.location,
            "embedder": self.embedder.name,
            "experiences": self.count("experience"),
            "reflections": self.count("reflection"),
            "concepts": self.count("concept"),
            "by_task": per_task,
        }

    # ---------------------------------------------------- raw writes (import)
    @_writes
    def put_records(self, records: Sequence[Experience | Reflection | Concept]) -> int:
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

    # ---------------------------------------------------------------- concepts
    def concepts(self, task: str | None = None) -> list[Concept]:
        """Stored concepts of a task (and general ones), strongest first; all when task is None."""
        items = [c for c in self.iter_records("concept") if isinstance(c, Concept)]
        if task is not None:
            items = [c for c in items if c.task in (task, GENERAL_TASK)]
        return sorted(items, key=lambda c: (-c.strength, c.created_at))

    @_writes
    def replace_concepts(self, task: str, concepts: Sequence[Concept]) -> None:
        """Make `concepts` the stored concepts of `task` (others of the task are deleted).

        At most `config.max_concepts` are kept, the strongest; a repeated id is stored once.
        """
        col = self._col("concept")
        old = set(col.get(where={"task": task}, include=[])["ids"])
        keep = _strongest([c for c in concepts if c.strength > 0], self.config.max_concepts)
        gone = old - {c.id for c in keep}
        if gone:
            col.delete(ids=sorted(gone))
        if keep:
            vectors = self.embedder.embed([c.text for c in keep])
            self._upsert("concept", list(zip(keep, vectors, strict=True)))

    def _cap_concepts(self, task: str) -> None:
        """Delete the weakest (then oldest) concepts of `task` beyond `config.max_concepts`."""
        col = self._col("concept")
        got = col.get(where={"task": task}, include=["metadatas"])
        if len(got["ids"]) > self.config.max_concepts:
            stored = [cast(Concept, from_metadata("concept", m)) for m in got["metadatas"] or []]
            keep = {c.id for c in _strongest(stored, self.config.max_concepts)}
            col.delete(ids=[c.id for c in stored if c.id not in keep])

    @_writes
    def distill(
        self,
        llm: LLM,
        task: str,
        experiences: Sequence[Experience] | None = None,
        config: DistillConfig | None = None,
    ) -> DistillResult:
        """Update `task`'s concepts from `experiences` (default: those added since the last run)."""
        batch = list(experiences) if experiences is not None else [e for e in self._recent if e.task == task]
        current = [c for c in self.concepts(task) if c.task == task]
        cfg = config or DistillConfig(max_concepts=self.config.max_concepts)
        result = distill(llm, batch, current, config=cfg, task=task)
        self.replace_concepts(task, result.concepts)
        self._since_distill[task] = 0
        if experiences is None:
            kept = [e for e in self._recent if e.task != task]
            self._recent.clear()
            self._recent.extend(kept)
        return result

    def maybe_distill(
        self, llm: LLM, task: str, every: int, config: DistillConfig | None = None
    ) -> DistillResult | None:
        """Distil when at least `every` new experiences were stored since the last run.

        Graphs call this after each stored experience; it returns None when it is
        not time yet. The counter is per `ChromaMemory` object (per process).
        """
        if every <= 0 or self._since_distill[task] < every:
            return None
        return self.distill(llm, task, config=config)


def _strongest(concepts: Iterable[Concept], n: int) -> list[Concept]:
    """The `n` strongest concepts, newest first on ties, one per id (the last given wins)."""
    unique = {c.id: c for c in concepts}
    ranked = sorted(unique.values(), key=lambda c: (-c.strength, -(c.updated_at or c.created_at).timestamp()))
    return ranked[:n]
