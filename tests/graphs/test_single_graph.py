"""Single-agent graph control flow with a scripted model and scripted verifier scores."""

from __future__ import annotations

from typing import Any

import pytest

from verbalrl.graphs import SingleConfig, build_single_graph, initial_state
from verbalrl.llm.fake import FakeLLM
from verbalrl.testing import role_of, score_by_answer, scripted
from verbalrl.verifier.base import FunctionVerifier, Usage, Verification


def run(llm: Any, verifier: Any, task: Any, problem: Any, **config: Any) -> dict[str, Any]:
    graph = build_single_graph(llm, verifier, SingleConfig(**config), task=task)
    return graph.invoke(initial_state(problem))


def test_threshold_accepts_after_first_verify(task, problems) -> None:
    llm = FakeLLM(scripted({"solver": "Step. Answer: 12"}))
    out = run(llm, score_by_answer({"12": 0.9}), task, problems[0], n_drafts=3, threshold=0.8)
    assert out["path"] == ["solve", "verify", "finalize"]
    r = out["result"]
    assert (r["answer"], r["score"], r["status"], r["rounds"]) == ("12", 0.9, "accept", 1)
    assert r["llm_calls"] == 3 and r["generated_tokens"] == 3 * 3
    assert len(llm.calls) == 1 and llm.calls[0].config.n == 3  # one batched call for N drafts


def test_critique_and_revise_until_accepted(task, problems) -> None:
    llm = FakeLLM(
        scripted({"solver": "Answer: 1", "critic": "Step 2 is wrong.", "reviser": "Fixed. Answer: 2"})
    )
    out = run(llm, score_by_answer({"2": 0.95}), task, problems[0], n_drafts=2, threshold=0.8, max_rounds=4)
    assert out["path"] == ["solve", "verify", "critique", "revise", "verify", "finalize"]
    r = out["result"]
    assert (r["answer"], r["status"], r["rounds"]) == ("2", "accept", 2)
    assert r["llm_calls"] == 2 + 1 + 1
    reviser_prompts = [p for c in llm.calls for p in c.prompts if role_of(p) == "reviser"]
    assert len(reviser_prompts) == 1 and "Step 2 is wrong." in str(reviser_prompts[0])
    assert out["critiques"][0]["source"] == "critic"


def test_max_rounds_stops(task, problems) -> None:
    llm = FakeLLM(scripted({"solver": "Answer: 1", "critic": "wrong", "reviser": "Answer: 3"}))
    out = run(llm, score_by_answer({}), task, problems[0], n_drafts=1, threshold=0.5, max_rounds=3)
    assert out["path"] == ["solve", "verify"] + ["critique", "revise", "verify"] * 2 + ["finalize"]
    assert out["result"]["status"] == "max_rounds" and out["result"]["rounds"] == 3
    assert out["result"]["accepted"] is False


def test_llm_call_budget_stops(task, problems) -> None:
    llm = FakeLLM(scripted({"solver": "Answer: 1", "critic": "wrong", "reviser": "Answer: 3"}))
    out = run(llm, score_by_answer({}), task, problems[0], n_drafts=2, max_rounds=10, max_llm_calls=3)
    # 2 drafts + 1 critique use the budget: no revision is sampled
    assert out["path"] == ["solve", "verify", "critique", "finalize"]
    assert out["result"]["status"] == "budget" and out["result"]["llm_calls"] == 3


def test_token_budget_stops_and_clamps_generation(task, problems) -> None:
    llm = FakeLLM(scripted({"solver": "a b c d e f g h Answer: 1", "critic": "x y", "reviser": "Answer: 3"}))
    out = run(llm, score_by_answer({}), task, problems[0], n_drafts=2, max_rounds=10, max_tokens=12)
    assert out["result"]["status"] == "budget"
    assert out["result"]["generated_tokens"] <= 12
    assert llm.calls[0].config.max_new_tokens == 6  # 12 tokens shared by 2 drafts


