"""Debater: revise your own draft after reading the other agents' drafts (and their scores)."""

from __future__ import annotations

from collections.abc import Sequence

from ..llm.base import Message
from ..tasks.base import Problem, Task
from .base import cap
from .solver import task_prompt, with_system_note, with_user_preamble

MARKER = "## Other agents' solutions (quoted)"  # names the role in a prompt (see agents.roles)


def debater_prompt(
    task: Task,
    problem: Problem,
    own: str,
    others: Sequence[tuple[str, float | None]],
    *,
    persona: str | None = None,
) -> list[Message]:
    """The task's prompt preceded by this agent's draft and the others' (score shown if not None)."""
    parts = ["## Your previous solution (quoted)", cap(own, 1_200), MARKER]
    for i, (text, score) in enumerate(others, 1):
        rated = f" (verifier score {score:.2f})" if score is not None else ""
        parts.append(f"### Agent {i}{rated}\n{cap(text, 1_200)}")
    parts.append(
        "Consider the other solutions critically. Keep your answer if you still think it is "
        "right, otherwise correct it. Write your updated solution and end with the answer line."
    )
    return with_system_note(with_user_preamble(task_prompt(task, problem), "\n\n".join(parts)), persona or "")
