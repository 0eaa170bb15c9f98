"""The graphs driven by LangChain's ChatOpenAI pointed at `verbalrl serve` (loopback, the embedded model).

The agent's model and the GenRM verifier's model are both a `LangChainLLM`
over `ChatOpenAI`: drafts are sampled through the chat API (streamed, so
LangGraph's messages mode sees tokens), p(Yes) comes from its logprobs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.messages import AIMessageChunk
from langchain_openai import ChatOpenAI

from verbalrl.graphs import ReflectiveConfig, SingleConfig, build_graph, initial_state
from verbalrl.llm import load_llm
from verbalrl.llm.langchain_backend import LangChainLLM
from verbalrl.llm.server import serve_in_thread
from verbalrl.memory import ChromaMemory
from verbalrl.tasks import get_task
from verbalrl.verifier import GenRMVerifier

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(smollm) -> Iterator[LangChainLLM]:
    with serve_in_thread(smollm, model_name="smol") as srv:
        # stream_usage: token counts also when LangGraph's messages mode makes the model stream
        chat = ChatOpenAI(
            model="smol", base_url=srv.url, api_key="unused", max_retries=0, timeout=120, stream_usage=True
        )
        yield load_llm(chat)


def test_single_graph_with_chat_openai_streams_tokens_per_node(served: LangChainLLM) -> None:
    task = get_task("arithmetic")
    problem = task.problems("test", 1, seed=3)[0]
    verifier = GenRMVerifier(served)
    config = SingleConfig(n_drafts=2, max_rounds=1, max_new_tokens=48, seed=0)
    graph = build_graph("single", served, verifier, config, task=task)
    chunks = []
    final = None
    for mode, item in graph.stream(initial_state(problem), stream_mode=["messages", "values"]):
        if mode == "messages":
            chunks.append(item)
        else:
            final = item
    assert final is not None and final["path"] == ["solve", "verify", "finalize"]
    result = final["result"]
    # two drafts, then one verifier call per draft
    assert result["drafts"] == 2 and result["llm_calls"] == 4 and result["generated_tokens"] > 0
    assert result["score"] is not None and 0.0 <= result["score"] <= 1.0  # p(Yes) through logprobs
    # token by token, from the solve node only (verification reads logprobs, it does not chat)
    solve = [m for m, meta in chunks if meta["langgraph_node"] == "solve"]
    assert len(solve) > 4 and all(isinstance(m, AIMessageChunk) for m in solve)
    # the two drafts stream concurrently; their chunks carry the id of their own call
    streamed: dict[str, str] = {}
    for m in solve:
        streamed[str(m.id)] = streamed.get(str(m.id), "") + str(m.content)
    assert sorted(streamed.values()) == sorted(d["text"] for d in final["drafts"])


def test_reflective_graph_with_chat_openai_stores_and_recalls(served: LangChainLLM, tmp_path: Path) -> None:
    task = get_task("arithmetic")
    problems = task.problems("test", 2, seed=5)
    config = ReflectiveConfig(n_drafts=2, max_rounds=1, max_new_tokens=48, distill_every=0, threshold=0.0,
                              gate_threshold=0.0, gate_majority=False, seed=0)
    with ChromaMemory(tmp_path / "mem", embedder="hash:64") as memory:
        graph = build_graph("reflective", served, GenRMVerifier(served), config, memory=memory, task=task)
        first = graph.invoke(initial_state(problems[0]))
        second = graph.invoke(initial_state(problems[1]))
        assert first["result"]["stored"] == 1 and memory.count("experience") == 2
    assert second["result"]["demonstrations"] == 1  # the first problem's attempt, as chat turns
    assert second["path"][:3] == ["recall", "solve", "verify"]
