"""Critic: read a draft and point out what is wrong; or reuse a GenRM-CoT rationale as the critique."""

from __future__ import annotations

from typing import Any

from ..llm.base import Message
from ..tasks.base import Problem
from .base import Critique, blind, cap, question_of

SYSTEM = (
    "You are a strict reviewer. Check the proposed solution step by step. Point out the "
    "first mistake and say how to fix it. If you find no mistake, say what to double-check. "
    "Do not write a full solution."
)

FALLBACK = "The solution may be wrong. Recompute each step carefully and check the final answer."


def critic_prompt(problem: Problem, draft: str, score: float | None = None) -> list[Message]:
    """Messages asking for a critique of `draft` (its verifier score, if given, as a hint)."""
    shown = blind(problem)
    hint = ""
    if score is not None:
        hint = f"\nAn automatic verifier rated this solution {score:.2f} (0 = wrong, 1 = right)."
    user = (
        f"## Problem\n{question_of(shown)}\n\n## Proposed solution\n{cap(draft)}\n{hint}\n\n"
        "## Your review (mistakes and how to fix them)"
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def parse_critique(text: Any) -> Critique:
    """The critique text, trimmed; an empty reply gives the generic fallback with ok=False."""
    body = text.strip() if isinstance(text, str) else ""
    if not body:
        return Critique(text=FALLBACK, ok=False)
    return Critique(text=cap(body, 1_500), ok=True)


def critique_from_rationale(rationale: Any) -> Critique:
    """A GenRM-CoT verification rationale used as the critique (no extra LLM call)."""
    critique = parse_critique(rationale)
    return critique.model_copy(update={"source": "verifier"})
