"""The learning stream: interleaved order, each method's records and compute, shared memory, resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from verbalrl.evaluation.shots import Shot
from verbalrl.graphs import ReflectiveConfig, SingleConfig
from verbalrl.llm.fake import FakeLLM
from verbalrl.memory import ChromaMemory
from verbalrl.memory.embedding import SentenceTransformerEmbedder
from verbalrl.run.results import read_results
from verbalrl.run.stream import (
    STREAM_FAMILIES,
    Family,
    FewShotMethod,
    GraphMethod,
    SampledMethods,
    interleave,
    run_stream,
    stream_families,
)
from verbalrl.tasks import get_task
from verbalrl.testing import score_by_answer
from verbalrl.verifier.artifact import PACKAGED_COVERS


@pytest.fixture
def families() -> list[Family]:
    return [
        Family("add", get_task("arithmetic", level=1)),
        Family("sort2", stream_families(["sort2"])[0].task),
    ]


def gold_reply(prompt: Any) -> str:
    """A solver that answers right exactly when it was shown a demonstration first."""
    shown = isinstance(prompt, list) and any(m["role"] == "assistant" for m in prompt)
    return "Answer: 4" if shown else "Answer: 999"


def test_interleave_takes_families_in_turn_and_numbers_positions(families) -> None:
    stream = interleave(families, 3, seed=5)
    assert [i.family.label for i in stream] == ["add", "sort2"] * 3
    assert [i.position for i in stream] == list(range(6))
    assert [i.index for i in stream] == [0, 0, 1, 1, 2, 2]
    assert [i.problem.id for i in stream] == [i.problem.id for i in interleave(families, 3, seed=5)]
    assert [i.problem.id for i in stream if i.family.label == "add"] == [
        p.id for p in families[0].task.problems("test", n=3, seed=5)
    ]
    with pytest.raises(ValueError, match="labels must differ"):
        interleave([families[0], families[0]], 2)
    with pytest.raises(ValueError, match="at least one family"):
        interleave([], 2)


def test_stream_families_match_what_the_stream_verifier_covers() -> None:
    covered = {(task, tuple(sorted(opts.items()))) for task, opts in PACKAGED_COVERS["genrm-stream"]}
    for task, options in STREAM_FAMILIES.values():
        tests_only = {k: v for k, v in options.items() if not k.startswith("train_")}
        assert (task, tuple(sorted(tests_only.items()))) in covered
    with pytest.raises(ValueError, match="unknown stream families"):
        stream_families(["sum30", "nope"])


def test_sampled_methods_share_one_draw_and_count_compute(families) -> None:
    item = interleave(families[:1], 1, seed=0)[0]
    gold = item.problem.answer
    llm = FakeLLM(["Answer: 1", f"Answer: {gold}", "Answer: 2", "Answer: 3", *[f"Answer: {gold}"] * 4])
    verifier = score_by_answer({gold: 0.9, "3": 0.95})
    records = {r["method"]: r for r in SampledMethods(llm, verifier, SingleConfig(seed=0)).solve(item)}
    assert len(llm.calls) == 1 and llm.calls[0].config.n == 8  # one draw for all three methods
    assert records["single_shot"]["answer"] == "1" and not records["single_shot"]["correct"]
    # best of the first 4 picks the highest score among them ("3"), best of 8 too
    assert records["best_of_4"]["answer"] == "3" and records["best_of_4"]["llm_calls"] == 8
    assert records["best_of_8"]["answer"] == "3" and records["best_of_8"]["llm_calls"] == 16
    assert records["single_shot"]["llm_calls"] == 1


def test_few_shot_method_shows_its_family_demonstrations_as_turns(families) -> None:
    stream = interleave(families, 1, seed=0)
    llm = FakeLLM(["Answer: 4"])
    shots = {"add": [Shot(question="What is 2 + 2?", solution="2 + 2 = 4\nAnswer: 4")]}
    method = FewShotMethod(llm, SingleConfig(seed=0), shots)
    method.solve(stream[0])
    method.solve(stream[1])
    with_shot, without = llm.calls[0].prompts[0], llm.calls[1].prompts[0]
    assert [m["role"] for m in with_shot] == ["system", "user", "assistant", "user"]
    assert with_shot[2]["content"] == "2 + 2 = 4\nAnswer: 4"
    assert [m["role"] for m in without] == ["system", "user"]


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()  # all-MiniLM-L6-v2, shipped offline


def test_graph_method_learns_within_a_family_and_keeps_families_apart(tmp_path: Path, embedder) -> None:
    task = get_task("arithmetic", level=1)
    add = Family("add", task)
    problems = [p for p in task.problems("test", n=40, seed=0) if p.answer == "4"][:2]
    assert len(problems) == 2, "arithmetic level 1 has several problems whose answer is 4"
    sort = stream_families(["sort2"])[0]
    from verbalrl.run.stream import StreamItem

    stream = [
        StreamItem(0, 0, add, problems[0]),
        StreamItem(1, 0, sort, sort.task.problems("test", n=1, seed=0)[0]),
        StreamItem(2, 1, add, problems[1]),
    ]
    # The first problem is answered right without demonstrations; the verifier trusts only "4".
    replies = iter(["Answer: 4"] * 4)
    llm = FakeLLM(lambda prompt: next(replies, gold_reply(prompt)))
    config = ReflectiveConfig(n_drafts=4, max_rounds=1, distill_every=0, recall_k=2, seed=0)
    with ChromaMemory(tmp_path / "mem", embedder=embedder) as memory:
        method = GraphMethod(
            "reflective_memory", "reflective", llm, score_by_answer({"4": 0.9}), config, memory
        )
        paths = run_stream(stream, [method], tmp_path / "out")
    rows = read_results(paths["reflective_memory"])
    assert [r["position"] for r in rows] == [0, 1, 2]
    assert rows[0]["correct"] and rows[0]["exemplar_stored"] and rows[0]["demonstrations"] == 0
    assert rows[1]["demonstrations"] == 0, "a sort problem is never shown an arithmetic exemplar"
    assert rows[2]["demonstrations"] == 1 and rows[2]["correct"]
    assert all(r["llm_calls"] > 0 and "seconds" in r for r in rows)


def test_run_stream_resumes_without_repeating_a_finished_problem(tmp_path: Path, families) -> None:
    stream = interleave(families, 2, seed=0)
    llm = FakeLLM(["Answer: 4"])
    method = FewShotMethod(llm, SingleConfig(seed=0), {})
    seen: list[int] = []
    run_stream(stream[:3], [method], tmp_path, on_item=lambda m, item, rec: seen.append(item.position))
    paths = run_stream(stream, [method], tmp_path, on_item=lambda m, item, rec: seen.append(item.position))
    assert seen == [0, 1, 2, 3]
    rows = read_results(paths["static_few_shot"])
    assert [r["position"] for r in rows] == [0, 1, 2, 3]
    assert {r["family"] for r in rows} == {"add", "sort2"} and [r["index"] for r in rows] == [0, 0, 1, 1]
