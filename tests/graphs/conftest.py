"""Fixtures of the graph tests: a task whose gold answer is a unique marker, scripted models."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from verbalrl.llm.base import Prompt
from verbalrl.llm.fake import prompt_text
from verbalrl.tasks import Draft, GeneratedTask, Split
from verbalrl.verifier.base import FunctionVerifier

GOLD = "GOLD-7319"
SECRET = "META-SECRET-4471"


class SecretTask(GeneratedTask):
    """Numeric-looking questions whose gold answer is a marker string that no prompt may contain."""

    name = "secret"
    description = "test task; the gold answer is a unique marker"
    answer_kind = "text"
    answer_format = "End with a line `Answer: <answer>`."

    def generate(self, rng: random.Random, split: Split) -> Draft:
        a = rng.randint(100, 999)
        return Draft(question=f"What is the code for box {a}?", answer=GOLD, meta={"secret": SECRET})


@pytest.fixture
def task() -> SecretTask:
    return SecretTask()


@pytest.fixture
def problems(task: SecretTask) -> list[Any]:
    return task.problems("test", n=4, seed=0)


def role_of(prompt: Prompt) -> str:
    """Which agent a prompt is for, from its text (solver, critic, reviser, reflector, debater, distiller)."""
    text = prompt_text(prompt)
    if "strict reviewer" in text:
        return "critic"
    if "failed attempt at a problem" in text:
        return "reflector"
    if "maintain a short list of general insights" in text:
        return "distiller"
    if "Other agents' solutions" in text:
        return "debater"
    if "Your previous attempt" in text:
        return "reviser"
    return "solver"


def scripted(replies: dict[str, str | Callable[[Prompt], str]]) -> Callable[[Prompt], str]:
    """A FakeLLM reply function answering by role (missing roles reply with junk)."""

    def reply(prompt: Prompt) -> str:
        value = replies.get(role_of(prompt), "zzz")
        return value(prompt) if callable(value) else value

    return reply


def score_by_answer(scores: dict[str, float], default: float = 0.1) -> FunctionVerifier:
    """A verifier whose score is looked up from the `Answer:` in the candidate."""

    def fn(question: str, candidate: str) -> float:
        for key, value in scores.items():
            if f"Answer: {key}" in candidate:
                return value
        return default

    return FunctionVerifier(fn, name="scripted")


@pytest.fixture
def roles() -> Callable[..., Callable[[Prompt], str]]:
    return scripted


@pytest.fixture
def scored() -> Callable[..., FunctionVerifier]:
    return score_by_answer
