"""Recall, backend-independent: which records answer a problem, in which section.

In scope: the four sections of a `MemoryContext` and how each is filled:
exemplars (verified successes) and failures come from experiences grouped by
status (unverified ones are never offered); lessons are reflections not
already shown with a recalled failure; concepts are the task's and the
general ones, ranked with a strength bonus. Every section is picked by MMR
(relevance and diversity). `exclude_problem` drops records of the query's
own problem (same problem key, or nearly the same vector). Also the filter a
candidate passes and a small cache of query vectors. Left out: finding
candidates near a vector (`CandidateSource`, one per backend) and rendering
(`context.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeAlias

import numpy as np

from .concepts import strength_bonus, visible_tasks
from .config import MemoryConfig
from .context import MemoryContext, Recalled, RecalledConcept, RecalledReflection
from .embedding import Embedder
from .kinds import Kind
from .mmr import mmr_select
from .sanitize import MAX_PROBLEM_CHARS, clean_text, problem_key

Candidate: TypeAlias = tuple[Any, np.ndarray, float]  # (record, its vector, cosine similarity)
QUERY_CACHE = 256
RANDOM_POOL = 512  # candidates a random exemplar pick draws from


class CandidateSource(Protocol):
    """A backend's search: records of `kind` near `query` that `admits` lets through,
    grouped by `group_of` (only the groups in `want`), best first, `n_fetch` or so per group."""

    def __call__(
        self,
        kind: Kind,
        query: np.ndarray,
        *,
        tasks: set[str] | None,
        skip_key: str | None,
        want: dict[Any, int],
        n_fetch: int,
        exclude_similarity: float,
    ) -> dict[Any, list[Candidate]]: ...


def group_of(kind: Kind, status: Any) -> Any:
    """The recall group of a record: an experience's status, None for the other kinds."""
    return status if kind == "experience" else None


def admits(
    task: Any,
    key: Any,
    similarity: float,
    *,
    tasks: set[str] | None,
    skip_key: str | None,
    exclude_similarity: float,
) -> bool:
    """Whether a record of `task` with problem key `key` may be recalled."""
    if tasks is not None and task not in tasks:
        return False
    return skip_key is None or (key != skip_key and similarity < exclude_similarity)


def stack(items: Sequence[Candidate], dim: int) -> np.ndarray:
    """The candidates' vectors as one (n, dim) matrix."""
    if not items:
        return np.zeros((0, dim), dtype=np.float32)
    return np.stack([vec for _, vec, _ in items])


def pick(query: np.ndarray, items: list[Candidate], k: int, lam: float) -> list[Candidate]:
    """Up to `k` candidates chosen by MMR."""
    return [items[i] for i in mmr_select(query, stack(items, len(query)), k, lam)]


def wanted(
    k: int, k_failures: int | None, k_reflections: int | None, k_concepts: int | None
) -> dict[str, int]:
    """How many records each section wants (each defaulting to `k`)."""
    return {
        "exemplar": k,
        "failure": k if k_failures is None else k_failures,
        "reflection": k if k_reflections is None else k_reflections,
        "concept": k if k_concepts is None else k_concepts,
    }


def pick_exemplars(
    query: np.ndarray, items: list[Candidate], k: int, config: MemoryConfig, salt: str
) -> list[Candidate]:
    """Up to `k` exemplars: by MMR with `config.length_weight` against long solutions, or at random
    (`config.exemplar_pick`, seeded by `salt` so a problem gets the same ones every time)."""
    if config.exemplar_pick == "random":
        import random

        return random.Random(salt).sample(items, min(k, len(items)))
    if not config.length_weight or not items:
        return pick(query, items, k, config.mmr_lambda)
    bonus = np.array(
        [-config.length_weight * min(1.0, len(r.solution) / config.item_max_chars) for r, _, _ in items],
        dtype=np.float32,
    )
    return [items[i] for i in mmr_select(query, stack(items, len(query)), k, config.mmr_lambda, bonus)]