def test_verifier_tokens_count_toward_budget(task, problems) -> None:
    class Costly:
        name = "costly"

        def verify(self, problem, candidates):
            return Verification([0.1] * len(candidates), Usage(llm_calls=10, generated_tokens=50))

    llm = FakeLLM(scripted({"solver": "Answer: 1"}))
    out = run(llm, Costly(), task, problems[0], n_drafts=1, max_rounds=5, max_llm_calls=11)
    assert out["result"]["llm_calls"] == 11 and out["result"]["generated_tokens"] == 52
    assert out["path"] == ["solve", "verify", "finalize"] and out["result"]["status"] == "budget"


def test_genrm_cot_rationale_serves_as_critique(task, problems) -> None:
    class CoT:
        name = "cot"

        def verify(self, problem, candidates):
            return Verification(
                [0.1] * len(candidates),
                Usage(llm_calls=2 * len(candidates)),
                [{"rationales": ["The sum in step 1 is off by one."]} for _ in candidates],
            )

    llm = FakeLLM(scripted({"solver": "Answer: 1", "reviser": "Answer: 3"}))
    out = run(llm, CoT(), task, problems[0], n_drafts=1, max_rounds=2)
    assert not any(role_of(p) == "critic" for c in llm.calls for p in c.prompts)
    assert out["critiques"][0]["source"] == "verifier"
    revise = [p for c in llm.calls for p in c.prompts if role_of(p) == "reviser"][0]
    assert "off by one" in str(revise)


def test_verifier_error_stops_with_partial_result(task, problems) -> None:
    def boom(question: str, candidate: str) -> float:
        raise RuntimeError("GPU on fire")

    llm = FakeLLM(scripted({"solver": "Answer: 1"}))
    out = run(llm, FunctionVerifier(boom), task, problems[0], n_drafts=2, max_rounds=3)
    assert out["path"] == ["solve", "verify", "finalize"]
    r = out["result"]
    assert r["status"] == "verifier_error" and "GPU on fire" in r["errors"][0]
    assert r["drafts"] == 2 and r["llm_calls"] == 2


def test_model_that_never_answers(task, problems) -> None:
    calls: list[int] = []

    def fn(q: str, c: str) -> float:
        calls.append(1)
        return 0.9

    llm = FakeLLM(scripted({"solver": "I am not sure.", "critic": "", "reviser": ""}))
    out = run(llm, FunctionVerifier(fn), task, problems[0], n_drafts=2, max_rounds=2)
    r = out["result"]
    assert r["answer"] is None and r["score"] is None and r["status"] == "max_rounds"
    assert r["failed_drafts"] == r["drafts"] == 3
    assert calls == []  # a draft without an answer is failed, never sent to the verifier


@pytest.mark.parametrize("n_drafts", [1, 4])
def test_best_draft_over_all_rounds_is_the_answer(task, problems, n_drafts: int) -> None:
    llm = FakeLLM(scripted({"solver": "Answer: 5", "critic": "hmm", "reviser": "Answer: 6"}))
    out = run(llm, score_by_answer({"5": 0.4, "6": 0.2}), task, problems[0], n_drafts=n_drafts, max_rounds=2)
    assert out["result"]["answer"] == "5" and out["result"]["score"] == 0.4


def test_each_call_draws_its_own_seed_per_problem_and_step_and_reruns_repeat(task, problems) -> None:
    def seeds(problem: Any) -> list[int | None]:
        llm = FakeLLM(scripted({"solver": "Answer: 1", "critic": "Redo it.", "reviser": "Answer: 2"}))
        graph = build_single_graph(
            llm, score_by_answer({}), SingleConfig(n_drafts=2, max_rounds=2, seed=7), task=task
        )
        graph.invoke(initial_state(problem))
        return [c.config.seed for c in llm.calls if c.method == "generate"]

    first, again, other = seeds(problems[0]), seeds(problems[0]), seeds(problems[1])
    assert len(first) == 3  # solve, critique, revise
    assert first == again  # the same run repeats exactly
    assert len(set(first)) == 3 and not set(first) & set(other)  # steps and problems draw apart
    unseeded = FakeLLM(scripted({"solver": "Answer: 1"}))
    build_single_graph(unseeded, score_by_answer({"1": 0.9}), SingleConfig(), task=task).invoke(
        initial_state(problems[0])
    )
    assert [c.config.seed for c in unseeded.calls if c.method == "generate"] == [None]
