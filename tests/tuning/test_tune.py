"""Module-level tuning with a scripted model and verifier: the known best spec is found, poor trials are
pruned, the test split is never read, and the front and the budget choice are right. Real Optuna (TPE)
with SQLite storage and real LangGraph graphs."""

from __future__ import annotations

import re
from pathlib import Path

import optuna
import pytest

from verbalrl.agents.roles import role_of
from verbalrl.errors import VerbalRLError
from verbalrl.llm.base import prompt_text
from verbalrl.llm.fake import FakeLLM
from verbalrl.run.agent import AgentSpec, read_agent_spec
from verbalrl.tasks import get_task
from verbalrl.tasks.base import Problem
from verbalrl.tuning import (
    DevSplit,
    SearchSpace,
    TrainOnlyTask,
    TuneSettings,
    choose,
    pareto_front,
    plot_pareto,
    tune,
)
from verbalrl.tuning.pareto import TrialResult
from verbalrl.verifier.base import FunctionVerifier

GOOD = "You are EXACT. Add the two numbers and end with `Answer: <n>`."


def adder(prompt) -> str:
    """Right only under the GOOD instructions; otherwise always answers 0."""
    text = prompt_text(prompt)
    if GOOD not in text:
        return "I think it is zero.\nAnswer: 0"
    a, b = map(int, re.findall(r"What is (\d+) \+ (\d+)\?", text)[-1])
    return f"{a} + {b} = {a + b}\nAnswer: {a + b}"


class RecordingTask:
    """A task that notes every split it is asked for."""

    def __init__(self) -> None:
        self.inner = get_task("arithmetic", level=1)
        self.name, self.description = self.inner.name, self.inner.description
        self.splits: list[str] = []

    def problems(self, split="test", n=10, seed=0) -> list[Problem]:
        self.splits.append(split)
        return self.inner.problems(split, n=n, seed=seed)

    def __getattr__(self, name):
        if name == "inner" or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.inner, name)

    def prompt(self, problem):
        return self.inner.prompt(problem)

    def extract_answer(self, text):
        return self.inner.extract_answer(text)

    def check(self, problem, answer):
        return self.inner.check(problem, answer)

    def reference_solution(self, problem):
        return self.inner.reference_solution(problem)


def settings(**fields) -> TuneSettings:
    space = SearchSpace(
        graphs=("single",), n_drafts=(1, 2, 4), max_rounds=(1,), thresholds=(0.5,), temperature=(0.7, 0.7),
        instructions=(None, GOOD),
    )  # fmt: skip
    base = AgentSpec(task="arithmetic", task_options={"level": 1}, model="fake:x", verifier="const")
    fields = {"space": space, "dev_n": 6, "prune_fraction": 0.33, **fields}
    return TuneSettings(base=base, **fields)


def run(tmp_path: Path, trials: int = 14, **fields):
    llm = FakeLLM(adder)
    task = RecordingTask()
    result = tune(
        settings(**fields), trials=trials, budget_calls=1.5, storage=f"sqlite:///{tmp_path / 'study.db'}",
        llm=llm, verifier=FunctionVerifier(lambda q, c: 0.9), task=task,  # type: ignore[arg-type]
    )  # fmt: skip
    return result, llm, task


