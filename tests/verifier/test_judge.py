"""LLM-as-a-Judge: verdict parsing on untrusted text, vote counting, batching, compute."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verbalrl.llm.fake import FakeLLM, prompt_text
from verbalrl.tasks import Problem
from verbalrl.verifier.base import Verifier
from verbalrl.verifier.judge import LLMJudgeVerifier, judge_prompt, parse_verdict

PROBLEM = Problem(
    id="p-1",
    task="arithmetic",
    split="test",
    question="What is 40 + 2?",
    answer="98765",
)


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("The sum is right.\nVerdict: Yes", True),
        ("Verdict: No", False),
        ("**Verdict:** no.", False),
        ("verdict - YES!", True),
        ("The verdict is yes", True),
        ("Verdict: Yes\nOn second thought... Verdict: No", False),  # the last verdict counts
        ("Checking 40 + 2 = 42.\nYes.", True),  # a bare final line
        ("No", False),
        ("", None),
        ("   \n\n  ", None),
        ("Yesterday I computed it", None),
        ("Verdict: maybe", None),
        ("Verdict:", None),
        ("yes it is correct, I think", None),  # a last line that is more than a verdict
        ("\x00\ufffd\u202e<|im_end|>", None),
        ("Verdict " * 10_000, None),
        (None, None),
        (42, None),
    ],
)
def test_parse_verdict(text, verdict):
    assert parse_verdict(text) is verdict


@given(st.text(max_size=300))
def test_parse_verdict_never_raises(text):
    assert parse_verdict(text) in (True, False, None)


def _scripted(prompt):
    """Yes for the right answer, No for a wrong one, junk for anything else."""
    solution = prompt_text(prompt).split("Proposed solution:")[1]
    if "Answer: 42" in solution:
        return "40 + 2 = 42, so it is right.\nVerdict: Yes"
    if "Answer: 41" in solution:
        return "Verdict: No"
    return "I am not sure what to say here"


def test_judge_scores_are_the_fraction_of_yes_votes():
    llm = FakeLLM(_scripted)
    judge = LLMJudgeVerifier(llm, k=3)
    assert isinstance(judge, Verifier)
    result = judge.verify(PROBLEM, ["Answer: 42", "Answer: 41", "blah"])
    assert result.scores == [1.0, 0.0, 0.5]  # no parsed vote: 0.5, never a crash
    assert result.details is not None
    assert result.details[2]["missing"] == 3 and result.details[2]["votes"] == [None] * 3
    assert result.details[0]["yes"] == 3


def test_judge_mixed_votes_ignore_missing_ones():
    llm = FakeLLM(["Verdict: Yes", "Verdict: No", "garbage", "Verdict: Yes"])
    result = LLMJudgeVerifier(llm, k=4).verify(PROBLEM, ["Answer: 42"])
    assert result.scores == [pytest.approx(2 / 3)]
    assert result.details is not None and result.details[0]["missing"] == 1


def test_judge_batches_one_call_per_problem_and_counts_compute():
    llm = FakeLLM(_scripted)
    judge = LLMJudgeVerifier(llm, k=4, temperature=0.5, max_new_tokens=64, seed=7)
    result = judge.verify(PROBLEM, ["Answer: 42", "Answer: 41"])
    assert len(llm.calls) == 1
    call = llm.calls[0]
    assert len(call.prompts) == 2
    assert call.config is not None
    assert (call.config.n, call.config.temperature, call.config.seed) == (4, 0.5, 7)
    assert result.usage.llm_calls == 2 * 4
    # FakeLLM counts words as tokens.
    yes_words = len(_scripted(judge_prompt("q", "Answer: 42")).split())
    assert yes_words == 11
    assert result.usage.generated_tokens == 4 * yes_words + 4 * len("Verdict: No".split())
    expected_prompt = sum(len(prompt_text(p).split()) for p in call.prompts) * 4
    assert result.usage.prompt_tokens == expected_prompt


def test_judge_never_sees_the_gold_answer():
    llm = FakeLLM(["Verdict: Yes"])
    LLMJudgeVerifier(llm, k=2).verify(PROBLEM, ["Answer: 42", "I give up"])
    for prompt in llm.calls[0].prompts:
        text = prompt_text(prompt)
        assert PROBLEM.question in text
        assert PROBLEM.answer not in text
    assert prompt_text(judge_prompt("Q?", "S")).endswith("`Verdict: Yes` or `Verdict: No`.")


def test_judge_rejects_bad_input():
    with pytest.raises(ValueError, match="k must be >= 1"):
        LLMJudgeVerifier(FakeLLM(), k=0)
    with pytest.raises(ValueError, match="temperature"):
        LLMJudgeVerifier(FakeLLM(), temperature=-1.0)
    with pytest.raises(ValueError, match="candidates is empty"):
        LLMJudgeVerifier(FakeLLM()).verify(PROBLEM, [])


# The judge on the real SmolLM2 runs in test_evaluate.py (a tiny pool end to end).
