"""Solver: the task's own prompt, plus optional demonstrations, persona, memory context and lessons.

The task's `prompt()` is used unchanged for the question (so answer-format
instructions stay the task's). Demonstrations (verified solutions of other
problems) come first as few-shot chat turns: the task's own prompt for the
demonstrated problem as a user turn, its solution as the assistant turn. A
small model imitates such turns and ignores the same text quoted in a block
(DESIGN.md: 41.9 % against 8.7 % correct per sample on sum30). Memory text
that is read rather than imitated (lessons, concepts) and this problem's own
lessons are added as a quoted section before the question; a persona goes to
the system message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

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


def with_demonstrations(messages: list[Message], task: Task, demonstrations: Sequence[Any]) -> list[Message]:
    """`messages` with a (user: the task's prompt, assistant: solution) pair per demonstration
    inserted before the last user turn, in the given order (most relevant first).

    A demonstration is a `verbalrl.memory.Demonstration` or a mapping with `question` and
    `solution` (the graph state holds plain dicts). Its question goes through the task's own
    prompt (blinded, capped), so a demonstrated turn looks exactly like the real one.
    """
    if not demonstrations:
        return messages
    turns: list[Message] = []
    for demo in demonstrations:
        question, solution = _fields(demo)
        shown = Problem(id="demonstration", task=task.name, split="test", question=question, answer="")
        user = next(m for m in reversed(task_prompt(task, shown)) if m["role"] == "user")
        turns += [{"role": "user", "content": user["content"]}, {"role": "assistant", "content": solution}]
    out = [dict(m) for m in messages]
    last_user = max(i for i, m in enumerate(out) if m["role"] == "user")
    return [*out[:last_user], *turns, *out[last_user:]]


def _fields(demo: Any) -> tuple[str, str]:
    if isinstance(demo, Mapping):
        return str(demo["question"]), str(demo["solution"])
    return str(demo.question), str(demo.solution)


def solver_prompt(
    task: Task,
    problem: Problem,
    *,
    persona: str | None = None,
    memory_context: str = "",
    lessons: Sequence[str] = (),
    demonstrations: Sequence[Any] = (),
) -> list[Message]:
    """Chat messages asking for a solution: demonstrations as turns; memory and lessons quoted hints."""
    messages = with_demonstrations(task_prompt(task, problem), task, demonstrations)
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
