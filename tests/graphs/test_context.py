"""GraphContext: the factories bind a default context, a run may replace it; schemas; run ids."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import ExecutionInfo, Runtime

from verbalrl.graphs import (
    GraphContext,
    ReflectiveConfig,
    SingleConfig,
    build_graph,
    build_single_graph,
    graph_config,
    graph_options,
    initial_state,
)
from verbalrl.graphs.checkpoint import sqlite_checkpointer
from verbalrl.graphs.context import run_id_of
from verbalrl.llm.fake import FakeLLM
from verbalrl.memory import ChromaMemory
from verbalrl.testing import score_by_answer, scripted


def test_the_bound_context_reaches_the_nodes_and_a_run_context_replaces_it(task, problems) -> None:
    bound = FakeLLM(scripted({"solver": "Answer: 1"}))
    verifier = score_by_answer({"1": 0.9, "2": 0.9})
    graph = build_single_graph(bound, verifier, SingleConfig(n_drafts=3), task=task)
    assert isinstance(graph, CompiledStateGraph) and graph.context_schema is GraphContext

    out = graph.invoke(initial_state(problems[0]))
    assert out["result"]["answer"] == "1" and [c.config.n for c in bound.calls] == [3]

    other = FakeLLM(scripted({"solver": "Answer: 2"}))
    ctx = GraphContext(llm=other, verifier=verifier, config=SingleConfig(n_drafts=2), task=task)
    out = graph.invoke(initial_state(problems[0]), context=ctx)
    # the run's context wins over the bound one: its model and its config
    assert out["result"]["answer"] == "2" and [c.config.n for c in other.calls] == [2]
    assert len(bound.calls) == 1
    # ... for that run only
    assert graph.invoke(initial_state(problems[1]))["result"]["answer"] == "1"


def test_a_resumed_thread_keeps_the_bound_context(task, problems, tmp_path: Path) -> None:
    saver, conn = sqlite_checkpointer(tmp_path / "ck.sqlite")
    try:
        config = SingleConfig(n_drafts=1, max_rounds=2)
        thread = {"configurable": {"thread_id": "run/p0"}, **graph_options(config)}
        llm = FakeLLM(scripted({"solver": "Answer: 1", "critic": "Check it.", "reviser": "Answer: 2"}))
        graph = build_graph("single", llm, score_by_answer({}), config, checkpointer=saver, task=task)
        updates = graph.stream(initial_state(problems[0]), thread, stream_mode="updates")
        for update in updates:  # stop after verify, as a crash would
            if "verify" in update:
                break
        updates.close()
        assert graph.get_state(thread).next == ("critique",)
        final = graph.invoke(None, thread)
        assert final["path"] == ["solve", "verify", "critique", "revise", "verify", "finalize"]
        assert final["result"]["llm_calls"] == 3
    finally:
        conn.close()


@pytest.mark.parametrize("name", ["single", "multi", "reflective"])
def test_input_and_output_json_schemas_name_the_state_fields(name: str, task) -> None:
    llm, verifier = FakeLLM(scripted({})), score_by_answer({})
    config = graph_config(name, **({"use_memory": False} if name == "reflective" else {}))
    graph = build_graph(name, llm, verifier, config, task=task)
    inputs, outputs = graph.get_input_jsonschema(), graph.get_output_jsonschema()
    assert {"problem", "drafts", "round", "path"} <= set(inputs["properties"])
    assert {"result", "drafts", "llm_calls"} <= set(outputs["properties"])
    # the typed records are in the schema, not a bare "object"
    assert {"DraftRecord", "ResultRecord"} <= set(outputs["$defs"])
    assert set(outputs["$defs"]["DraftRecord"]["properties"]) >= {"id", "answer", "score", "ok"}
    if name == "reflective":
        assert "LessonRecord" in outputs["$defs"]


def test_run_id_comes_from_the_context_else_the_thread() -> None:
    ctx = GraphContext(llm=FakeLLM(scripted({})), verifier=score_by_answer({}), config=SingleConfig())
    info = ExecutionInfo(checkpoint_id="c", checkpoint_ns="", task_id="t", thread_id="run-7/problem-3")
    assert run_id_of(Runtime(context=ctx, execution_info=info)) == "run-7"
    given = dataclasses.replace(ctx, run_id="given")
    assert run_id_of(Runtime(context=given, execution_info=info)) == "given"
    assert run_id_of(Runtime(context=ctx)) is None  # no thread: no run


def test_memory_provenance_records_the_run(task, problems, tmp_path: Path) -> None:
    saver, conn = sqlite_checkpointer(tmp_path / "ck.sqlite")
    llm = FakeLLM(scripted({"solver": "Answer: 42"}))
    config = ReflectiveConfig(n_drafts=1, distill_every=0)
    options: dict[str, Any] = graph_options(config)
    try:
        with ChromaMemory(tmp_path / "mem", embedder="hash:64") as memory:
            graph = build_graph(
                "reflective", llm, score_by_answer({"42": 0.9}), config, memory=memory,
                checkpointer=saver, task=task,
            )
            graph.invoke(initial_state(problems[0]), {"configurable": {"thread_id": "run-a/x"}, **options})
            ctx = GraphContext(
                llm=llm, verifier=score_by_answer({"42": 0.9}), config=config, task=task,
                memory=memory, run_id="run-b",
            )
            thread = {"configurable": {"thread_id": "t/y"}, **options}
            graph.invoke(initial_state(problems[1]), thread, context=ctx)
            runs = sorted(r.provenance.run for r in memory.iter_records("experience"))
    finally:
        conn.close()
    assert runs == ["run-a", "run-b"]


def test_context_is_frozen_and_checks_memory() -> None:
    llm, verifier = FakeLLM(scripted({})), score_by_answer({})
    with pytest.raises(ValueError, match="use_memory"):
        GraphContext(llm=llm, verifier=verifier, config=ReflectiveConfig())
    ctx = GraphContext(llm=llm, verifier=verifier, config=ReflectiveConfig(use_memory=False))
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.run_id = "x"  # type: ignore[misc]