def test_a_tune_finds_the_known_best_spec_and_writes_it(tmp_path: Path) -> None:
    result, llm, task = run(tmp_path)
    assert len(result.finished()) == 14 and result.ran == 14
    best = result.chosen
    assert best is not None and best.spec is not None
    assert best.accuracy == 1.0 and best.calls == 1.0  # one draft, scored by a free verifier
    assert best.spec.instructions == GOOD and best.spec.config.n_drafts == 1
    assert [r.number for r in result.front] == [best.number]  # it dominates every other spec

    spec_path, front_path = result.write(tmp_path / "agent.yaml")
    written = read_agent_spec(spec_path)
    assert written.instructions == GOOD and written.config.n_drafts == 1
    assert "dev accuracy 1.000 (checker)" in (written.name or "")
    assert written.replace(name=None) == best.spec
    assert '"accuracy": 1.0' in front_path.read_text()
    png = plot_pareto(result, tmp_path / "pareto.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_test_split_is_never_read(tmp_path: Path) -> None:
    result, llm, task = run(tmp_path, trials=6)
    assert task.splits and set(task.splits) == {"train"}
    train = {p.question for p in task.inner.problems("train", n=6)}
    test = {p.question for p in task.inner.problems("test", n=200)}
    asked = set()
    for call in llm.calls:
        for prompt in call.prompts:
            if role_of(prompt) == "solver":
                asked.add(re.findall(r"What is \d+ \+ \d+\?", prompt_text(prompt))[-1])
    assert asked and asked <= train and not asked & test
    with pytest.raises(VerbalRLError, match="only the train split"):
        TrainOnlyTask(task).problems("test", n=1)


def test_dominated_trials_are_pruned_after_the_first_chunk(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    verifier = FunctionVerifier(lambda q, c: 0.9)
    # first the best spec alone (one draft, GOOD), then the whole space in the same study
    alone = settings().space.model_copy(update={"n_drafts": (1,), "instructions": (GOOD,)})
    tune(settings(space=alone), trials=1, storage=storage, study_name="s", llm=FakeLLM(adder),
         verifier=verifier, task=RecordingTask())  # fmt: skip
    llm = FakeLLM(adder)
    result = tune(settings(), trials=12, storage=storage, study_name="s", resume=True, llm=llm,
                  verifier=verifier, task=RecordingTask())  # fmt: skip
    pruned = [r for r in result.results if r.state == "pruned"]
    assert pruned, [(r.number, r.state, r.params) for r in result.results]
    for r in pruned:  # ceil(6 * 0.33) = 2 dev problems, then stopped: all wrong, and no cheaper
        assert r.problems == 2 and r.accuracy == 0.0
        assert r.spec is not None and r.spec.instructions is None
    run_fully = [r for r in result.results if r.state == "complete" and r.number > 0]
    assert all(r.spec and r.spec.instructions == GOOD and r.problems == 6 for r in run_fully)
    assert not {r.number for r in pruned} & {r.number for r in result.front}
    # one solver prompt per problem run: a pruned trial ran 2, a reused one none
    solver_prompts = sum(1 for c in llm.calls for p in c.prompts if role_of(p) == "solver")
    ran = [r for r in result.results if r.number > 0 and r.reused_from is None]
    assert solver_prompts == sum(r.problems for r in ran)
    assert any(r.reused_from is not None for r in result.results)  # TPE repeats in a 6-point space


def test_a_second_call_with_more_trials_resumes_the_study(tmp_path: Path) -> None:
    first, _, _ = run(tmp_path, trials=4)
    numbers = [(r.number, r.accuracy, r.calls) for r in first.finished()]
    with pytest.raises(VerbalRLError, match="already has 4 trials"):
        run(tmp_path, trials=6)  # not a resume: refused, nothing redone
    llm = FakeLLM(adder)
    again = tune(
        settings(), trials=6, storage=f"sqlite:///{tmp_path / 'study.db'}", resume=True, llm=llm,
        verifier=FunctionVerifier(lambda q, c: 0.9), task=RecordingTask(),  # type: ignore[arg-type]
    )  # fmt: skip
    assert again.ran == 2 and len(again.finished()) == 6
    assert [(r.number, r.accuracy, r.calls) for r in again.finished()][:4] == numbers


def test_resuming_a_study_that_does_not_exist_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(VerbalRLError, match="no tune to resume"):
        tune(settings(), trials=1, storage=f"sqlite:///{tmp_path / 'x.db'}", resume=True,
             llm=FakeLLM(adder), verifier=FunctionVerifier(lambda q, c: 0.9))  # fmt: skip


def result(number: int, accuracy: float, calls: float, state: str = "complete") -> TrialResult:
    return TrialResult(number, state, None, accuracy, calls, calls * 10, 6, {})


def test_the_front_and_the_budget_choice() -> None:
    trials = [
        result(0, 0.5, 1.0), result(1, 0.5, 2.0), result(2, 0.8, 4.0), result(3, 0.9, 8.0),
        result(4, 0.7, 3.0, "pruned"), result(5, 0.8, 4.0), result(6, 0.95, 2.0, "pruned"),
    ]  # fmt: skip
    assert [r.number for r in pareto_front(trials)] == [0, 2, 3]
    assert choose(trials, 4.0).number == 2  # type: ignore[union-attr]
    assert choose(trials, 3.9).number == 0  # type: ignore[union-attr]
    assert choose(trials, None).number == 3  # type: ignore[union-attr]
    assert choose(trials, 0.5) is None


def test_dev_split_and_pool_are_disjoint_train_problems() -> None:
    task = get_task("arithmetic", level=2)
    split = DevSplit.of(task, dev_n=10, pool_n=5, seed=1)
    assert len(split.dev) == 10 and len(split.pool) == 5
    assert {p.split for p in split.dev + split.pool} == {"train"}
    assert not {p.id for p in split.dev} & {p.id for p in split.pool}


def test_a_bad_search_space_names_the_setting() -> None:
    with pytest.raises(ValueError, match="n_drafts: give at least one candidate"):
        SearchSpace(n_drafts=())
    with pytest.raises(ValueError, match="shots: up to 2 demonstrations asked, 0 available"):
        SearchSpace(shots=(0, 2))


def test_optuna_records_two_objectives(tmp_path: Path) -> None:
    result, _, _ = run(tmp_path, trials=3)
    study = optuna.load_study(study_name=result.study_name, storage=result.storage)
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
