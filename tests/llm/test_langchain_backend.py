"""LangChainLLM: a LangChain chat model as the LLM protocol (LangChain's own fake models, no network)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import (
    FakeListChatModel,
    FakeMessagesListChatModel,
    GenericFakeChatModel,
)
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from verbalrl.errors import BackendError, CapabilityError, VerbalRLError
from verbalrl.llm import GenerationConfig, load_llm
from verbalrl.llm.langchain_backend import LangChainLLM
from verbalrl.verifier import GenRMCoTVerifier, GenRMVerifier

USER = [{"role": "user", "content": "What is 2 + 2?"}]


class RecordingChat(BaseChatModel):
    """Echoes the call's keyword arguments; records every call."""

    calls: list[dict[str, Any]] = []

    @property
    def _llm_type(self) -> str:
        return "recording"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any):
        self.calls.append({"messages": messages, "stop": stop, **kw})
        text = f"seed={kw.get('seed')} Answer: 4\nmore text"
        reply = AIMessage(
            content=text,
            usage_metadata={"input_tokens": 11, "output_tokens": 7, "total_tokens": 18},
            response_metadata={"finish_reason": "length"},
        )
        return ChatResult(generations=[ChatGeneration(message=reply)])


def test_generate_samples_n_per_prompt_with_distinct_seeds_and_the_sampling_settings() -> None:
    chat = RecordingChat(calls=[])
    llm = LangChainLLM(chat)
    config = GenerationConfig(n=3, temperature=0.5, top_p=0.9, max_new_tokens=20, seed=10)
    rows = llm.generate([USER, USER + [{"role": "assistant", "content": "4"}, *USER]], config)
    assert [len(r) for r in rows] == [3, 3]
    assert [c.text for c in rows[0]] == ["seed=10 Answer: 4\nmore text", "seed=11 Answer: 4\nmore text",
                                         "seed=12 Answer: 4\nmore text"]
    first = chat.calls[0]
    assert (first["temperature"], first["top_p"], first["max_tokens"]) == (0.5, 0.9, 20)
    # the calls run concurrently (batch): their order is not fixed, their contents are
    shapes = sorted(tuple(m.type for m in c["messages"]) for c in chat.calls)
    assert shapes == [("human",)] * 3 + [("human", "ai", "human")] * 3
    # token counts come from usage_metadata; "length" is kept when no stop string cut the text
    assert (rows[0][0].prompt_tokens, rows[0][0].completion_tokens) == (11, 7)
    assert rows[0][0].finish_reason == "length"


def test_stop_strings_go_to_the_model_and_cut_the_text() -> None:
    chat = RecordingChat(calls=[])
    rows = LangChainLLM(chat).generate([USER], GenerationConfig(stop=("\n",)))
    assert chat.calls[0]["stop"] == ["\n"]
    assert rows[0][0].text == "seed=None Answer: 4" and rows[0][0].finish_reason == "stop"


def test_sampling_false_sends_only_stop() -> None:
    chat = RecordingChat(calls=[])
    LangChainLLM(chat, sampling=False).generate([USER], GenerationConfig(seed=3, temperature=0.2))
    assert set(chat.calls[0]) == {"messages", "stop"}


def test_langchain_fake_model_replies_and_missing_usage_counts_zero() -> None:
    llm = LangChainLLM(FakeListChatModel(responses=["Answer: 1", "Answer: 2"]))
    rows = llm.generate([USER], GenerationConfig(n=2))
    assert sorted(c.text for c in rows[0]) == ["Answer: 1", "Answer: 2"]
    assert all(c.completion_tokens == 0 and c.finish_reason == "stop" for c in rows[0])
    assert llm.name == "fake-list-chat-model"


