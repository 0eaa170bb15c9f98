"""Few-shot pools: demonstrations picked per problem, shown as chat turns, recorded in the pool."""

from __future__ import annotations

import pytest

from verbalrl.evaluation.pool import sample_pool
from verbalrl.evaluation.shots import Shot, pick_shots, pool_shots, reference_shots
from verbalrl.llm.base import GenerationConfig
from verbalrl.llm.fake import FakeLLM
from verbalrl.tasks import get_task


@pytest.fixture
def task():
    return get_task("arithmetic", level="sum30")


def test_reference_shots_are_train_problems_with_their_worked_solutions(task):
    shots = reference_shots(task, n=5, seed=1)
    train = task.problems("train", n=5, seed=1)
    assert [s.question for s in shots] == [p.question for p in train]
    assert all(s.solution == task.reference_solution(p) for s, p in zip(shots, train, strict=True))
    assert all(s.solution.rstrip().endswith(f"Answer: {p.answer}") for s, p in zip(shots, train, strict=True))


def test_pick_shots_never_shows_the_problem_itself_and_is_repeatable(task):
    problems = task.problems("test", n=3, seed=0)
    shots = [Shot(question=p.question, solution=f"Answer: {p.answer}") for p in problems]
    first = pick_shots(shots, problems[0], 2, seed=4)
    assert len(first) == 2 and problems[0].question not in {s.question for s in first}
    assert pick_shots(shots, problems[0], 2, seed=4) == first
    assert len(pick_shots(shots, problems[0], 5, seed=4)) == 2  # only two others exist
    assert pick_shots(shots, problems[0], 0) == []


def test_sample_pool_with_shots_puts_demonstrations_before_the_question_as_turns(task):
    problems = task.problems("test", n=3, seed=0)
    shots = reference_shots(task, n=4, seed=1)
    llm = FakeLLM(["Answer: 1"])
    config = GenerationConfig(temperature=0.8, seed=2)
    records = sample_pool(llm, task, problems, 2, config, progress=False, demonstrations=shots, shots=2)
    prompt = llm.calls[0].prompts[0]
    roles = [m["role"] for m in prompt]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    shown = pick_shots(shots, problems[0], 2, seed=2)
    assert [prompt[2]["content"], prompt[4]["content"]] == [s.solution for s in shown]
    assert shown[0].question in prompt[1]["content"] and problems[0].question in prompt[-1]["content"]
    assert all(r.shots == 2 for r in records)
    # zero-shot pools record shots=0 and old pool lines without the field still load
    plain = sample_pool(llm, task, problems, 1, config, progress=False)
    assert all(r.shots == 0 for r in plain)
    line = plain[0].model_dump()
    line.pop("shots")
    assert type(plain[0]).model_validate(line).shots == 0


def test_sample_pool_refuses_shots_without_demonstrations(task):
    with pytest.raises(ValueError, match="needs demonstrations"):
        sample_pool(
            FakeLLM(), task, task.problems("test", n=1), 1, GenerationConfig(), progress=False, shots=2
        )


def test_pool_shots_keep_one_correct_finished_short_solution_per_problem(task):
    problems = task.problems("test", n=2, seed=0)
    llm = FakeLLM([f"Answer: {problems[0].answer}", "Answer: -1"])
    records = sample_pool(llm, task, problems, 2, GenerationConfig(seed=0), progress=False)
    right = [r for r in records if r.correct]
    assert right, "the scripted replies answer the first problem correctly"
    shots = pool_shots(records)
    assert {s.question for s in shots} == {r.question for r in right}
    assert len(shots) == len({r.question for r in right})
    assert all(s.solution == f"Answer: {problems[0].answer}" for s in shots)
    with pytest.raises(ValueError, match="no correct"):
        pool_shots([r for r in records if not r.correct])
