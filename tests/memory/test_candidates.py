"""Direct tests of recall's candidate selection.

Two layers: the backend-independent helpers of `memory/recall.py` (which
group a record falls in, which records a query admits, how many each section
wants, MMR picking, the query-vector cache), and chromadb's staged query
`chroma/candidates.fetch_candidates` on a real store with the hash embedder,
called the way `ChromaMemory.recall` calls it: same-problem exclusion, task
filtering, grouping by status (unverified never an exemplar), and the
unfiltered -> widened -> filtered stages bounded by `n_fetch`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from verbalrl.memory import ChromaMemory, Experience, HashEmbedder, MemoryConfig, Reflection
from verbalrl.memory.chroma.candidates import WIDEN, fetch_candidates
from verbalrl.memory.recall import QueryCache, admits, group_of, pick, stack, wanted
from verbalrl.memory.sanitize import problem_key

# ====================================================================== recall.py helpers


def test_group_of_is_the_status_for_experiences_only() -> None:
    assert group_of("experience", "exemplar") == "exemplar"
    assert group_of("experience", "unverified") == "unverified"
    assert group_of("reflection", "exemplar") is None
    assert group_of("concept", None) is None


def _admits(task: Any = "arith", key: Any = "k1", sim: float = 0.5, **kw: Any) -> bool:
    opts: dict[str, Any] = {"tasks": None, "skip_key": None, "exclude_similarity": 0.995} | kw
    return admits(task, key, sim, **opts)


def test_admits_everything_without_filters() -> None:
    assert _admits()
    assert _admits(task=None, key=None, sim=1.0)  # no skip_key: even an identical vector passes


def test_admits_only_the_listed_tasks() -> None:
    assert _admits(tasks={"arith", "gsm8k"})
    assert not _admits(tasks={"gsm8k"})
    assert not _admits(tasks=set())  # an empty set admits nothing (unlike None)
    assert not _admits(task=None, tasks={"arith"})  # a row without a task is not "any task"


def test_admits_drops_the_skipped_problem_and_near_copies() -> None:
    assert not _admits(key="k1", skip_key="k1")
    assert _admits(key="k2", skip_key="k1", sim=0.99)
    assert not _admits(key="k2", skip_key="k1", sim=0.995)  # the threshold itself is excluded
    assert not _admits(key="k2", skip_key="k1", sim=1.0)
    assert _admits(key=None, skip_key="k1", sim=0.2)  # a row without a key is kept unless near


def test_admits_checks_the_task_before_the_problem() -> None:
    assert not _admits(task="other", key="k2", skip_key="k1", tasks={"arith"})


def test_wanted_defaults_every_section_to_k() -> None:
    assert wanted(3, None, None, None) == {"exemplar": 3, "failure": 3, "reflection": 3, "concept": 3}


def test_wanted_keeps_explicit_counts_zero_included() -> None:
    """0 means "none of this section", not "use the default"."""
    assert wanted(3, 0, 1, 5) == {"exemplar": 3, "failure": 0, "reflection": 1, "concept": 5}


def _unit(*rows: Sequence[float]) -> np.ndarray:
    arr = np.array(rows, dtype=np.float32)
    return arr / np.linalg.norm(arr, axis=1, keepdims=True)


def _cands(vectors: np.ndarray, query: np.ndarray) -> list[Any]:
    return [(f"rec{i}", vec, float(vec @ query)) for i, vec in enumerate(vectors)]


def test_pick_returns_the_candidates_themselves_by_relevance() -> None:
    query = _unit([1, 0, 0])[0]
    items = _cands(_unit([0, 1, 0], [1, 0.1, 0], [1, 0.5, 0]), query)
    picked = pick(query, items, 2, lam=1.0)
    assert [c[0] for c in picked] == ["rec1", "rec2"]
    assert picked[0] is items[1]


def test_pick_prefers_diversity_with_a_low_lambda() -> None:
    query = _unit([1, 0, 0])[0]
    items = _cands(_unit([1, 0.1, 0], [1, 0.1, 0.001], [1, -0.5, 0.5]), query)
    assert [c[0] for c in pick(query, items, 2, lam=1.0)] == ["rec0", "rec1"]
    assert [c[0] for c in pick(query, items, 2, lam=0.5)] == ["rec0", "rec2"]


def test_pick_edge_cases() -> None:
    query = _unit([1, 0])[0]
    items = _cands(_unit([1, 0.2], [1, 0.3]), query)
    assert len(pick(query, items, 10, lam=0.7)) == 2  # k above the candidates: all of them
    assert pick(query, items, 0, lam=0.7) == []
    assert pick(query, [], 3, lam=0.7) == []
    assert stack([], 4).shape == (0, 4)


class CountingEmbedder:
    """The hash embedder, counting the texts it embeds."""

    def __init__(self, dim: int = 32) -> None:
        self.inner = HashEmbedder(dim)
        self.dim, self.name = dim, self.inner.name
        self.calls: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.extend(texts)
        return self.inner.embed(texts)


def test_query_cache_embeds_a_repeated_text_once() -> None:
    embedder = CountingEmbedder()
    cache = QueryCache(embedder)  # type: ignore[arg-type]
    first = cache("What is 23 + 45?")
    again = cache("What is 23 + 45?")
    assert again is first and embedder.calls == ["What is 23 + 45?"]
    np.testing.assert_allclose(first, embedder.inner.embed(["What is 23 + 45?"])[0])
    cache("What is 23 + 46?")
    assert embedder.calls == ["What is 23 + 45?", "What is 23 + 46?"]


def test_query_cache_vectors_are_read_only() -> None:
    """A caller cannot corrupt the cached vector that later recalls reuse."""
    vec = QueryCache(CountingEmbedder())("a problem")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        vec[0] = 1.0


def test_query_cache_is_bounded_and_evicts_first_in_first_out() -> None:
    embedder = CountingEmbedder()
    cache = QueryCache(embedder, size=2)  # type: ignore[arg-type]
    for text in ("a", "b", "a", "c"):  # the hit on "a" does not refresh it (FIFO, not LRU)
        cache(text)
    assert embedder.calls == ["a", "b", "c"]
    cache("b")  # still cached
    assert embedder.calls == ["a", "b", "c"]
    cache("a")  # evicted by "c": embedded again
    assert embedder.calls == ["a", "b", "c", "a"]


# ====================================================================== chromadb fetch_candidates


@pytest.fixture
def memory(tmp_path: Path) -> Iterator[ChromaMemory]:
    # merging off: every record added here must stay a record of its own
    store = ChromaMemory(tmp_path / "m", config=MemoryConfig(dedupe_threshold=None), embedder="hash:64")
    yield store
    store.close()


def _exp(problem: str, solution: str, **fields: Any) -> Experience:
    data: dict[str, Any] = {"task": "arith", "outcome": "success", "verified": True} | fields
    return Experience(problem=problem, solution=solution, **data)


def _fetch(
    memory: ChromaMemory,
    problem: str,
    want: dict[Any, int],
    *,
    kind: Any = "experience",
    tasks: set[str] | None = None,
    skip: str | None = None,
    n_fetch: int = 8,
    exclude_similarity: float = 0.995,
    counts: Counter[str] | None = None,
) -> dict[Any, list[Any]]:
    """`fetch_candidates` on the store's collection, as `ChromaRecall._candidates` calls it."""
    return fetch_candidates(
        memory._col(kind),
        kind,
        memory.embedder.embed([problem])[0],
        tasks=tasks,
        skip_key=None if skip is None else problem_key(skip),
        want=want,
        n_fetch=n_fetch,
        exclude_similarity=exclude_similarity,
        counts=Counter() if counts is None else counts,
    )


