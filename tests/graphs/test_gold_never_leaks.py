"""The gold answer never reaches a prompt and never steers the loop, in every graph and baseline."""

from __future__ import annotations

from pathlib import Path

import pytest

from verbalrl.graphs import build_graph, graph_config, initial_state
from verbalrl.llm.base import GenerationConfig
from verbalrl.llm.fake import FakeLLM, prompt_text
from verbalrl.memory import ChromaMemory
from verbalrl.run.baselines import run_baselines
from verbalrl.testing import score_by_answer, scripted

from .conftest import GOLD, SECRET

REPLIES = {
    "solver": "Try. Answer: 11",
    "critic": "Check step one.",
    "reviser": "Again. Answer: 12",
    "reflector": "Plan: be careful.",
    "debater": "Answer: 13",
    "distiller": "ADD: be careful",
}


def assert_no_leak(llm: FakeLLM) -> None:
    assert llm.calls
    for call in llm.calls:
        for prompt in call.prompts:
            text = prompt_text(prompt)
            assert GOLD not in text and f"Answer: {GOLD}" not in text and SECRET not in text


@pytest.mark.parametrize("graph", ["single", "multi", "reflective"])
@pytest.mark.parametrize("mode", [False, True])
def test_gold_never_in_any_prompt(graph: str, mode: bool, task, problems, tmp_path: Path) -> None:
    llm = FakeLLM(scripted(REPLIES))
    config = graph_config(graph, n_drafts=2, max_rounds=3, learn_from_feedback=mode)
    with ChromaMemory(tmp_path / "m", embedder="hash:64") as memory:
        compiled = build_graph(graph, llm, score_by_answer({}), config, memory=memory, task=task)
        for problem in problems[:3]:
            out = compiled.invoke(initial_state(problem))
            assert out["result"]["mode"] == config.mode
    assert_no_leak(llm)


@pytest.mark.parametrize("graph", ["single", "multi", "reflective"])
def test_gold_does_not_steer_the_loop(graph: str, task, problems, tmp_path: Path) -> None:
    """Two problems that differ only in the gold answer take the same path to the same result."""
    base = problems[0]
    twin = base.model_copy(update={"answer": "11"})  # now the model's answer is right
    outs = []
    for i, problem in enumerate((base, twin)):
        llm = FakeLLM(scripted(REPLIES))
        config = graph_config(graph, n_drafts=2, max_rounds=3)
        with ChromaMemory(tmp_path / f"m{i}", embedder="hash:64") as memory:
            compiled = build_graph(graph, llm, score_by_answer({"12": 0.3}), config, memory=memory, task=task)
            outs.append(compiled.invoke(initial_state(problem)))
    assert outs[0]["path"] == outs[1]["path"]
    assert outs[0]["result"] == outs[1]["result"]


def test_baselines_never_show_the_gold(task, problems) -> None:
    llm = FakeLLM(scripted(REPLIES))
    records = run_baselines(
        llm, score_by_answer({}), task, problems[0], n=3, gen=GenerationConfig(max_new_tokens=16)
    )
    assert [r["method"] for r in records] == ["single_shot", "self_consistency@3", "best_of_3"]
    assert_no_leak(llm)
