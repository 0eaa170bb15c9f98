"""GenRM direct and CoT: real SmolLM2 scores, prefix reuse, missing votes, bad input."""

from __future__ import annotations

import logging

import pytest

from verbalrl.errors import CapabilityError
from verbalrl.llm import FakeLLM
from verbalrl.tasks import get_task
from verbalrl.verifier.genrm import GenRMVerifier
from verbalrl.verifier.genrm_cot import GenRMCoTVerifier
from verbalrl.verifier.prompts import COT_VERDICT, truncate_middle, yes_probability


@pytest.fixture(scope="module")
def problem():
    return get_task("arithmetic", level="sum30").problems("test", n=1, seed=0)[0]


def _candidates(problem) -> list[str]:
    a = int(problem.answer)
    return [f"{problem.question} The sum is {v}.\nAnswer: {v}" for v in (a, a + 1, a - 2, a)]


@pytest.mark.slow
def test_real_genrm_scores_and_prefix_reuse(smollm, problem):
    verifier = GenRMVerifier(smollm)
    cands = _candidates(problem)
    batched = verifier.verify(problem, cands)
    assert len(batched.scores) == 4 and all(0.0 <= s <= 1.0 for s in batched.scores)
    assert batched.usage.llm_calls == 4 and batched.usage.prompt_tokens > 0
    one_by_one = [verifier.verify(problem, [c]).scores[0] for c in cands]
    assert batched.scores == pytest.approx(one_by_one, rel=1e-3)  # fp32: reuse changes nothing
    assert batched.scores[0] == pytest.approx(batched.scores[3], rel=1e-5)  # same text, same score
    for d in batched.details:
        assert d["p_yes"] <= d["p_yes_normalized"] <= 1.0
    # Several problems in one call give the same scores as one call each.
    other = get_task("arithmetic", level="sum30").problems("test", n=2, seed=0)[1]
    many = verifier.verify_many([(problem, cands[:2]), (other, _candidates(other)[:2])])
    assert many[0].scores == pytest.approx(batched.scores[:2], rel=1e-3)


def test_yes_probability_sums_both_spellings():
    yes, norm = yes_probability({"Yes": 0.2, " Yes": 0.1, "No": 0.3, " No": 0.0})
    assert yes == pytest.approx(0.3) and norm == pytest.approx(0.5)
    assert yes_probability({}) == (0.0, 0.5)


def test_backend_without_probabilities_is_refused():
    with pytest.raises(CapabilityError, match="next-token probabilities"):
        GenRMVerifier(FakeLLM(["x"]))


def test_empty_candidates_are_a_clear_error(problem):
    verifier = GenRMVerifier(FakeLLM(["x"], probs={"Yes": 0.5}))
    with pytest.raises(ValueError, match="empty"):
        verifier.verify(problem, [])


def test_long_solution_is_cut_in_the_middle_with_a_warning(caplog):
    text = "START " + "x" * 10_000 + " END"
    with caplog.at_level(logging.WARNING):
        cut = truncate_middle(text, 200)
    assert len(cut) <= 200 and cut.startswith("START") and cut.endswith("END")
    assert "truncated" in caplog.text


def test_cot_averages_votes_and_counts_missing_ones(problem):
    # Rationales are scripted; the verdict probabilities depend on the rationale text:
    # "good" -> p(Yes)=0.9, "bad" -> p(No)=0.8, junk -> almost no mass on Yes/No (missing).
    def probs(prompt, token):
        text = prompt[-1]["content"]
        if "good" in text:
            return {"Yes": 0.9, "No": 0.05}.get(token, 0.0)
        if "bad" in text:
            return {"Yes": 0.1, "No": 0.8}.get(token, 0.0)
        return 0.001

    llm = FakeLLM(["good step", "bad step", "@@junk@@", "good again"], probs=probs)
    verifier = GenRMCoTVerifier(llm, k=2)
    result = verifier.verify(problem, ["Answer: 1", "Answer: 2"])
    assert result.scores[0] == pytest.approx((0.9 + 0.1) / 2)
    assert result.scores[1] == pytest.approx(0.9)  # the junk vote is missing, not zero
    assert result.details[1]["missing_votes"] == 1
    assert result.usage.llm_calls == 8
    verdict_prompts = llm.calls[1].prompts
    assert all(p[-1]["role"] == "assistant" and p[-1]["content"].endswith(COT_VERDICT)
               for p in verdict_prompts)


def test_cot_with_no_verdict_at_all_scores_zero_and_never_crashes(problem):
    llm = FakeLLM(["\x00\x01 nonsense"], probs=lambda p, t: 0.0)
    result = GenRMCoTVerifier(llm, k=3).verify(problem, ["Answer: 5"])
    assert result.scores == [0.0] and result.details[0]["missing_votes"] == 3