def _solutions(groups: dict[Any, list[Any]], group: Any) -> set[str]:
    return {rec.solution for rec, _, _ in groups[group]}


EXP_WANT = {"exemplar": 5, "failure": 5}


def test_candidates_are_grouped_by_status_and_unverified_is_never_an_exemplar(memory: ChromaMemory) -> None:
    memory.add_experiences(
        [
            _exp("What is 23 + 45?", "68"),
            _exp("What is 23 + 45?", "67", outcome="failure"),
            _exp("What is 23 + 45?", "66", verified=False),  # claimed, nobody confirmed
            _exp("What is 23 + 45?", "65", checker_confirmed=False),  # the checker refused it
            _exp("What is 23 + 45?", "64", checker_confirmed=True),
        ]
    )
    groups = _fetch(memory, "What is 23 + 45?", EXP_WANT)
    assert set(groups) == {"exemplar", "failure"}
    assert _solutions(groups, "exemplar") == {"68", "64"}
    assert _solutions(groups, "failure") == {"67"}
    # asked for explicitly, the unverified group holds exactly the unconfirmed ones
    groups = _fetch(memory, "What is 23 + 45?", {"unverified": 5})
    assert _solutions(groups, "unverified") == {"66", "65"}


def test_candidates_exclude_the_same_problem_and_near_copies(memory: ChromaMemory) -> None:
    memory.add_experiences(
        [
            _exp("What is 23 + 45?", "68"),
            _exp("  what is 23 +   45? ", "68 (spaced)"),  # same problem key
            _exp("What is 23 + 45!", "68 (bang)"),  # another key, but the same hashed words
            _exp("What is 23 + 46?", "69"),
        ]
    )
    everything = _fetch(memory, "What is 23 + 45?", EXP_WANT)
    assert _solutions(everything, "exemplar") == {"68", "68 (spaced)", "68 (bang)", "69"}
    clean = _fetch(memory, "What is 23 + 45?", EXP_WANT, skip="What is 23 + 45?")
    assert _solutions(clean, "exemplar") == {"69"}
    # above any similarity threshold only the problem key excludes
    lax = _fetch(memory, "What is 23 + 45?", EXP_WANT, skip="What is 23 + 45?", exclude_similarity=2.0)
    assert _solutions(lax, "exemplar") == {"68 (bang)", "69"}