def test_raw_strings_and_prefilled_assistant_turns_are_refused_clearly() -> None:
    llm = LangChainLLM(FakeListChatModel(responses=["x"]))
    with pytest.raises(CapabilityError, match="raw string"):
        llm.generate(["2 + 2 ="])
    prefill = USER + [{"role": "assistant", "content": "Verification: Is the answer correct (Yes/No)?"}]
    with pytest.raises(CapabilityError, match="prefill"):
        llm.next_token_probs([prefill], ["Yes", "No"])
    assert not llm.capabilities.prefill and not llm.capabilities.raw_prompts
    # GenRM-CoT needs a prefill: refused when built, naming the way out
    with pytest.raises(CapabilityError, match="GenRM-CoT"):
        GenRMCoTVerifier(llm)


def test_next_token_probs_from_logprobs_else_a_capability_error_naming_the_provider() -> None:
    top = [{"token": "Yes", "logprob": -0.1}, {"token": "No", "logprob": -2.5}]
    reply = AIMessage(
        content="Yes",
        response_metadata={"logprobs": {"content": [{"token": "Yes", "logprob": -0.1, "top_logprobs": top}]}},
    )
    llm = LangChainLLM(FakeMessagesListChatModel(responses=[reply]))
    (probs,) = llm.next_token_probs([USER], ["Yes", "No", "Maybe"])
    assert probs["Yes"] == pytest.approx(0.905, abs=1e-3) and probs["No"] == pytest.approx(0.082, abs=1e-3)
    assert probs["Maybe"] == 0.0
    # the direct GenRM works through such a model
    assert GenRMVerifier(llm).llm is llm

    plain = LangChainLLM(GenericFakeChatModel(messages=iter([AIMessage(content="Yes")])))
    with pytest.raises(CapabilityError, match="generic-fake-chat-model.*no logprobs"):
        plain.next_token_probs([USER], ["Yes", "No"])


def test_a_failing_provider_raises_a_backend_error_naming_it() -> None:
    class Broken(RecordingChat):
        def _generate(self, *args: Any, **kw: Any) -> ChatResult:
            raise ConnectionError("server down")

    with pytest.raises(BackendError, match="recording.*ConnectionError: server down"):
        LangChainLLM(Broken(calls=[])).generate([USER])


def test_agenerate_uses_abatch() -> None:
    import asyncio

    llm = LangChainLLM(FakeListChatModel(responses=["Answer: 3"]))
    rows = asyncio.run(llm.agenerate([USER, USER], GenerationConfig(n=2)))
    assert [[c.text for c in r] for r in rows] == [["Answer: 3"] * 2] * 2


def test_load_llm_takes_a_chat_model_object_or_a_langchain_module_path(tmp_path: Path, monkeypatch) -> None:
    chat = FakeListChatModel(responses=["ok"])
    llm = load_llm(chat, sampling=False)
    assert isinstance(llm, LangChainLLM) and llm.chat_model is chat and not llm.sampling
    with pytest.raises(VerbalRLError, match="model name or a LangChain chat model"):
        load_llm(42)
    with pytest.raises(TypeError, match="BaseChatModel"):
        LangChainLLM("gpt-4o")

    (tmp_path / "my_models.py").write_text(
        "from langchain_core.language_models.fake_chat_models import FakeListChatModel\n"
        "chat = FakeListChatModel(responses=['from module'])\n"
        "def make(base_url=None, api_key=None):\n"
        "    return FakeListChatModel(responses=[f'url={base_url}'])\n"
        "not_a_model = 3\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert load_llm("langchain:my_models:chat").generate([USER])[0][0].text == "from module"
        made = load_llm("langchain:my_models:make", base_url="http://x/v1")
        assert made.generate([USER])[0][0].text == "url=http://x/v1"
        with pytest.raises(VerbalRLError, match="not a LangChain chat model"):
            load_llm("langchain:my_models:not_a_model")
        with pytest.raises(VerbalRLError, match="MODULE:ATTR"):
            load_llm("langchain:my_models")
        with pytest.raises(VerbalRLError, match="cannot load"):
            load_llm("langchain:my_models:missing")
    finally:
        sys.modules.pop("my_models", None)
