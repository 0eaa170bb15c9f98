"""Solver: the task's own prompt, plus optional persona, memory context and recent lessons.

The task's `prompt()` is used unchanged for the question (so answer-format
instructions stay the task's); memory and lessons are added as a quoted
section before the question, a persona to the system message.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..llm.base import Message
from ..tasks.base import Problem, Task
from .base import MAX_QUESTION_CHARS, blind, cap

# Personas give multi-agent debaters different angles on the same problem.
PERSONAS: tuple[str, ...] = (
    "You are a careful mathematician who checks every step.",
    "You are a pragmatic engineer who looks for the simplest correct method.",
    "You are a skeptical reviewer who double-checks the final answer against the question.",
    "You are a teacher who explains the solution clearly, one step at a time.",
)


def with_system_note(messages: list[Message], note: str) -> list[Message]:
    """Messages with `note` appended to the system message (or a new one in front)."""
    if not note:
        return messages
    out = [dict(m) for m in messages]
    for m in out:
        if m["role"] == "system":
            m["content"] = f"{m['content']}\n{note}"
            return out
    return [{"role": "system", "content": note}, *out]


def with_user_preamble(messages: list[Message], preamble: str) -> list[Message]:
    """Messages with `preamble` put before the (last) user turn's content."""
    if not preamble:
        return messages
    out = [dict(m) for m in messages]
    for m in reversed(out):
        if m["role"] == "user":
            m["content"] = f"{preamble}\n\n## Problem\n{m['content']}"
            return out
    return [*out, {"role": "user", "content": preamble}]


def task_prompt(task: Task, problem: Problem) -> list[Message]:
    """The task's solver prompt for the blinded problem, with the question capped."""
    shown = blind(problem)
    if len(shown.question) > MAX_QUESTION_CHARS:
        shown = shown.model_copy(update={"question": cap(shown.question, MAX_QUESTION_CHARS)})
    return [dict(m) for m in task.prompt(shown)]


def solver_prompt(
    task: Task,
    problem: Problem,
    *,
    persona: str | None = None,
    memory_context: str = "",
    lessons: Sequence[str] = (),
) -> list[Message]:
    """Chat messages asking for a solution; memory and lessons are quoted hints, not orders."""
    messages = task_prompt(task, problem)
    parts = []
    if memory_context:
        parts.append(memory_context)
    if lessons:
        items = "\n".join(f"- {cap(lesson, 600)}" for lesson in lessons)
        parts.append(
            "## Lessons from your previous attempts at this problem (avoid repeating mistakes)\n" + items
        )
    messages = with_user_preamble(messages, "\n\n".join(parts))
    return with_system_note(messages, persona or "")