def test_candidates_keep_only_the_given_tasks(memory: ChromaMemory) -> None:
    memory.add_experiences(
        [
            _exp("What is 23 + 45?", "68"),
            _exp("What is 23 + 45?", "68 other", task="other"),
            _exp("What is 23 + 45?", "67 other", task="other", outcome="failure"),
        ]
    )
    assert _solutions(_fetch(memory, "What is 23 + 45?", EXP_WANT, tasks={"arith"}), "exemplar") == {"68"}
    assert _fetch(memory, "What is 23 + 45?", EXP_WANT, tasks={"arith"})["failure"] == []
    both = _fetch(memory, "What is 23 + 45?", EXP_WANT, tasks={"arith", "other"})
    assert _solutions(both, "exemplar") == {"68", "68 other"} and _solutions(both, "failure") == {"67 other"}
    assert _solutions(_fetch(memory, "What is 23 + 45?", EXP_WANT), "exemplar") == {"68", "68 other"}
    counts: Counter[str] = Counter()
    none = _fetch(memory, "What is 23 + 45?", EXP_WANT, tasks={"missing"}, counts=counts)
    assert none == {"exemplar": [], "failure": []}
    assert counts == Counter({"unfiltered": 1})  # the collection is smaller than n_fetch: one query tells all


def test_candidates_come_best_first_with_their_cosine(memory: ChromaMemory) -> None:
    memory.add_experiences(
        [
            _exp("paint the fence blue", "ok"),
            _exp("count the red apples in the basket", "3"),
            _exp("count the apples in the basket", "5"),
            _exp("count the apples", "7"),
        ]
    )
    query = "count the apples in the basket"
    found = _fetch(memory, query, {"exemplar": 4})["exemplar"]
    sims = [sim for _, _, sim in found]
    assert sims == sorted(sims, reverse=True)
    assert found[0][0].solution == "5" and sims[0] == pytest.approx(1.0, abs=1e-5)
    q = memory.embedder.embed([query])[0]
    for _, vec, sim in found:
        assert vec.dtype == np.float32 and vec.shape == (64,)
        assert sim == pytest.approx(float(vec @ q), abs=1e-4)


