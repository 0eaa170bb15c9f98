"""Multi-agent debate graph: parallel drafts, debate rounds, verifier-weighted vote, stops."""

from __future__ import annotations

from typing import Any

from verbalrl.graphs import MultiConfig, build_multi_graph, initial_state
from verbalrl.llm.fake import FakeLLM, prompt_text
from verbalrl.testing import role_of, score_by_answer, scripted


def agent_replies(by_persona: dict[str, str], debate: str = "Answer: 9"):
    """Reply by the persona in the system message (word that identifies it) in round 1."""

    def solver(prompt: Any) -> str:
        text = prompt_text(prompt)
        for word, reply in by_persona.items():
            if word in text:
                return reply
        return "zzz"

    return scripted({"solver": solver, "debater": debate})


PERSONA_WORDS = {"mathematician": "Answer: 3", "engineer": "Answer: 3", "skeptical": "Answer: 5"}


def run(llm: Any, verifier: Any, task: Any, problem: Any, **config: Any) -> dict[str, Any]:
    graph = build_multi_graph(llm, verifier, MultiConfig(**config), task=task)
    return graph.invoke(initial_state(problem))


def test_weighted_vote_accepts_in_round_one(task, problems) -> None:
    llm = FakeLLM(agent_replies(PERSONA_WORDS))
    out = run(llm, score_by_answer({"3": 0.35, "5": 0.5}), task, problems[0], threshold=0.3)
    assert out["path"] == ["draft", "draft", "draft", "verify", "finalize"]
    r = out["result"]
    # "3" has two votes worth 0.7 in total, "5" one worth 0.5: the weighted vote picks "3"
    assert (r["answer"], r["score"], r["status"], r["llm_calls"]) == ("3", 0.35, "accept", 3)
    temps = sorted(c.config.temperature for c in llm.calls)
    assert temps == [0.7, 0.9, 1.0]  # one temperature per agent


def test_debate_rounds_read_other_drafts_with_scores(task, problems) -> None:
    llm = FakeLLM(agent_replies(PERSONA_WORDS, debate="Answer: 5"))
    out = run(llm, score_by_answer({"3": 0.2, "5": 0.3}), task, problems[0], threshold=0.9, max_rounds=3)
    assert out["path"] == (["draft"] * 3 + ["verify"]) * 3 + ["finalize"]
    r = out["result"]
    assert (r["answer"], r["status"], r["rounds"], r["llm_calls"]) == ("5", "max_rounds", 3, 9)
    debates = [p for c in llm.calls for p in c.prompts if role_of(p) == "debater"]
    assert len(debates) == 6
    assert "verifier score 0.30" in prompt_text(debates[0]) or "verifier score 0.20" in prompt_text(
        debates[0]
    )


def test_scores_hidden_when_not_shared(task, problems) -> None:
    llm = FakeLLM(agent_replies(PERSONA_WORDS))
    run(llm, score_by_answer({}), task, problems[0], max_rounds=2, share_scores=False)
    debates = [p for c in llm.calls for p in c.prompts if role_of(p) == "debater"]
    assert debates and not any("verifier score" in prompt_text(p) for p in debates)


def test_budget_limits_agents_per_round(task, problems) -> None:
    llm = FakeLLM(agent_replies(PERSONA_WORDS))
    out = run(llm, score_by_answer({}), task, problems[0], max_rounds=5, max_llm_calls=4)
    assert out["path"] == ["draft"] * 3 + ["verify", "draft", "verify", "finalize"]
    assert out["result"]["llm_calls"] == 4 and out["result"]["status"] == "budget"


def test_no_answers_gives_none(task, problems) -> None:
    llm = FakeLLM(scripted({"solver": "no idea", "debater": "still no idea"}))
    out = run(llm, score_by_answer({}), task, problems[0], max_rounds=2)
    assert out["result"]["answer"] is None and out["result"]["failed_drafts"] == 6
