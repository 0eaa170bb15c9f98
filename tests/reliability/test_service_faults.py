"""Service faults: the model server dies mid-run. Nothing lost, nothing doubled, results as a clean run."""

from __future__ import annotations

from pathlib import Path

import pytest

from .service_faults import memory_server_restart, model_server_gone, model_server_restart

pytestmark = pytest.mark.slow


def test_a_model_server_restarted_mid_run_costs_a_pause_not_the_run(tmp_path: Path) -> None:
    report = model_server_restart(tmp_path, n=8, down=4.0, after=2)
    assert report["returncode"] == 0, report["log"]
    assert report["differences"] == [], report["differences"]
    assert report["finished"] == report["lines"] == 8
    assert "model server unavailable" in report["log"] or "retrying" in report["log"]


def test_a_model_server_that_never_returns_stops_the_run_clearly_and_resume_finishes(tmp_path: Path) -> None:
    report = model_server_gone(tmp_path, n=8, after=2, retry_wait=3.0)
    assert report["stopped_returncode"] != 0
    log = report["stop_log"]
    assert "still no answer after waiting" in log and "--resume" in log and "Traceback" not in log, log
    assert report["finished_before_resume"] < 8
    assert report["resume_returncode"] == 0
    assert report["differences"] == [], report["differences"]
    assert report["finished"] == report["lines"] == 8


def test_a_memory_server_restarted_mid_run_loses_and_doubles_nothing(tmp_path: Path) -> None:
    report = memory_server_restart(tmp_path, n=8, down=4.0, after=2)
    assert report["returncode"] == 0, report["log"]
    assert report["differences"] == [], report["differences"]
    assert report["finished"] == report["lines"] == 8
    assert "memory server unavailable" in report["log"]  # a write waited for the restart


def test_during_a_memory_outage_recall_fails_fast_and_is_recorded_but_a_write_stops_the_run(
    tmp_path: Path,
) -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    from verbalrl.graphs import ReflectiveConfig, build_graph, initial_state
    from verbalrl.llm.fake import FakeLLM
    from verbalrl.memory import ChromaMemory, MemoryConfig
    from verbalrl.memory.errors import MemoryUnavailableError
    from verbalrl.tasks import get_task
    from verbalrl.testing import score_by_answer, scripted

    from .harness import start_chroma_server

    server, port = start_chroma_server(tmp_path / "chroma")
    task = get_task("arithmetic")
    config = MemoryConfig(host="127.0.0.1", port=port, embedder="hash:64", server_wait=2.0)
    with ChromaMemory(config=config) as memory:
        server.kill()
        server.wait()
        graph = build_graph(
            "reflective", FakeLLM(scripted({"solver": "Answer: 3"})), score_by_answer({"3": 0.9}),
            ReflectiveConfig(n_drafts=1, distill_every=0), memory=memory, task=task,
            checkpointer=InMemorySaver(),
        )
        thread = {"configurable": {"thread_id": "outage"}}
        with pytest.raises(MemoryUnavailableError, match="did not answer.*start it again"):
            graph.invoke(initial_state(task.problems("test", 1)[0]), thread)
        state = graph.get_state(thread)
    assert any(e.startswith("recall error") for e in state.values["errors"])  # recorded, not fatal
    assert state.next == ("store_success",)  # the write is still to do: a resume does it
