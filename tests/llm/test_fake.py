"""The scripted model used by control-flow tests behaves as scripted."""

from __future__ import annotations

import pytest

from verbalrl.errors import CapabilityError
from verbalrl.llm import FakeLLM, GenerationConfig


def test_replies_in_order_with_log_and_stop():
    llm = FakeLLM(["one two STOP three", "four"], cycle=False)
    out = llm.generate(["p1", "p2"], GenerationConfig(stop=("STOP",)))
    assert [c.text for row in out for c in row] == ["one two ", "four"]
    assert out[0][0].finish_reason == "stop" and out[0][0].completion_tokens == 2
    assert llm.calls[0].method == "generate" and llm.calls[0].prompts == ["p1", "p2"]
    with pytest.raises(IndexError):
        llm.generate(["p3"])


def test_reply_function_and_probs():
    llm = FakeLLM(lambda p: f"echo {p}", probs={"Yes": 0.8, "No": 0.1})
    assert llm.generate(["x"], GenerationConfig(n=2))[0][1].text == "echo x"
    assert llm.next_token_probs(["q"], ["Yes", "No", "Maybe"]) == [
        {"Yes": 0.8, "No": 0.1, "Maybe": 0.0}
    ]
    assert llm.top_logprobs(["q"], k=1)[0][0][0] == "Yes"


def test_without_probs_next_token_probs_is_a_capability_error():
    llm = FakeLLM(["x"])
    assert not llm.capabilities.next_token_probs
    with pytest.raises(CapabilityError):
        llm.next_token_probs(["q"], ["Yes"])
