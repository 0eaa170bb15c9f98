"""Fetching recall candidates from one chromadb collection, cheaply, with filters applied in Python.

In scope: the staged query behind `ChromaMemory.recall` (its
`recall.CandidateSource`). Left out: which candidates pass (`recall.admits`),
what to recall, picking with MMR and presenting (`memory/recall.py`,
`context.py`).

Why filter after the query: in chromadb 1.5 a metadata `where` filter scans
every row (~100 ms at 100k records on 2 cores) while an unfiltered HNSW query
takes a few ms. So one unfiltered query over-fetches; if a group (exemplars,
failures, ...) came back short, a wider unfiltered query follows for the short
groups only; a filtered query runs only for a group still short while the
collection holds more rows.

Why the wider query fetches no vectors: most of its cost is moving rows out of
chromadb (at 100k records, 192 rows: ~10 ms with vectors, ~6 ms without, ~1 ms
for ids and distances alone), and only the rows that join a short group need
their vector (a second, small `get` by id). A group that was already full keeps
the candidates of the first query.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from chromadb.api.models.Collection import Collection

from ..kinds import Kind
from ..recall import Candidate, admits, group_of
from .codec import as_rows, foreign, from_metadata, is_ours

WIDEN = 8


def fetch_candidates(
    col: Collection,
    kind: Kind,
    query: np.ndarray,
    *,
    tasks: set[str] | None,
    skip_key: str | None,
    want: dict[Any, int],
    n_fetch: int,
    exclude_similarity: float,
    counts: Counter[str],
) -> dict[Any, list[Candidate]]:
    """Records near `query`, grouped by status (None for kinds without one), best first.

    `tasks` keeps only those tasks (None: all); `skip_key` drops records of
    that problem and any at least `exclude_similarity` similar; `want` says how
    many each group needs; `counts` tallies the queries run per stage.
    """
    groups: dict[Any, list[Candidate]] = {g: [] for g in want}
    seen: set[str] = set()

    def take(res: Any, into: set[Any]) -> int:
        """Add the admitted rows of `res` to the groups in `into`; fetch vectors it lacks by id."""
        ids = res["ids"][0]
        rows = zip(ids, res["metadatas"][0], res["distances"][0], strict=True)
        found: list[tuple[Any, str, Any, float, int]] = []  # (group, id, metadata, cosine, row)
        for i, (rid, meta, dist) in enumerate(rows):
            sim = 1.0 - float(dist)
            if not is_ours(meta):
                foreign(rid, kind)
                continue
            if rid in seen or not admits(
                meta.get("task"),
                meta.get("problem_key"),
                sim,
                tasks=tasks,
                skip_key=skip_key,
                exclude_similarity=exclude_similarity,
            ):
                continue
            group = group_of(kind, meta.get("status"))
            if group in into:
                seen.add(rid)
                found.append((group, rid, meta, sim, i))
        if res.get("embeddings") is not None:
            returned = as_rows(res["embeddings"][0])
            vectors = [returned[i] for *_, i in found]
        else:
            vectors = vectors_of(col, [rid for _, rid, *_ in found])
        for (group, rid, meta, sim, _), vec in zip(found, vectors, strict=True):
            groups[group].append((from_metadata(kind, meta, rid), vec, sim))
        return len(ids)

    def short() -> list[Any]:
        return [g for g, n in want.items() if len(groups[g]) < n]

    def done() -> dict[Any, list[Candidate]]:
        for items in groups.values():
            items.sort(key=lambda item: -item[2])
        return groups

    with_vectors: Any = ["metadatas", "embeddings", "distances"]
    returned = take(
        col.query(query_embeddings=query[None, :], n_results=n_fetch, include=with_vectors), set(groups)
    )
    counts["unfiltered"] += 1
    if returned < n_fetch or not short():
        return done()  # nothing missed, or the collection holds fewer rows than asked
    n_wide = n_fetch * WIDEN
    without: Any = ["metadatas", "distances"]
    wide = col.query(query_embeddings=query[None, :], n_results=n_wide, include=without)
    returned = take(wide, set(short()))
    counts["widened"] += 1
    if returned < n_wide or not short():
        return done()
    for group in short():
        clauses: list[dict[str, Any]] = []
        if tasks is not None:
            clauses.append({"task": {"$in": sorted(tasks)}})
        if group is not None:
            clauses.append({"status": group})
        if skip_key is not None and kind != "concept":
            clauses.append({"problem_key": {"$ne": skip_key}})
        if not clauses:
            continue
        counts["filtered"] += 1
        where: Any = clauses[0] if len(clauses) == 1 else {"$and": clauses}
        res = col.query(query_embeddings=query[None, :], n_results=n_fetch, where=where, include=with_vectors)
        take(res, {group})
    return done()


def vectors_of(col: Collection, ids: list[str]) -> list[np.ndarray]:
    """The stored vectors of `ids`, in that order (one `get`; none for no ids)."""
    if not ids:
        return []
    got = col.get(ids=ids, include=["embeddings"])
    by_id = dict(zip(got["ids"], as_rows(got["embeddings"]), strict=True))
    return [by_id[rid] for rid in ids]
