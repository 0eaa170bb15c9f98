"""The graphs in LangGraph users' hands: custom and messages streaming, subgraphs, human in the loop."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, TypedDict

from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage, AIMessageChunk
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph

from verbalrl.graphs import MultiConfig, ReflectiveConfig, SingleConfig, build_graph, initial_state
from verbalrl.llm.fake import FakeLLM
from verbalrl.llm.langchain_backend import LangChainLLM
from verbalrl.memory import ChromaMemory
from verbalrl.testing import score_by_answer, scripted


def custom_events(graph: Any, state: dict[str, Any], **options: Any) -> list[dict[str, Any]]:
    return list(graph.stream(state, stream_mode="custom", **options))


def test_single_graph_reports_drafts_scores_critiques_and_the_result(task, problems) -> None:
    llm = FakeLLM(scripted({"solver": "Answer: 1", "critic": "Recheck.", "reviser": "Answer: 2"}))
    verifier = score_by_answer({"1": 0.2, "2": 0.8})
    graph = build_graph("single", llm, verifier, SingleConfig(n_drafts=2), task=task)
    events = custom_events(graph, initial_state(problems[0]))
    kinds = [(e["event"], e["node"]) for e in events]
    assert kinds == [
        ("drafts", "solve"), ("scores", "verify"), ("critiques", "critique"),
        ("drafts", "revise"), ("scores", "verify"), ("result", "finalize"),
    ]
    first, scores, result = events[0], events[1], events[-1]
    assert [d["answer"] for d in first["drafts"]] == ["1", "1"] and first["round"] == 1
    assert [d["score"] for d in scores["drafts"]] == [0.2, 0.2] and scores["accepted"] == []
    assert events[4]["accepted"] == ["r2-0"]
    assert result == {"event": "result", "node": "finalize", "answer": "2", "score": 0.8, "status": "accept"}


def test_reflective_graph_reports_memory_recalled_and_stored(task, problems, tmp_path: Path) -> None:
    llm = FakeLLM(scripted({"solver": "Answer: 5"}))
    config = ReflectiveConfig(n_drafts=1, distill_every=0)
    with ChromaMemory(tmp_path / "mem", embedder="hash:64") as memory:
        graph = build_graph("reflective", llm, score_by_answer({"5": 0.95}), config, memory=memory, task=task)
        custom_events(graph, initial_state(problems[0]))
        events = custom_events(graph, initial_state(problems[1]))
    by_kind = {e["event"]: e for e in events}
    assert [e["event"] for e in events] == ["recalled", "drafts", "scores", "stored", "result"]
    assert by_kind["recalled"]["demonstrations"] == 1  # the first problem's success, as a chat turn
    assert by_kind["stored"]["outcome"] == "success" and by_kind["stored"]["node"] == "store_success"


def test_multi_graph_reports_each_agents_draft(task, problems) -> None:
    llm = FakeLLM(scripted({"solver": "Answer: 3"}))
    graph = build_graph("multi", llm, score_by_answer({"3": 0.9}), MultiConfig(n_agents=3), task=task)
    events = custom_events(graph, initial_state(problems[0]))
    assert sorted(e["event"] for e in events) == ["drafts"] * 3 + ["result", "scores"]


def test_messages_mode_sees_a_native_models_replies_tagged_with_the_node(task, problems) -> None:
    llm = FakeLLM(scripted({"solver": "Answer: 1", "critic": "Recheck.", "reviser": "Answer: 2"}))
    graph = build_graph("single", llm, score_by_answer({"2": 0.8}), SingleConfig(n_drafts=2), task=task)
    seen = [(m.content, meta["langgraph_node"]) for m, meta in graph.stream(
        initial_state(problems[0]), stream_mode="messages")]
    # two drafts, then the best one critiqued and revised (revise_top=1)
    assert seen == [
        ("Answer: 1", "solve"), ("Answer: 1", "solve"), ("Recheck.", "critique"), ("Answer: 2", "revise"),
    ]
    # plain invoke reports nothing and behaves as before
    assert graph.invoke(initial_state(problems[0]))["result"]["answer"] == "2"


def test_messages_mode_streams_a_langchain_models_tokens_per_node(task, problems) -> None:
    llm = LangChainLLM(FakeListChatModel(responses=["Answer: 7"]))
    graph = build_graph("single", llm, score_by_answer({"7": 0.9}), SingleConfig(n_drafts=1), task=task)
    chunks = list(graph.stream(initial_state(problems[0]), stream_mode="messages"))
    assert chunks and all(isinstance(m, AIMessageChunk) for m, _ in chunks)
    assert {meta["langgraph_node"] for _, meta in chunks} == {"solve"}
    assert "".join(m.content for m, _ in chunks) == "Answer: 7"


def test_single_and_reflective_graphs_run_on_langchains_fake_chat_model(task, problems) -> None:
    chat = FakeListChatModel(responses=["Answer: 4", "I got it wrong: add again.", "Answer: 9"])
    llm = LangChainLLM(chat)
    verifier = score_by_answer({"9": 0.9})
    single = build_graph("single", llm, verifier, SingleConfig(n_drafts=1, max_rounds=2), task=task)
    out = single.invoke(initial_state(problems[0]))
    assert out["path"] == ["solve", "verify", "critique", "revise", "verify", "finalize"]
    assert out["result"]["answer"] == "9" and out["result"]["status"] == "accept"

    chat.i = 0
    config = ReflectiveConfig(n_drafts=1, max_rounds=2, use_memory=False)
    reflective = build_graph("reflective", llm, verifier, config, task=task)
    out = reflective.invoke(initial_state(problems[0]))
    assert out["lessons"] == ["I got it wrong: add again."] and out["result"]["answer"] == "9"


class Outer(TypedDict, total=False):
    problem: dict[str, Any]
    result: dict[str, Any]
    note: str


def test_a_graph_works_as_a_subgraph_of_a_users_state_graph(task, problems) -> None:
    llm = FakeLLM(scripted({"solver": "Answer: 1"}))
    agent = build_graph("single", llm, score_by_answer({"1": 0.9}), SingleConfig(n_drafts=1), task=task)
    builder = StateGraph(Outer)
    builder.add_node("agent", agent)
    builder.add_node("report", lambda s: {"note": f"answer {s['result']['answer']}"})
    builder.add_edge(START, "agent")
    builder.add_edge("agent", "report")
    builder.add_edge("report", END)
    outer = builder.compile(checkpointer=InMemorySaver())
    thread = {"configurable": {"thread_id": "outer-1"}}
    out = outer.invoke({"problem": initial_state(problems[0])["problem"]}, thread)
    assert out["note"] == "answer 1" and out["result"]["status"] == "accept"
    # the subgraph's events reach the outer stream, namespaced
    events = list(outer.stream(
        {"problem": initial_state(problems[1])["problem"]}, {"configurable": {"thread_id": "outer-2"}},
        stream_mode="custom", subgraphs=True,
    ))
    assert [e["event"] for _, e in events] == ["drafts", "scores", "result"]
    assert all(ns and ns[0].startswith("agent:") for ns, _ in events)


def test_human_in_the_loop_interrupt_before_verify_edit_and_resume(task, problems) -> None:
    llm = FakeLLM(scripted({"solver": "Answer: 1"}))
    graph = build_graph(
        "single", llm, score_by_answer({"1": 0.1, "42": 0.9}), SingleConfig(n_drafts=1, max_rounds=1),
        checkpointer=InMemorySaver(), task=task,
    )
    thread = {"configurable": {"thread_id": "hitl"}}
    graph.invoke(initial_state(problems[0]), thread, interrupt_before=["verify"])
    paused = graph.get_state(thread)
    assert paused.next == ("verify",)
    (draft,) = paused.values["drafts"]
    # a person corrects the draft before the verifier sees it (drafts upsert by id)
    graph.update_state(thread, {"drafts": [{**draft, "text": "6 * 7 = 42\nAnswer: 42", "answer": "42"}]})
    final = graph.invoke(None, thread)
    assert final["result"]["answer"] == "42" and final["result"]["status"] == "accept"
    assert len(final["drafts"]) == 1 and len(llm.calls) == 1


def test_ainvoke_and_astream_work(task, problems) -> None:
    llm = FakeLLM(scripted({"solver": "Answer: 1"}))
    graph = build_graph("single", llm, score_by_answer({"1": 0.9}), SingleConfig(n_drafts=2), task=task)

    async def run() -> tuple[Any, list[Any]]:
        out = await graph.ainvoke(initial_state(problems[0]))
        stream = graph.astream(initial_state(problems[1]), stream_mode=["custom", "messages"])
        chunks = [c async for c in stream]
        return out, chunks

    out, chunks = asyncio.run(run())
    assert out["result"]["answer"] == "1"
    modes = [mode for mode, _ in chunks]
    assert modes.count("messages") == 2 and modes.count("custom") == 3
    assert all(isinstance(c[0], AIMessage) for mode, c in chunks if mode == "messages")