class QueryCache:
    """The last few query vectors: a graph often recalls for the same problem
    from several nodes (solver, critic, reviser), and the embedder runs once."""

    def __init__(self, embedder: Embedder, size: int = QUERY_CACHE) -> None:
        self._embedder = embedder
        self._size = size
        self._vectors: dict[str, np.ndarray] = {}  # insertion-ordered: FIFO eviction

    def __call__(self, text: str) -> np.ndarray:
        cached = self._vectors.get(text)
        if cached is None:
            cached = self._embedder.embed([text])[0]
            cached.setflags(write=False)
            self._vectors[text] = cached
            if len(self._vectors) > self._size:
                self._vectors.pop(next(iter(self._vectors)))
        return cached


def recall_context(
    problem: str,
    task: str | None,
    want: dict[str, int],
    *,
    exclude_problem: bool,
    config: MemoryConfig,
    embed_query: Callable[[str], np.ndarray],
    source: CandidateSource,
) -> MemoryContext:
    """The `MemoryContext` for `problem` (see the module docstring); `want` from `wanted`."""
    text = clean_text(problem, field="problem", max_chars=MAX_PROBLEM_CHARS)
    context = MemoryContext(
        problem=text, task=task, item_max_chars=config.item_max_chars, max_chars=config.render_max_chars
    )
    if not text or max(want.values()) <= 0:
        return context
    query = embed_query(text)
    skip_key = problem_key(text) if exclude_problem else None
    lam = config.mmr_lambda

    def fetch(kind: Kind, groups: dict[Any, int], skip: str | None) -> dict[Any, list[Candidate]]:
        if max(groups.values()) <= 0:
            return {group: [] for group in groups}  # a section nobody wants costs no query
        n_fetch = config.overfetch * max(max(groups.values()), 1)
        if kind == "concept":
            n_fetch = max(n_fetch, config.max_concepts)  # concepts are few: see them all
        if kind == "experience" and config.exemplar_pick == "random":
            n_fetch = max(n_fetch, RANDOM_POOL)  # random among (nearly) all of the task's
        tasks = None if task is None else (visible_tasks(task) if kind == "concept" else {task})
        return source(
            kind,
            query,
            tasks=tasks,
            skip_key=skip,
            want=groups,
            n_fetch=n_fetch,
            exclude_similarity=config.exclude_similarity,
        )

    groups = fetch("experience", {"exemplar": want["exemplar"], "failure": want["failure"]}, skip_key)
    exemplars = pick_exemplars(query, groups.get("exemplar", []), want["exemplar"], config, skip_key or text)
    failures = pick(query, groups.get("failure", []), want["failure"], lam)
    shown = {exp.id for exp, _, _ in failures} | {a for exp, _, _ in failures for a in exp.aliases}
    shown_text = {exp.reflection for exp, _, _ in failures if exp.reflection}

    lessons = [
        c
        for c in fetch("reflection", {None: want["reflection"]}, skip_key).get(None, [])
        if c[0].experience_id not in shown and c[0].text not in shown_text
    ]
    lessons = pick(query, lessons, want["reflection"], lam)

    concepts = fetch("concept", {None: want["concept"]}, None).get(None, [])
    bonus = strength_bonus([c[0] for c in concepts], config.strength_weight)
    order = mmr_select(query, stack(concepts, len(query)), want["concept"], lam, bonus) if concepts else []
    return context.model_copy(
        update={
            "exemplars": [Recalled(experience=r, similarity=s) for r, _, s in exemplars],
            "failures": [Recalled(experience=r, similarity=s) for r, _, s in failures],
            "reflections": [RecalledReflection(reflection=r, similarity=s) for r, _, s in lessons],
            "concepts": [RecalledConcept(concept=concepts[i][0], similarity=concepts[i][2]) for i in order],
        }
    )
