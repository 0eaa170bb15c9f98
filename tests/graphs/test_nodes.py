"""Nodes called alone: a state dict and a `Runtime` holding a `GraphContext`, no graph around them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langgraph.runtime import Runtime

from verbalrl.graphs import GraphConfig, GraphContext, ReflectiveConfig, SingleConfig, initial_state
from verbalrl.graphs.nodes import finalize, verify
from verbalrl.graphs.reflective import distill, reflect, store_failure, store_success
from verbalrl.graphs.single import solve
from verbalrl.llm.fake import FakeLLM
from verbalrl.memory import ChromaMemory
from verbalrl.testing import score_by_answer, scripted
from verbalrl.verifier.base import FunctionVerifier


def runtime(
    config: GraphConfig, llm: Any = None, verifier: Any = None, task: Any = None, memory: Any = None
) -> Runtime[GraphContext[Any]]:
    llm = llm or FakeLLM(scripted({}))
    ctx = GraphContext(
        llm=llm, verifier=verifier or score_by_answer({}), config=config, task=task, memory=memory
    )
    return Runtime(context=ctx)


def draft(id: str, answer: str | None, score: float | None = None, round: int = 1) -> dict[str, Any]:
    return {
        "id": id, "round": round, "agent": 0, "kind": "draft",
        "text": f"Answer: {answer}" if answer else "no idea", "answer": answer, "ok": answer is not None,
        "error": None if answer else "no answer found in the reply",
        "score": score if answer else 0.0, "tokens": 2,
    }


def test_verify_scores_only_unscored_drafts(task, problems) -> None:
    seen: list[str] = []

    def fn(question: str, candidate: str) -> float:
        seen.append(candidate)
        return 0.75 if "Answer: 5" in candidate else 0.25

    drafts = [draft("a", "5"), draft("b", "6", 0.4), draft("c", None)]
    state = {**initial_state(problems[0]), "drafts": drafts}
    update = verify(state, runtime(SingleConfig(), verifier=FunctionVerifier(fn)))
    assert seen == ["Answer: 5"]  # the scored draft and the failed one are not sent
    assert update["path"] == ["verify"]
    assert [(d["id"], d["score"]) for d in update["drafts"]] == [("a", 0.75)]
    assert "verifier_failed" not in update
    assert verify({**state, "drafts": update["drafts"][:0]}, runtime(SingleConfig())) == {"path": ["verify"]}


def test_verify_records_a_verifier_error_instead_of_raising(task, problems) -> None:
    def boom(question: str, candidate: str) -> float:
        raise RuntimeError("verifier down")

    state = {**initial_state(problems[0]), "drafts": [draft("a", "5")]}
    update = verify(state, runtime(SingleConfig(), verifier=FunctionVerifier(boom)))
    assert update["verifier_failed"] is True and "verifier down" in update["errors"][0]
    assert "drafts" not in update


@pytest.mark.parametrize(
    ("extra", "config", "status", "answer"),
    [
        ({"drafts": [draft("a", "5", 0.9), draft("b", "6", 0.2)]}, {}, "accept", "5"),
        ({"drafts": [draft("a", "5", 0.3)], "round": 3}, {"max_rounds": 3}, "max_rounds", "5"),
        ({"drafts": [draft("a", "5", 0.3)], "llm_calls": 4}, {"max_llm_calls": 4}, "budget", "5"),
        ({"drafts": [draft("a", "5", 0.3)], "verifier_failed": True}, {}, "verifier_error", "5"),
        # rounds and budget left, yet finalize reached: a step had no budget to draft ("budget")
        ({"drafts": [draft("a", None)]}, {}, "budget", None),
    ],
)
def test_finalize_status(problems, extra: dict, config: dict, status: str, answer: str | None) -> None:
    state = {**initial_state(problems[0]), "round": 1, **extra}
    update = finalize(state, runtime(SingleConfig(**config)))
    result = update["result"]
    assert update["path"] == ["finalize"]
    assert (result["status"], result["answer"], result["accepted"]) == (status, answer, status == "accept")
    assert result["drafts"] == len(extra["drafts"]) and result["mode"] == "verifier_only"


def test_solve_asks_for_no_more_than_the_budget_allows(task, problems) -> None:
    llm = FakeLLM(scripted({"solver": "a b c d e f Answer: 7"}))
    config = SingleConfig(n_drafts=4, max_llm_calls=10, max_tokens=100, max_new_tokens=64)
    state = {**initial_state(problems[0]), "llm_calls": 8, "generated_tokens": 90}
    update = solve(state, runtime(config, llm, task=task))
    [call] = llm.calls
    assert call.config.n == 2 and call.config.max_new_tokens == 5  # 2 calls and 10 tokens left
    assert [d["id"] for d in update["drafts"]] == ["r1-0", "r1-1"] and update["llm_calls"] == 2
    assert all(d["answer"] is None and d["score"] == 0.0 for d in update["drafts"])  # cut off: no answer

    spent = FakeLLM(scripted({"solver": "Answer: 7"}))
    update = solve({**state, "llm_calls": 10}, runtime(config, spent, task=task))
    assert spent.calls == [] and update == {"round": 1, "path": ["solve"]}


def test_reflect_records_its_trial_and_store_failure_stores_that_lesson(task, problems, tmp_path) -> None:
    llm = FakeLLM(scripted({"reflector": "Read the label first."}))
    config = ReflectiveConfig(n_drafts=1)
    with ChromaMemory(tmp_path / "mem", embedder="hash:64") as memory:
        rt = runtime(config, llm, task=task, memory=memory)
        state: dict[str, Any] = {**initial_state(problems[0]), "round": 2}
        state["drafts"] = [draft("r2-0", "5", 0.1, 2)]
        update = reflect(state, rt)
        assert update["reflections"] == [{"trial": 2, "text": "Read the label first.", "ok": True}]
        assert update["lessons"] == ["Read the label first."] and update["path"] == ["reflect"]

        # an older trial's lesson is not this trial's: nothing reflected on trial 2 yet
        old = [{"trial": 1, "text": "Plan: old lesson.", "ok": True}]
        assert store_failure({**state, "reflections": old}, rt)["stored_now"] is True
        assert memory.count("experience") == 1 and memory.count("reflection") == 0

        store_failure({**state, "reflections": old + update["reflections"]}, rt)
        assert [r.text for r in memory.iter_records("reflection")] == ["Read the label first."]


def test_distill_runs_only_after_a_write_and_counts_its_calls(task, problems, tmp_path: Path) -> None:
    llm = FakeLLM(scripted({"distiller": "ADD: Read the label first."}))
    config = ReflectiveConfig(distill_every=1)
    with ChromaMemory(tmp_path / "mem", embedder="hash:64") as memory:
        rt = runtime(config, llm, task=task, memory=memory)
        state: dict[str, Any] = {**initial_state(problems[0]), "round": 1}
        state["drafts"] = [draft("r1-0", "5", 0.9)]
        assert distill({**state, "stored_now": False}, rt) == {"path": ["distill"]}
        assert llm.calls == []

        written = store_success(state, rt)
        update = distill({**state, **written}, rt)
        assert update["distilled"] == 1 and update["path"] == ["distill"]
        assert update["llm_calls"] == sum(len(c.prompts) for c in llm.calls) == 1
        assert update["generated_tokens"] == 5  # "ADD: Read the label first."
        assert [c.text for c in memory.concepts(task.name)] == ["Read the label first."]
        # out of budget: no distillation even when one is due
        spent = {**state, **written, "llm_calls": config.max_llm_calls}
        assert distill(spent, rt) == {"path": ["distill"]}


@pytest.mark.parametrize(
    ("shown", "queried"),
    [
        ({}, {"experience", "concept"}),  # the defaults: exemplars as turns, concepts quoted
        ({"show_concepts": False}, {"experience"}),
        ({"show_failures": True, "show_lessons": True}, {"experience", "reflection", "concept"}),
    ],
)
def test_recall_queries_only_the_sections_the_graph_shows(
    task, problems, tmp_path: Path, shown: dict[str, bool], queried: set[str]
) -> None:
    from verbalrl.graphs.reflective import recall
    from verbalrl.memory import Concept, Experience, Reflection

    with ChromaMemory(tmp_path / "mem", embedder="hash:64") as memory:
        question = problems[0].question
        memory.add_experiences(
            [
                Experience(task=task.name, problem=question + " again", solution="Answer: 5",
                           outcome="success", verified=True, checker_confirmed=True),
                Experience(task=task.name, problem=question + " once more", solution="Answer: 6",
                           outcome="failure", reflection="Check the secret twice."),
            ]
        )
        memory.add_reflection(Reflection(task=task.name, problem="another one", text="Read slowly."))
        memory.replace_concepts(task.name, [Concept(task=task.name, text="Secrets are small numbers.")])
        calls: list[str] = []
        for kind in ("experience", "reflection", "concept"):
            col = memory._col(kind)
            real_query = col.query

            def counted(*args: Any, _kind: str = kind, _query: Any = real_query, **kwargs: Any) -> Any:
                calls.append(_kind)
                return _query(*args, **kwargs)

            col.query = counted  # type: ignore[method-assign]
        config = ReflectiveConfig(recall_k=2, **shown)
        update = recall(initial_state(problems[0]), runtime(config, task=task, memory=memory))
    assert set(calls) == queried
    assert update["demonstrations"] == [{"question": question + " again", "solution": "Answer: 5"}]
    section = update["memory_context"]
    assert ("Secrets are small numbers." in section) == ("concept" in queried)
    assert ("Check the secret twice." in section) == shown.get("show_failures", False)
    assert ("Read slowly." in section) == shown.get("show_lessons", False)
