"""Fixtures of the graph tests: a task whose gold answer is a unique marker, scripted models."""

from __future__ import annotations

import random
from typing import Any

import pytest

from verbalrl.tasks import GeneratedProblem, GeneratedTask, Split

GOLD = "GOLD-7319"
SECRET = "META-SECRET-4471"


class SecretTask(GeneratedTask):
    """Numeric-looking questions whose gold answer is a marker string that no prompt may contain."""

    name = "secret"
    description = "test task; the gold answer is a unique marker"
    answer_kind = "text"
    answer_format = "End with a line `Answer: <answer>`."

    def generate(self, rng: random.Random, split: Split) -> GeneratedProblem:
        a = rng.randint(100, 999)
        question = f"What is the code for box {a}?"
        return GeneratedProblem(question=question, answer=GOLD, meta={"secret": SECRET})


@pytest.fixture
def task() -> SecretTask:
    return SecretTask()


@pytest.fixture
def problems(task: SecretTask) -> list[Any]:
    return task.problems("test", n=4, seed=0)
