"""Prompt-level search: demonstrations bootstrapped from the train pool (verified, else labeled),
instructions proposed from observed failures, both searched on the dev split; prepared once per study.
A scripted model that is right only when it is shown demonstrations."""

from __future__ import annotations

import re
from pathlib import Path

from verbalrl.agents.prompted import Demonstration
from verbalrl.llm.base import prompt_text
from verbalrl.llm.fake import FakeLLM
from verbalrl.run.agent import AgentSpec
from verbalrl.tasks import get_task
from verbalrl.tuning import DevSplit, PromptSearch, SearchSpace, TuneSettings, bootstrap, tune
from verbalrl.tuning.prompts import PROPOSER_SYSTEM
from verbalrl.verifier.base import FunctionVerifier

PROPOSED = "Follow the worked examples exactly and add the two numbers."


def learner(prompt) -> str:
    """Proposes PROPOSED when asked to improve instructions; solves only after demonstrations."""
    text = prompt_text(prompt)
    if PROPOSER_SYSTEM in text:
        return PROPOSED
    shown = isinstance(prompt, list) and any(m["role"] == "assistant" for m in prompt)
    if not shown:
        return "Answer: 0"
    a, b = map(int, re.findall(r"What is (\d+) \+ (\d+)\?", text)[-1])
    return f"{a} + {b} = {a + b}\nAnswer: {a + b}"


def settings(**prompts) -> TuneSettings:
    base = AgentSpec(task="arithmetic", task_options={"level": 1}, model="fake:x", verifier="const")
    space = SearchSpace(graphs=("single",), n_drafts=(1,), max_rounds=(1,), thresholds=(0.5,),
                        temperature=(0.7, 0.7))  # fmt: skip
    search = PromptSearch(**{"pool_n": 4, "shots": (0, 2), "propose": 2, **prompts})
    return TuneSettings(base=base, space=space, dev_n=5, prune_fraction=0.0, prompts=search)


def test_bootstrap_keeps_only_checker_verified_solutions() -> None:
    task = get_task("arithmetic", level=1)
    pool = task.problems("train", n=4, seed=0)
    right = {pool[0].question, pool[2].question}

    def some_right(prompt) -> str:
        q = re.findall(r"What is (\d+) \+ (\d+)\?", prompt_text(prompt))[-1]
        question = f"What is {q[0]} + {q[1]}?"
        return f"Answer: {int(q[0]) + int(q[1])}" if question in right else "Answer: -1"

    demos, failures = bootstrap(FakeLLM(some_right), task, pool)
    assert {d.question for d in demos} == right and all(d.solution.startswith("Answer: ") for d in demos)
    assert [p.question for p, _ in failures] == [pool[1].question, pool[3].question]


def test_prompt_search_finds_demonstrations_and_keeps_proposals(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    llm = FakeLLM(learner)
    verifier = FunctionVerifier(lambda q, c: 0.9)
    result = tune(settings(), trials=8, storage=storage, llm=llm, verifier=verifier)
    split = DevSplit.of(get_task("arithmetic", level=1), dev_n=5, pool_n=4, seed=0)
    pool = {p.question for p in split.pool}
    dev = {p.question for p in split.dev}

    chosen = result.chosen
    assert chosen is not None and chosen.spec is not None and chosen.accuracy == 1.0
    demos = chosen.spec.demonstrations
    assert len(demos) == 2 and {d.question for d in demos} <= pool and not {d.question for d in demos} & dev
    # the model failed every pool problem, so the demonstrations are the task's reference solutions
    task = get_task("arithmetic", level=1)
    by_question = {p.question: p for p in split.pool}
    assert all(d.solution == task.reference_solution(by_question[d.question]) for d in demos)
    # without demonstrations no trial was right; the proposed instruction was a candidate
    for r in result.results:
        if r.spec and not r.spec.demonstrations:
            assert r.accuracy == 0.0
    stored = result.settings.prompts
    assert stored.propose == 2
    import optuna

    study = optuna.load_study(study_name=result.study_name, storage=storage)
    assert PROPOSED in study.user_attrs["candidates"]["instructions"]
    assert study.user_attrs["candidates"]["failures"] == 4
    asked = sum(1 for c in llm.calls for p in c.prompts if PROPOSER_SYSTEM in prompt_text(p))
    assert asked == 1

    # a resume reads the candidates back: nothing is bootstrapped or proposed again
    again_llm = FakeLLM(learner)
    again = tune(settings(), trials=10, storage=storage, resume=True, llm=again_llm, verifier=verifier)
    assert len(again.finished()) == 10
    assert not any(PROPOSER_SYSTEM in prompt_text(p) for c in again_llm.calls for p in c.prompts)
    assert all(isinstance(d, Demonstration) for d in again.chosen.spec.demonstrations)  # type: ignore[union-attr]


def test_a_prompt_search_without_a_pool_is_a_clear_error() -> None:
    import pytest

    with pytest.raises(ValueError, match="shots: 2 demonstrations need a pool of at least as many"):
        PromptSearch(shots=(0, 2))
    with pytest.raises(ValueError, match="propose: proposals learn from failures on the pool"):
        PromptSearch(propose=2)