APPLES = [_exp(f"count the apples in basket {i}", f"basket {i} holds {i} apples") for i in range(12)]


def test_one_unfiltered_query_of_n_fetch_rows_when_no_group_is_short(memory: ChromaMemory) -> None:
    memory.add_experiences(APPLES)
    counts: Counter[str] = Counter()
    groups = _fetch(memory, "count the apples in basket", {"exemplar": 2}, n_fetch=3, counts=counts)
    assert len(groups["exemplar"]) == 3  # n_fetch rows, not all 12
    assert counts == Counter({"unfiltered": 1})


def test_a_short_group_widens_the_query_once(memory: ChromaMemory) -> None:
    memory.add_experiences(APPLES)
    counts: Counter[str] = Counter()
    want = {"exemplar": 5, "failure": 1}  # no failure is stored
    groups = _fetch(memory, "count the apples in basket", want, n_fetch=3, counts=counts)
    # the widened query (3 * WIDEN rows) saw the whole collection: no filtered query follows
    assert 3 * WIDEN > len(APPLES)
    assert counts == Counter({"unfiltered": 1, "widened": 1})
    ids = [rec.id for rec, _, _ in groups["exemplar"]]
    assert len(ids) == len(set(ids)) == len(APPLES)  # rows seen in both stages appear once
    assert groups["failure"] == []


def test_the_widened_query_fills_only_the_short_groups(memory: ChromaMemory) -> None:
    memory.add_experiences(APPLES)
    counts: Counter[str] = Counter()
    want = {"exemplar": 2, "failure": 1}  # exemplars are full after the first query
    first = _fetch(memory, "count the apples in basket", {"exemplar": 2}, n_fetch=3)
    groups = _fetch(memory, "count the apples in basket", want, n_fetch=3, counts=counts)
    assert counts == Counter({"unfiltered": 1, "widened": 1})
    # the full group keeps the first query's candidates: what a short failure group does
    # to the query never changes which exemplars are offered
    assert [r.id for r, _, _ in groups["exemplar"]] == [r.id for r, _, _ in first["exemplar"]]


def test_rows_of_the_widened_query_carry_their_stored_vectors(memory: ChromaMemory) -> None:
    """The widened query fetches no vectors; those of the rows it keeps come by id, each its own."""
    failures = [_exp(f"count the pears in crate {i}", f"{i} pears", outcome="failure") for i in range(6)]
    memory.add_experiences(APPLES + failures)
    counts: Counter[str] = Counter()
    q = memory.embedder.embed(["count the apples in basket"])[0]
    want = {"exemplar": 1, "failure": 6}
    groups = _fetch(memory, "count the apples in basket", want, n_fetch=3, counts=counts)
    assert 3 * WIDEN > len(APPLES) + len(failures)  # the widened query sees every row
    assert counts == Counter({"unfiltered": 1, "widened": 1})
    assert _solutions(groups, "failure") == {f"{i} pears" for i in range(6)}
    for rec, vec, sim in groups["failure"]:
        assert vec.dtype == np.float32
        np.testing.assert_allclose(vec, memory.embedder.embed([rec.problem])[0], atol=1e-6)
        assert sim == pytest.approx(float(vec @ q), abs=1e-4)


def test_a_group_still_short_gets_a_filtered_query(memory: ChromaMemory) -> None:
    n_fetch = 2
    memory.add_experiences(
        [_exp(f"count the apples in basket {i}", f"{i} apples") for i in range(n_fetch * WIDEN + 4)]
        + [_exp("paint the fence blue", "it dried", outcome="failure")]
    )
    counts: Counter[str] = Counter()
    groups = _fetch(
        memory, "count the apples in basket", {"exemplar": 1, "failure": 1}, n_fetch=n_fetch, counts=counts
    )
    assert counts == Counter({"unfiltered": 1, "widened": 1, "filtered": 1})
    assert _solutions(groups, "failure") == {"it dried"}
    assert len(groups["exemplar"]) <= n_fetch * WIDEN


