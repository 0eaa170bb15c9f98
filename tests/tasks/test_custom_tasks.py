"""User-defined tasks: `GeneratedTask` and `BaseTask` subclasses, and the shipped example."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from verbalrl.tasks import BaseTask, GeneratedProblem, GeneratedTask, Problem, Split, Task

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "custom_task.py"


class ParityTask(GeneratedTask):
    """A tiny finite space (0..19) returned as plain tuples, the least code a user can write."""

    name = "parity"
    description = "Is a number even or odd?"

    def generate(self, rng: random.Random, split: Split) -> tuple[str, str]:
        n = rng.randint(0, 19)
        return f"Is {n} even or odd?", "even" if n % 2 == 0 else "odd"


class DoubleTask(GeneratedTask):
    """A finite space listed by `all_generated`, numeric answers."""

    name = "double"
    description = "Double a number."
    answer_kind = "numeric"

    def all_generated(self, split: Split) -> list[GeneratedProblem]:
        return [GeneratedProblem(f"What is twice {n}?", str(2 * n), {"n": n}) for n in range(50)]


class CapitalsTask(BaseTask):
    """A dataset task: only `sample_problems` is needed."""

    name = "capitals"
    description = "Capitals."
    rows = [("France", "Paris"), ("Japan", "Tokyo"), ("Peru", "Lima")]

    def sample_problems(self, split: Split, n: int, seed: int) -> list[Problem]:
        return [
            Problem(
                id=f"capitals-{split}-{i}",
                task=self.name,
                split=split,
                question=f"What is the capital of {c}?",
                answer=a,
            )
            for i, (c, a) in enumerate(self.rows[:n])
        ]


@pytest.mark.parametrize("cls", [ParityTask, DoubleTask, CapitalsTask])
def test_user_tasks_satisfy_the_protocol(cls: type) -> None:
    task = cls()
    assert isinstance(task, Task)
    problem = task.problems("test", n=1)[0]
    assert task.check(problem, task.extract_answer(f"Thinking...\nAnswer: {problem.answer}"))
    assert task.reference_solution(problem) is None


def test_small_space_returns_every_problem_of_the_split_once() -> None:
    task = ParityTask()
    train = task.problems("train", n=100, seed=0)
    test = task.problems("test", n=100, seed=0)
    # 20 distinct questions exist; asking for more returns fewer, without looping forever.
    assert len(train) + len(test) == 20
    assert not {p.question for p in train} & {p.question for p in test}
    assert [p.id.split("-")[:3] for p in test] == [
        ["parity", "test", str(i)] for i in range(len(test))
    ]


def test_all_generated_and_numeric_answer_kind() -> None:
    task = DoubleTask()
    problems = task.problems("train", n=500, seed=1) + task.problems("test", n=500, seed=1)
    assert sorted(p.meta["n"] for p in problems) == list(range(50))
    problem = problems[0]
    assert task.check(problem, f"{int(problem.answer):,}.00")
    assert (
        task.extract_answer(f"so it is {problem.answer}") == problem.answer
    )  # last-number fallback


def test_generate_returning_garbage_is_a_clear_type_error() -> None:
    class Broken(GeneratedTask):
        name = "broken"

        def generate(self, rng: random.Random, split: Split) -> GeneratedProblem:
            return "oops"  # type: ignore[return-value]

    with pytest.raises(TypeError, match="GeneratedProblem or a \\(question, answer\\) tuple"):
        Broken().problems()


def test_generated_task_without_hooks_says_what_to_implement() -> None:
    class Empty(GeneratedTask):
        name = "empty"

    with pytest.raises(NotImplementedError, match="generate"):
        Empty().problems()


def test_example_runs_and_reports_checks() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "reference solutions checked correct: 3/3" in out
    assert "right, decorated" in out and "-> correct" in out
    assert "wrong                extracted=" in out and "-> wrong" in out
    assert "extracted=None" in out
