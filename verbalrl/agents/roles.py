"""Which role a prompt was written for, read from the marker each role puts in its prompt.

In scope: `role_markers()` (role -> a text that only that role's prompt
contains, taken from the constants the prompt builders themselves use, so the
two cannot drift apart) and `role_of(prompt)`. Scripted test models
(`verbalrl.testing.scripted`) answer by role with these; a tracer or a
dashboard can label calls with them. Left out: building prompts (one module
per role).

Order matters: a debater's or reviser's prompt embeds the solver's prompt,
and a quoted attempt may contain any text, so the most specific marker
(a system prompt) is checked first and the solver is what is left.
"""

from __future__ import annotations

from typing import Literal

from ..llm.base import Prompt, prompt_text

Role = Literal["critic", "reflector", "distiller", "debater", "reviser", "solver"]


def role_markers() -> dict[Role, str]:
    """Role -> the text that marks its prompt, most specific first (the solver has none)."""
    from ..memory.distill import SYSTEM as DISTILLER_SYSTEM  # memory's own prompt, imported lazily
    from . import critic, debater, reflector, reviser

    return {
        "critic": critic.SYSTEM,
        "reflector": reflector.SYSTEM,
        "distiller": DISTILLER_SYSTEM,
        "debater": debater.MARKER,
        "reviser": reviser.MARKER,
    }


def role_of(prompt: Prompt) -> Role:
    """The role `prompt` was built for; "solver" when no other role's marker is in it."""
    text = prompt_text(prompt)
    for role, marker in role_markers().items():
        if marker in text:
            return role
    return "solver"
