"""The search graph (beam, DVTS, MCTS) with a model scripted per partial solution and scripted step scores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from verbalrl.errors import VerbalRLError
from verbalrl.graphs import SearchConfig, build_graph, graph_options, initial_state
from verbalrl.llm.base import Capabilities, Prompt, prompt_text
from verbalrl.llm.fake import FakeLLM
from verbalrl.tasks import get_task
from verbalrl.testing import role_of, score_by_answer
from verbalrl.verifier.base import Usage
from verbalrl.verifier.process import StepScores

from .conftest import GOLD, SECRET


class ScriptedSteps:
    """A process verifier scoring each line by a table (default 0.5); logs every call."""

    name = "scripted-steps"

    def __init__(self, table: Mapping[str, float], default: float = 0.5, fail: bool = False) -> None:
        self.table, self.default, self.fail = dict(table), default, fail
        self.calls: list[list[str]] = []

    def score_steps(self, problem: Any, candidates: Sequence[str]) -> StepScores:
        self.calls.append(list(candidates))
        if self.fail:
            raise RuntimeError("PRM crashed")
        steps = [[line.strip() for line in c.splitlines() if line.strip()] for c in candidates]
        scores = [[self.table.get(s, self.default) for s in row] for row in steps]
        return StepScores(steps=steps, scores=scores, usage=Usage(llm_calls=len(candidates)))


def prefix_of(prompt: Prompt) -> str:
    """The partial solution a prompt continues ("" for the first step)."""
    if isinstance(prompt, list) and prompt[-1]["role"] == "assistant":
        return prompt[-1]["content"].strip()
    return ""


def by_prefix(script: Mapping[str, Sequence[str]]) -> Any:
    """A reply function: the next of the replies scripted for the partial solution (cycling)."""
    seen: dict[str, int] = {}

    def reply(prompt: Prompt) -> str:
        key = prefix_of(prompt)
        options = script[key]
        i = seen.get(key, 0)
        seen[key] = i + 1
        return options[i % len(options)]

    return reply


@pytest.fixture
def chain():
    return get_task("chain", level=2)


@pytest.fixture
def problem(chain):
    return chain.problems("test", n=1, seed=0)[0]


def search(llm: Any, verifier: Any, task: Any, problem: Any, **fields: Any) -> dict[str, Any]:
    config = SearchConfig(**fields)
    graph = build_graph("search", llm, verifier, config, task=task)
    return graph.invoke(initial_state(problem), graph_options(config))


def nodes_by_text(out: dict[str, Any]) -> dict[str, str]:
    """Text -> the id of the first node with it."""
    ids: dict[str, str] = {}
    for n in out["nodes"]:
        ids.setdefault(n["text"], n["id"])
    return ids


def test_beam_expands_every_beam_in_one_call_keeps_the_best_and_answers_with_the_best_finished(
    chain, problem
) -> None:
    script = {
        "": ["A", "\nB\nthe next line", "C", "D"],  # a step is the first non-blank line
        "B": ["B1", "Answer: 5"],
        "D": ["D1", "D2"],
        "D\nD1": ["Answer: 6", ""],  # "": the model stopped, the solution is complete as it is
        "B\nB1": ["Answer: 4", "B2"],
    }
    table = {"A": 0.3, "B": 0.9, "C": 0.6, "D": 0.9, "B1": 0.4, "Answer: 5": 0.8, "D1": 0.7, "D2": 0.0,
             "Answer: 6": 0.95, "Answer: 4": 0.2, "B2": 0.0}  # fmt: skip
    llm, prm = FakeLLM(by_prefix(script)), ScriptedSteps(table)
    out = search(llm, prm, chain, problem, strategy="beam", beams=2, expansions=2, max_rounds=5)
    # one generate per step: the first samples beams x expansions children of the empty solution
    assert [(len(c.prompts), c.config.n) for c in llm.calls] == [(1, 4), (2, 2), (2, 2)]
    assert all(c.config.stop == () for c in llm.calls)
    assert llm.calls[0].prompts[0][-1]["role"] == "user"  # no prefill for the first step
    # B and D tie at 0.9: B was sampled first and leads; D2 scored 0 and was pruned
    assert [prefix_of(p) for p in llm.calls[1].prompts] == ["B", "D"]
    assert [prefix_of(p) for p in llm.calls[2].prompts] == ["D\nD1", "B\nB1"]
    ids = nodes_by_text(out)
    assert ids["B"] == "n2" and ids["D"] == "n4" and ids["D\nD1"] == "n7"
    # one score_steps call per step with every new child; the stopped child reuses its parent's scores
    assert [len(c) for c in prm.calls] == [4, 4, 3]
    assert "D\nD1" not in prm.calls[2]
    assert out["path"] == ["expand", "score", "select"] * 3 + ["finalize"]
    r = out["result"]
    assert (r["answer"], r["score"], r["status"], r["rounds"]) == ("6", 0.95, "accept", 3)
    assert (r["drafts"], r["failed_drafts"], r["verifier_calls"], r["nodes"]) == (4, 0, 11, 13)
    # the candidates: each finished child, scored by its last step (the stopped one: its parent's score;
    # without an answer line the chain task reads its last number)
    drafts = [(d["id"], d["answer"], d["score"]) for d in out["drafts"]]
    assert drafts == [("n6", "5", 0.8), ("n9", "6", 0.95), ("n10", "1", 0.7), ("n11", "4", 0.2)]
    assert r["llm_calls"] == 12 + 11  # sampled steps + PRM-scored candidates (its Usage)
    assert r["generated_tokens"] == 7 + 5 + 5  # the fake model counts words, the unused ones too


def test_dvts_runs_independent_greedy_subtrees_and_picks_the_best_across_them(chain, problem) -> None:
    script = {
        "": ["A", "B", "C", "D"],
        "C": ["Answer: 1", "C1"],
        "B": ["B1", "B2"],
        "B\nB1": ["Answer: 2", "Answer: 3"],
    }
    table = {"A": 0.5, "B": 0.7, "C": 0.8, "D": 0.8, "Answer: 1": 0.9, "C1": 0.6, "B1": 0.4, "B2": 0.1,
             "Answer: 2": 0.3, "Answer: 3": 0.5}  # fmt: skip
    llm, prm = FakeLLM(by_prefix(script)), ScriptedSteps(table)
    out = search(llm, prm, chain, problem, strategy="dvts", beams=4, expansions=2, max_rounds=5)
    # 2 subtrees: {A, B} and {C, D}; each continues from its best child only
    assert [(len(c.prompts), c.config.n) for c in llm.calls] == [(1, 4), (2, 2), (1, 2)]
    assert [prefix_of(p) for p in llm.calls[1].prompts] == ["C", "B"]  # C ties D: the earlier
    # subtree {C, D} ends at its best child "Answer: 1"; subtree {A, B} goes on from B1 to the end
    assert [prefix_of(p) for p in llm.calls[2].prompts] == ["B\nB1"]
    assert [n["subtree"] for n in out["nodes"][1:5]] == [0, 0, 1, 1]
    r = out["result"]
    assert (r["answer"], r["score"], r["status"], r["rounds"]) == ("1", 0.9, "accept", 3)
    assert [d["answer"] for d in out["drafts"]] == ["1", "2", "3"]


def test_mcts_selects_by_uct_backs_up_values_and_stops_after_max_rounds(chain, problem) -> None:
    script = {"": ["A", "B"], "B": ["B1", "B2"], "A": ["Answer: 3", "A1"]}
    table = {"A": 0.3, "B": 0.6, "B1": 0.2, "B2": 0.1, "Answer: 3": 0.9, "A1": 0.5}
    llm, prm = FakeLLM(by_prefix(script)), ScriptedSteps(table)
    out = search(
        llm, prm, chain, problem, strategy="mcts", expansions=2, max_rounds=3, exploration=0.0, threshold=0.95
    )
    # B (0.6) is expanded first; its children pull its mean to 0.3, a tie with A: the earlier, A, is next
    assert [prefix_of(c.prompts[0]) for c in llm.calls] == ["", "B", "A"]
    assert all(c.config.n == 2 and len(c.prompts) == 1 for c in llm.calls)
    nodes = {n["id"]: n for n in out["nodes"]}
    assert (nodes["n0"]["visits"], nodes["n0"]["value_sum"]) == (6, pytest.approx(2.6))
    assert (nodes["n1"]["visits"], nodes["n1"]["value_sum"]) == (3, pytest.approx(1.7))
    assert (nodes["n2"]["visits"], nodes["n2"]["value_sum"]) == (3, pytest.approx(0.9))
    assert out["frontier"] == ["n6"]  # A's open child A1 (its other child is finished)
    r = out["result"]
    assert (r["answer"], r["score"], r["status"], r["rounds"]) == ("3", 0.9, "max_rounds", 3)


def test_mcts_rollout_values_the_best_new_child_by_its_rolled_out_solution(chain, problem) -> None:
    script = {"": ["A", "B"], "B": ["B1\nAnswer: 9"]}
    table = {"A": 0.2, "B": 0.6, "B1": 0.5, "Answer: 9": 0.4}
    llm, prm = FakeLLM(by_prefix(script)), ScriptedSteps(table)
    out = search(llm, prm, chain, problem, strategy="mcts", expansions=2, max_rounds=1, rollout=True)
    assert out["path"] == ["expand", "score", "rollout", "select", "finalize"]
    rollout_call = llm.calls[1]
    assert prefix_of(rollout_call.prompts[0]) == "B" and rollout_call.config.n == 1
    assert rollout_call.config.max_new_tokens == 256  # to the end (max_new_tokens), not one step
    nodes = {n["id"]: n for n in out["nodes"]}
    assert nodes["n2"]["value"] == pytest.approx(0.4) and nodes["n2"]["status"] == "open"
    assert (nodes["n2"]["visits"], nodes["n2"]["value_sum"]) == (1, pytest.approx(0.4))
    assert out["frontier"] == ["n2"]  # 0.4 still beats A's 0.2
    assert out["drafts"][0]["id"] == "rollout-n2" and out["result"]["answer"] == "9"
    assert prm.calls[-1] == ["B\nB1\nAnswer: 9"]


def test_mcts_self_refines_a_weak_leaf_once_then_expands_it(chain, problem) -> None:
    solver = by_prefix({"": ["Aaa", "Bbb"], "Bbb": ["Bbb1"]})

    def reply(prompt: Prompt) -> str:
        role = role_of(prompt)
        if role == "critic":
            return "Step one is wrong."
        return "Ccc\nAnswer: 8" if role == "reviser" else solver(prompt)

    table = {"Aaa": 0.2, "Bbb": 0.3, "Ccc": 0.9, "Answer: 8": 0.9, "Bbb1": 0.6}
    llm, prm = FakeLLM(reply), ScriptedSteps(table)
    out = search(
        llm, prm, chain, problem, strategy="mcts", expansions=2, max_rounds=3, exploration=0.0,
        refine_below=0.5,
    )  # fmt: skip
    loop = ["expand", "score", "select"]
    assert out["path"] == [*loop, "refine", "score", "select", *loop, "finalize"]
    assert [role_of(c.prompts[0]) for c in llm.calls] == ["solver", "critic", "reviser", "solver"]
    assert "Bbb" in prompt_text(llm.calls[1].prompts[0])  # the weak leaf (0.3) is critiqued ...
    revise = prompt_text(llm.calls[2].prompts[0])
    assert "Step one is wrong." in revise and "Bbb" in revise  # ... and revised
    nodes = {n["id"]: n for n in out["nodes"]}
    assert nodes["n2"]["refined"] is True and nodes["n3"]["kind"] == "refine"
    assert nodes["n3"]["parent"] == "n0" and nodes["n3"]["text"] == "Ccc\nAnswer: 8"
    assert prefix_of(llm.calls[3].prompts[0]) == "Bbb"  # refined once: then expanded as usual
    r = out["result"]
    assert (r["answer"], r["score"], r["status"], r["rounds"]) == ("8", 0.9, "accept", 3)


@pytest.mark.parametrize("strategy", ["beam", "dvts", "mcts"])
def test_a_dead_end_when_every_child_scores_zero(strategy: str, chain, problem) -> None:
    llm, prm = FakeLLM(by_prefix({"": ["X", "Y"]})), ScriptedSteps({}, default=0.0)
    out = search(llm, prm, chain, problem, strategy=strategy, beams=2, expansions=2, max_rounds=5)
    assert out["path"] == ["expand", "score", "select", "finalize"]
    assert len(llm.calls) == 1
    r = out["result"]
    assert (r["answer"], r["score"], r["status"]) == (None, None, "dead_end")
    assert all(n["status"] == "pruned" for n in out["nodes"][1:])


def test_a_model_that_returns_nothing_ends_the_search(chain, problem) -> None:
    llm, prm = FakeLLM(by_prefix({"": [""]})), ScriptedSteps({})
    out = search(llm, prm, chain, problem, strategy="beam", beams=2, expansions=2)
    assert prm.calls == []  # nothing to score
    assert out["result"]["status"] == "dead_end" and out["result"]["answer"] is None
    assert out["result"]["drafts"] == 4 and out["result"]["failed_drafts"] == 4


def test_the_llm_call_budget_expands_only_the_best_beams_that_fit(chain, problem) -> None:
    script = {"": ["A", "B", "C", "D"], "B": ["B1"], "D": ["D1"]}
    table = {"A": 0.1, "B": 0.9, "C": 0.2, "D": 0.8}
    llm, prm = FakeLLM(by_prefix(script)), ScriptedSteps(table)
    out = search(llm, prm, chain, problem, beams=2, expansions=2, max_rounds=5, max_llm_calls=10)
    # step 1: 4 samples + 4 scored = 8; 2 calls left: only the best beam (B) gets its 2 samples
    assert [(len(c.prompts), c.config.n) for c in llm.calls] == [(1, 4), (1, 2)]
    assert prefix_of(llm.calls[1].prompts[0]) == "B"
    r = out["result"]
    assert (r["status"], r["llm_calls"]) == ("budget", 12)


def test_the_token_budget_clamps_each_step_and_stops(chain, problem) -> None:
    script = {"": ["A a", "B b", "C c", "D d"], "A": ["A1"], "B": ["B1"], "C": ["C1"], "D": ["D1"]}
    llm, prm = FakeLLM(by_prefix(script)), ScriptedSteps({})
    out = search(llm, prm, chain, problem, beams=2, expansions=2, max_rounds=5, max_tokens=6)
    assert [c.config.max_new_tokens for c in llm.calls] == [1, 1]
    assert [(len(c.prompts), c.config.n) for c in llm.calls] == [(1, 4), (1, 2)]
    assert out["result"]["generated_tokens"] == 6 and out["result"]["status"] == "budget"


def test_a_verifier_error_stops_the_search_with_the_error_recorded(chain, problem) -> None:
    llm, prm = FakeLLM(by_prefix({"": ["A"]})), ScriptedSteps({}, fail=True)
    out = search(llm, prm, chain, problem, beams=1, expansions=1)
    assert out["path"] == ["expand", "score", "select", "finalize"]
    assert out["result"]["status"] == "verifier_error"
    assert out["result"]["errors"] == ["verifier: RuntimeError: PRM crashed"]


def test_the_graph_needs_a_process_verifier_and_a_model_that_continues_text(chain) -> None:
    with pytest.raises(VerbalRLError, match="needs a process verifier"):
        build_graph("search", FakeLLM(["x"]), score_by_answer({}), SearchConfig(), task=chain)
    llm = FakeLLM(["x"])
    llm.capabilities = Capabilities(prefill=False)
    with pytest.raises(VerbalRLError, match="prefill"):
        build_graph("search", llm, ScriptedSteps({}), SearchConfig(), task=chain)


def test_the_runners_timing_proxy_is_looked_through(chain, problem) -> None:
    from verbalrl.llm.wrappers import ModelClock
    from verbalrl.verifier.base import TimedVerifier

    clock = ModelClock()
    prm = ScriptedSteps({"A": 0.7})
    wrapped = TimedVerifier(prm, clock)  # type: ignore[arg-type]
    out = search(FakeLLM(by_prefix({"": ["A"], "A": ["Answer: 1"]})), wrapped, chain, problem, beams=1,
                 expansions=1)  # fmt: skip
    assert len(prm.calls) == 2 and out["result"]["answer"] == "1"


@pytest.mark.parametrize("strategy", ["beam", "dvts", "mcts"])
def test_the_gold_answer_never_reaches_a_prompt(strategy: str, task, problems) -> None:
    llm = FakeLLM(by_prefix({"": ["Think.", "Answer: 11"], "Think.": ["Answer: 12"]}))
    for problem in problems[:2]:
        search(llm, ScriptedSteps({}), task, problem, strategy=strategy, beams=2, expansions=2)
    for call in llm.calls:
        for prompt in call.prompts:
            assert GOLD not in prompt_text(prompt) and SECRET not in prompt_text(prompt)


def test_a_long_search_runs_without_graph_options(chain, problem) -> None:
    """12 rounds take 37 graph steps, past LangGraph's default recursion limit of 25."""
    llm = FakeLLM(lambda prompt: f"step {len(prefix_of(prompt).splitlines())}")
    config = SearchConfig(beams=1, expansions=1, max_rounds=12, max_depth=20)
    out = build_graph("search", llm, ScriptedSteps({}), config, task=chain).invoke(initial_state(problem))
    assert out["result"]["rounds"] == 12 and out["result"]["status"] == "max_rounds"
    assert out["nodes"][-1]["depth"] == 12


