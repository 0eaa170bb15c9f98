"""A task whose solver prompt carries an agent's own instructions and fixed demonstrations.

In scope: `Demonstration` (one question/solution pair of an agent spec) and
`PromptedTask`, a wrapper around any `Task` whose `prompt()` puts the
instructions in the system message (replacing the task's) and the
demonstrations before the question as few-shot chat turns, by the same
mechanism the reflective graph uses for recalled exemplars
(`solver.with_demonstrations`). Everything else (problems, extraction,
checking, the name) is the wrapped task's.

Why a task wrapper and not a graph setting: every role that writes a
solution (solver, reviser, debater, the runner's baselines) starts from
`task.prompt()`, so wrapping the task reaches all graphs, present and
future, without touching their nodes, and a recalled exemplar of the
reflective graph is inserted after the fixed ones (nearest the question).
Left out: choosing instructions or demonstrations (`verbalrl.tuning`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..llm.base import Message
from ..tasks.base import Problem, Split, Task
from .solver import with_demonstrations


class Demonstration(BaseModel):
    """One fixed few-shot demonstration: a question and a correct solution of it (ending in `Answer:`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    question: str = Field(min_length=1)
    solution: str = Field(min_length=1)


def with_instructions(messages: list[Message], instructions: str | None) -> list[Message]:
    """`messages` with the system message's content replaced by `instructions` (or one put first)."""
    if not instructions:
        return messages
    out = [dict(m) for m in messages]
    for m in out:
        if m["role"] == "system":
            m["content"] = instructions
            return out
    return [{"role": "system", "content": instructions}, *out]


class PromptedTask:
    """`task` with `instructions` as the solver's system message and `demonstrations` as turns."""

    def __init__(
        self,
        task: Task,
        instructions: str | None = None,
        demonstrations: Sequence[Demonstration | dict[str, Any]] = (),
    ) -> None:
        self.inner: Task = task.inner if isinstance(task, PromptedTask) else task
        self.instructions = instructions or None
        self.demonstrations = tuple(
            d if isinstance(d, Demonstration) else Demonstration.model_validate(d) for d in demonstrations
        )
        self.name = self.inner.name
        self.description = self.inner.description

    def prompt(self, problem: Problem) -> list[Message]:
        messages = with_instructions(list(self.inner.prompt(problem)), self.instructions)
        return with_demonstrations(messages, self.inner, self.demonstrations)

    def problems(self, split: Split = "test", n: int = 10, seed: int = 0) -> list[Problem]:
        return self.inner.problems(split, n, seed)

    def extract_answer(self, text: str) -> str | None:
        return self.inner.extract_answer(text)

    def check(self, problem: Problem, answer: str | None) -> bool:
        return self.inner.check(problem, answer)

    def reference_solution(self, problem: Problem) -> str | None:
        return self.inner.reference_solution(problem)

    def __getattr__(self, name: str) -> Any:
        # the wrapped task's other attributes (answer_kind, ...); never while unpickling
        if name == "inner" or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return (
            f"PromptedTask({self.inner!r}, instructions={'set' if self.instructions else None}, "
            f"demonstrations={len(self.demonstrations)})"
        )


def prompted(
    task: Task, instructions: str | None = None, demonstrations: Sequence[Any] = ()
) -> Task:
    """`task` itself when there is nothing to add, else a `PromptedTask`."""
    if not instructions and not demonstrations:
        return task
    return PromptedTask(task, instructions, demonstrations)
