"""Reviser: rewrite a draft given a critique; the reply is parsed like any draft."""

from __future__ import annotations

from ..llm.base import Message
from ..tasks.base import Problem, Task
from .base import cap
from .solver import task_prompt, with_user_preamble

MARKER = "## Your previous attempt (quoted)"  # names the role in a prompt (see agents.roles)


def reviser_prompt(task: Task, problem: Problem, draft: str, critique: str) -> list[Message]:
    """The task's prompt with the previous attempt and its critique quoted before the question."""
    preamble = (
        f"{MARKER}\n"
        f"{cap(draft)}\n\n"
        "## Review of that attempt (quoted)\n"
        f"{cap(critique, 1_500)}\n\n"
        "Write a corrected solution from scratch and end with the answer line."
    )
    return with_user_preamble(task_prompt(task, problem), preamble)