def test_config_validation_and_subtrees() -> None:
    assert SearchConfig(beams=8, expansions=4).subtrees == 2
    assert SearchConfig(beams=2, expansions=4).subtrees == 1
    with pytest.raises(ValueError, match="strategy"):
        SearchConfig(strategy="greedy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="aggregation"):
        SearchConfig(aggregation="mean")  # type: ignore[arg-type]


def chain_expert(task: Any) -> Any:
    """A model that always writes the next line of the reference solution of the question it is asked."""
    import re

    from verbalrl.tasks import Problem

    def reply(prompt: Prompt) -> str:
        question = re.search(r"Compute [\d +\-]+\.", prompt_text(prompt))
        assert question is not None
        shown = Problem(id="q", task="chain", split="test", question=question[0], answer="")
        steps = task.reference_solution(shown).splitlines()
        done = len(prefix_of(prompt).splitlines()) if prefix_of(prompt) else 0
        return steps[done] if done < len(steps) else ""

    return reply


def test_the_runner_resumes_a_killed_search_from_its_checkpoint(chain, tmp_path) -> None:
    import json

    from verbalrl.run import Runner
    from verbalrl.testing import failing
    from verbalrl.verifier.process import CheckerStepVerifier

    problems = chain.problems("test", n=3, seed=1)
    config = SearchConfig(strategy="beam", beams=1, expansions=2, max_rounds=6)
    common = dict(run_id="s", runs_dir=tmp_path / "runs", output=tmp_path / "o.jsonl", progress=False)
    # level 2: three steps (two operations and the answer), two samples each; the 9th sample
    # (problem 2, step 2) crashes
    crashing = FakeLLM(failing(chain_expert(chain), "solver", after=8))
    with pytest.raises(RuntimeError, match="injected crash"):
        Runner("search", crashing, CheckerStepVerifier(chain), chain, config, **common).run(problems)
    healthy = FakeLLM(chain_expert(chain))
    report = Runner("search", healthy, CheckerStepVerifier(chain), chain, config, **common).run(problems)
    rows = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert [r["problem_id"] for r in rows] == [p.id for p in problems] and report["skipped"] == 1
    assert [r["resumed"] for r in rows] == [False, True, False]
    # the interrupted problem continued after its first step: two more prompts, then three for problem 3
    assert len(healthy.calls) == 2 + 3
    assert prefix_of(healthy.calls[0].prompts[0]) != ""
    for row in rows:
        assert row["correct"] is True and row["status"] == "accept" and row["method"] == "search"
        assert row["path"] == ["expand", "score", "select"] * 3 + ["finalize"]
        # 2 samples per step (duplicates: one beam), 3 steps; the oracle PRM costs no model calls
        assert (row["llm_calls"], row["verifier_calls"], row["rounds"]) == (6, 6, 3)


@pytest.mark.slow
def test_beam_search_on_the_real_model_keeps_only_right_partial_solutions(smollm, chain) -> None:
    from verbalrl.verifier.process import CheckerStepVerifier

    problem = chain.problems("test", n=1, seed=2)[0]
    config = SearchConfig(
        strategy="beam", beams=2, expansions=2, max_rounds=4, step_max_new_tokens=24, max_tokens=400,
        seed=0, temperature=0.8,
    )  # fmt: skip
    graph = build_graph("search", smollm, CheckerStepVerifier(chain), config, task=chain)
    out = graph.invoke(initial_state(problem), graph_options(config))
    r = out["result"]
    nodes = {n["id"]: n for n in out["nodes"]}
    assert r["generated_tokens"] <= 400 and r["generated_tokens"] == sum(n["tokens"] for n in nodes.values())
    assert r["llm_calls"] == len(nodes) - 1  # one sampled step per node; the oracle costs no calls
    # every child is its parent's solution plus one line
    for node in nodes.values():
        if node["parent"] is not None and node["step"]:
            assert node["text"] == f"{nodes[node['parent']]['text']}\n{node['step']}".strip()
            assert node["depth"] == nodes[node["parent"]]["depth"] + 1
    # the step checker scores a partial solution 1 while no step is wrong: every kept beam is right
    for round_ in range(1, r["rounds"] + 1):
        parents = {n["parent"] for n in nodes.values() if n["round"] == round_ + 1}
        for pid in parents:
            assert all(chain.prefix_labels(problem, nodes[pid]["text"])), nodes[pid]["text"]
