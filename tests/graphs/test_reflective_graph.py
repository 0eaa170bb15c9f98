"""Reflective graph on real chromadb (temp folder) with the real embedding model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from verbalrl.graphs import ReflectiveConfig, build_reflective_graph, initial_state
from verbalrl.llm.fake import FakeLLM, prompt_text
from verbalrl.memory import ChromaMemory
from verbalrl.memory.embedding import SentenceTransformerEmbedder
from verbalrl.testing import role_of, score_by_answer, scripted

from .conftest import GOLD


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()  # all-MiniLM-L6-v2, shipped offline


@pytest.fixture
def memory(tmp_path: Path, embedder: SentenceTransformerEmbedder):
    with ChromaMemory(tmp_path / "mem", embedder=embedder) as mem:
        yield mem


def run(llm: Any, verifier: Any, memory: Any, task: Any, problem: Any, **config: Any) -> dict[str, Any]:
    graph = build_reflective_graph(llm, verifier, memory, ReflectiveConfig(**config), task=task)
    return graph.invoke(initial_state(problem))


def solver_prompts(llm: FakeLLM) -> list[str]:
    return [prompt_text(p) for c in llm.calls for p in c.prompts if role_of(p) == "solver"]


def test_failure_lesson_is_retried_then_recalled_by_a_later_problem(task, problems, memory) -> None:
    llm = FakeLLM(
        scripted({"solver": "Guess. Answer: 11", "reflector": "Plan: read the label on the box first."})
    )
    verifier = score_by_answer({"11": 0.2})
    first = run(llm, verifier, memory, task, problems[0], n_drafts=1, max_rounds=2, distill_every=0)
    assert first["path"] == [
        "recall",
        "solve",
        "verify",
        "reflect",
        "store_failure",
        "distill",
        "solve",
        "verify",
        "reflect",
        "store_failure",
        "distill",
        "finalize",
    ]
    assert first["result"]["status"] == "max_rounds" and first["result"]["recalled"] == 0
    prompts = solver_prompts(llm)
    assert "read the label on the box first" not in prompts[0]
    assert "read the label on the box first" in prompts[1]  # Reflexion: the lesson is in the retry
    assert memory.count("experience") == 1  # the same failed attempt twice is one record

    llm2 = FakeLLM(scripted({"solver": "Answer: 42"}))
    second = run(
        llm2, score_by_answer({"42": 0.9}), memory, task, problems[1], n_drafts=1, distill_every=0,
        show_failures=True,
    )  # fmt: skip
    assert second["path"] == ["recall", "solve", "verify", "store_success", "distill", "finalize"]
    assert second["result"]["recalled"] >= 1
    prompt = solver_prompts(llm2)[0]
    assert "Failed attempts at similar problems" in prompt and "read the label on the box first" in prompt
    assert "Guess. Answer: 11" in prompt

    # By default failures are not shown: a quoted failure with its lesson hurts a small model.
    llm3 = FakeLLM(scripted({"solver": "Answer: 42"}))
    run(llm3, score_by_answer({"42": 0.9}), memory, task, problems[2], n_drafts=1, distill_every=0)
    assert "Guess. Answer: 11" not in solver_prompts(llm3)[0]


def test_verified_success_becomes_an_exemplar(task, problems, memory) -> None:
    llm = FakeLLM(scripted({"solver": "Looked it up. Answer: 42"}))
    out = run(
        llm, score_by_answer({"42": 0.9}), memory, task, problems[0], n_drafts=2, distill_every=0,
        exemplar_style="quoted",
    )  # fmt: skip
    assert out["result"]["stored"] == 1 and out["result"]["mode"] == "verifier_only"
    assert out["result"]["exemplar_stored"] is True
    run(
        llm, score_by_answer({"42": 0.9}), memory, task, problems[1], n_drafts=1, distill_every=0,
        exemplar_style="quoted",
    )  # fmt: skip
    assert "Verified solutions to similar problems" in solver_prompts(llm)[-1]


def test_a_verified_success_comes_back_as_a_demonstration_turn(task, problems, memory) -> None:
    llm = FakeLLM(scripted({"solver": "Looked it up. Answer: 42"}))
    run(llm, score_by_answer({"42": 0.9}), memory, task, problems[0], n_drafts=2, distill_every=0)
    later = run(llm, score_by_answer({"42": 0.9}), memory, task, problems[1], n_drafts=1, distill_every=0)
    prompt = [p for c in llm.calls for p in c.prompts if role_of(p) == "solver"][-1]
    assert [m["role"] for m in prompt] == ["system", "user", "assistant", "user"]
    assert problems[0].question in prompt[1]["content"]  # the task's own prompt of the earlier problem
    assert prompt[2]["content"] == "Looked it up. Answer: 42"  # its verified solution, as the model's turn
    assert problems[1].question in prompt[3]["content"] and "quoted-data" not in prompt[3]["content"]
    assert later["result"]["demonstrations"] == 1 and later["result"]["recalled"] == 1


def test_the_exemplar_gate_is_stricter_than_acceptance(task, problems, memory) -> None:
    # Accepted at 0.6 (threshold 0.5) but below the gate's 0.8: stored, never offered as a demonstration.
    llm = FakeLLM(scripted({"solver": "Looked it up. Answer: 42"}))
    low = run(
        llm, score_by_answer({"42": 0.6}), memory, task, problems[0], n_drafts=2, distill_every=0,
        gate_threshold=0.8,
    )  # fmt: skip
    assert low["result"]["status"] == "accept" and low["result"]["exemplar_stored"] is False
    later = run(llm, score_by_answer({"42": 0.9}), memory, task, problems[1], n_drafts=1, distill_every=0)
    assert later["result"]["demonstrations"] == 0


def test_the_gate_wants_the_majority_answer(task, problems, memory) -> None:
    # The best-scored draft says 42 but most drafts say 7: accepted, not an exemplar.
    replies = iter(["Answer: 42", "Answer: 7", "Answer: 7"])
    llm = FakeLLM(lambda prompt: next(replies))
    out = run(
        llm, score_by_answer({"42": 0.9, "7": 0.3}), memory, task, problems[0], n_drafts=3, distill_every=0
    )
    assert out["result"]["answer"] == "42" and out["result"]["exemplar_stored"] is False
    # Without the majority rule the same drafts make an exemplar.
    replies2 = iter(["Answer: 42", "Answer: 7", "Answer: 7"])
    again = run(
        FakeLLM(lambda prompt: next(replies2)), score_by_answer({"42": 0.9, "7": 0.3}), memory, task,
        problems[1], n_drafts=3, distill_every=0, gate_majority=False,
    )  # fmt: skip
    assert again["result"]["exemplar_stored"] is True


def test_learn_from_feedback_keeps_checker_rejected_success_out_of_exemplars(task, problems, memory) -> None:
    # the verifier accepts a wrong answer; the checker (gold GOLD-...) rejects it
    llm = FakeLLM(scripted({"solver": "Answer: 42"}))
    out = run(
        llm, score_by_answer({"42": 0.9}), memory, task, problems[0], n_drafts=1, learn_from_feedback=True
    )
    assert out["result"]["mode"] == "learn_from_feedback" and out["result"]["status"] == "accept"
    [record] = list(memory.iter_records("experience"))
    assert record.checker_confirmed is False and record.status == "unverified"
    run(llm, score_by_answer({"42": 0.9}), memory, task, problems[1], n_drafts=1)
    assert "Verified solutions" not in solver_prompts(llm)[-1]


def test_learn_from_feedback_confirms_a_right_answer(task, problems, memory) -> None:
    llm = FakeLLM(scripted({"solver": f"Answer: {GOLD}"}))
    run(llm, score_by_answer({GOLD: 0.9}), memory, task, problems[0], n_drafts=1, learn_from_feedback=True)
    [record] = list(memory.iter_records("experience"))
    assert record.checker_confirmed is True and record.status == "exemplar"


def test_concepts_are_distilled_every_k_and_recalled(task, problems, memory) -> None:
    llm = FakeLLM(
        scripted({"solver": "Answer: 42", "distiller": "ADD: Always read the box label before answering."})
    )
    verifier = score_by_answer({"42": 0.9})
    first = run(llm, verifier, memory, task, problems[0], n_drafts=1, distill_every=1)
    assert first["result"]["distilled"] == 1
    assert [c.text for c in memory.concepts(task.name)] == ["Always read the box label before answering."]
    run(llm, verifier, memory, task, problems[1], n_drafts=1, distill_every=1)
    assert "Always read the box label" in solver_prompts(llm)[-1]


def test_distill_runs_after_every_store_and_counts_its_compute(task, problems, memory) -> None:
    replies = {
        "solver": "Guess. Answer: 11",
        "reflector": "Plan: read it.",
        "distiller": "ADD: Always read the box label before answering.",
    }
    llm = FakeLLM(scripted(replies))
    config = ReflectiveConfig(n_drafts=2, max_rounds=2, distill_every=2)
    graph = build_reflective_graph(llm, score_by_answer({"11": 0.2}), memory, config, task=task)
    outs = [graph.invoke(initial_state(p)) for p in problems[:3]]
    trial = ["solve", "verify", "reflect", "store_failure", "distill"]
    assert all(out["path"] == ["recall", *trial, *trial, "finalize"] for out in outs)
    # memory's schedule (every 2 stored experiences) is due at the 2nd problem's first store;
    # the distiller's one call (8 tokens) counts toward that problem's compute
    compute = [(r["distilled"], r["llm_calls"], r["generated_tokens"]) for r in (o["result"] for o in outs)]
    assert compute == [(0, 6, 18), (1, 7, 26), (0, 6, 18)]
    assert [c.text for c in memory.concepts(task.name)] == ["Always read the box label before answering."]


def test_no_memory_ablation_keeps_reflexion_and_touches_no_memory(task, problems, memory) -> None:
    llm = FakeLLM(
        scripted({"solver": "Guess. Answer: 11", "reflector": "Plan: read the label on the box first."})
    )
    verifier = score_by_answer({"11": 0.2})
    graph = build_reflective_graph(
        llm, verifier, None, ReflectiveConfig(n_drafts=1, max_rounds=2, use_memory=False), task=task
    )
    out = graph.invoke(initial_state(problems[0]))
    # same node path as with memory; the lesson still reaches the retry (Reflexion within the problem)
    assert out["path"][:7] == ["recall", "solve", "verify", "reflect", "store_failure", "distill", "solve"]
    assert out["result"]["stored"] == 0 and out["result"]["recalled"] == 0
    prompts = solver_prompts(llm)
    assert "read the label on the box first" in prompts[1]
    # a memory passed alongside use_memory=False is neither read nor written
    graph = build_reflective_graph(
        llm, verifier, memory, ReflectiveConfig(n_drafts=1, max_rounds=1, use_memory=False), task=task
    )
    graph.invoke(initial_state(problems[1]))
    assert memory.count("experience") == 0 and memory.count("reflection") == 0


def test_reflective_graph_without_memory_needs_the_ablation_flag(task) -> None:
    from verbalrl.graphs import build_graph

    llm, verifier = FakeLLM(scripted({})), score_by_answer({})
    with pytest.raises(ValueError, match="use_memory=False"):
        build_graph("reflective", llm, verifier, ReflectiveConfig(), task=task)
    config = ReflectiveConfig(use_memory=False, max_rounds=1)
    graph = build_graph("reflective", llm, verifier, config, task=task)
    out = graph.invoke(initial_state(task.problems("test", n=1, seed=0)[0]))
    # the ablation runs every node of the memory graph but reads and writes nothing
    assert out["path"] == ["recall", "solve", "verify", "reflect", "store_failure", "distill", "finalize"]
    assert out["result"]["status"] == "max_rounds" and out["result"]["stored"] == 0
    assert out["result"]["recalled"] == 0 and out["result"]["lessons"] == 1