def test_the_filtered_query_keeps_the_task_and_problem_filters(memory: ChromaMemory) -> None:
    """The rare rows found by the fallback still pass the task filter and the same-problem exclusion."""
    n_fetch = 2
    memory.add_experiences(
        [_exp(f"count the apples in basket {i}", f"{i} apples") for i in range(n_fetch * WIDEN + 4)]
        + [
            _exp("paint the fence blue", "wrong task", outcome="failure", task="other"),
            _exp("paint the fence blue", "own problem", outcome="failure"),
            _exp("paint the fence green", "kept", outcome="failure"),
        ]
    )
    counts: Counter[str] = Counter()
    groups = _fetch(
        memory,
        "count the apples in basket",
        {"exemplar": 1, "failure": 3},
        tasks={"arith"},
        skip="Paint the fence  blue",
        n_fetch=n_fetch,
        counts=counts,
    )
    assert counts["filtered"] == 1
    assert _solutions(groups, "failure") == {"kept"}


def test_reflections_fall_in_the_none_group(memory: ChromaMemory) -> None:
    memory.add_reflections(
        [
            Reflection(task="arith", problem="What is 27 + 45?", text="Carry the one."),
            Reflection(task="other", problem="What is 27 + 45?", text="Check the units."),
        ]
    )
    groups = _fetch(memory, "What is 27 + 45?", {None: 3}, kind="reflection", tasks={"arith"})
    assert list(groups) == [None]
    assert [(type(r), r.text) for r, _, _ in groups[None]] == [(Reflection, "Carry the one.")]


# ====================================================================== through memory.recall


def test_recall_uses_the_staged_query_and_never_offers_unverified(memory: ChromaMemory) -> None:
    memory.add_experiences(
        [
            _exp("What is 23 + 45?", "68"),
            _exp("What is 23 + 46?", "69", verified=False),
            _exp("What is 23 + 47?", "70", checker_confirmed=False),
            _exp("What is 23 + 48?", "72", outcome="failure"),
        ]
    )
    ctx = memory.recall("What is 23 + 46?", task="arith", k=5)
    assert [r.experience.solution for r in ctx.exemplars] == ["68"]
    assert [r.experience.solution for r in ctx.failures] == ["72"]
    # one unfiltered query per kind (experience, reflection, concept) at least
    assert memory.query_counts["unfiltered"] >= 3


def test_recall_exclude_problem_drops_the_query_problem(memory: ChromaMemory) -> None:
    memory.add_experiences([_exp("What is 23 + 45?", "68"), _exp("What is 23 + 46?", "69")])
    leaky = memory.recall("what is 23 + 45?", task="arith", k=3)
    clean = memory.recall("what is 23 + 45?", task="arith", k=3, exclude_problem=True)
    assert "68" in [r.experience.solution for r in leaky.exemplars]
    assert [r.experience.solution for r in clean.exemplars] == ["69"]


def test_recall_with_nothing_wanted_runs_no_query(memory: ChromaMemory) -> None:
    memory.add_experience(_exp("What is 23 + 45?", "68"))
    ctx = memory.recall("What is 23 + 45?", task="arith", k=0)
    assert ctx.exemplars == [] and ctx.failures == [] and ctx.reflections == [] and ctx.concepts == []
    assert sum(memory.query_counts.values()) == 0


def test_recall_skips_the_sections_nobody_wants_and_offers_the_same_exemplars(memory: ChromaMemory) -> None:
    pears = _exp("count the pears", "2 pears", outcome="failure", reflection="Look.")
    memory.add_experiences([*APPLES, pears])
    question = "count the apples in basket"
    everything = memory.recall(question, task="arith", k=3)
    memory.query_counts.clear()
    only = memory.recall(question, task="arith", k=3, k_failures=0, k_reflections=0, k_concepts=0)
    assert memory.query_counts == Counter({"unfiltered": 1})  # experiences only: no failure widening either
    assert [r.experience.id for r in only.exemplars] == [r.experience.id for r in everything.exemplars]
    assert only.failures == [] and only.reflections == [] and only.concepts == []
