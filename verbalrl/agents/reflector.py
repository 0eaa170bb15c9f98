"""Reflector: after a rejected attempt, write the lesson as a concrete plan for the next try."""

from __future__ import annotations

import re
from typing import Any

from ..llm.base import Message
from ..tasks.base import Problem
from .base import Lesson, blind, cap, question_of

SYSTEM = (
    "You review a failed attempt at a problem. In two or three sentences, say what most "
    "likely went wrong and give a concrete plan for the next attempt. Start with 'Plan:'."
)

FALLBACK = "The last attempt was rejected; solve again step by step and verify the final answer."
_PLAN = re.compile(r"(?:plan|lesson)\s*:\s*", re.IGNORECASE)


def reflector_prompt(problem: Problem, attempt: str, score: float | None = None) -> list[Message]:
    """Messages asking for the lesson of a rejected `attempt`."""
    shown = blind(problem)
    rated = f" (a verifier rated it {score:.2f} out of 1)" if score is not None else ""
    user = (
        f"## Problem\n{question_of(shown)}\n\n## Failed attempt{rated}\n{cap(attempt)}\n\n"
        "## What went wrong, and the plan for next time"
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def parse_lesson(text: Any) -> Lesson:
    """The plan (text after 'Plan:' when present, else the whole reply); fallback when empty."""
    body = text.strip() if isinstance(text, str) else ""
    match = _PLAN.search(body)
    if match:
        body = body[match.end() :].strip() or body
    if not body:
        return Lesson(text=FALLBACK, ok=False)
    return Lesson(text=cap(" ".join(body.split()), 800), ok=True)
