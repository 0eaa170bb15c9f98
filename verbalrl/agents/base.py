"""Typed results of the roles and the helpers every role shares.

In scope: `DraftResult`, `Critique` and `Lesson` (plain pydantic data that fits
in graph state once dumped), `blind()` which strips the gold answer off a
problem before any prompt is built, `safe_extract()` which calls a task's
answer extraction without ever raising, and text caps. Left out: the prompts
(one file per role).
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, ConfigDict

from ..tasks.base import Problem, Task

log = logging.getLogger(__name__)

# Caps on quoted model text inside later prompts: a runaway draft must not blow
# the next prompt past the model's context.
MAX_QUOTED_CHARS = 2_000
MAX_QUESTION_CHARS = 20_000


class DraftResult(BaseModel):
    """A parsed solution: the text, the extracted answer, and why it failed if it did."""

    model_config = ConfigDict(frozen=True)

    text: str
    answer: str | None
    ok: bool
    error: str | None = None


class Critique(BaseModel):
    """A parsed critique; `ok` is False when the model said nothing usable (a fallback is used)."""

    model_config = ConfigDict(frozen=True)

    text: str
    ok: bool
    source: str = "critic"  # "critic" (an LLM call) or "verifier" (a GenRM-CoT rationale)


class Lesson(BaseModel):
    """A parsed reflection: a concrete plan for the next attempt."""

    model_config = ConfigDict(frozen=True)

    text: str
    ok: bool


def blind(problem: Problem) -> Problem:
    """The problem with its gold answer and task data removed: the only form prompts see."""
    return problem.model_copy(update={"answer": "", "meta": {}})


def cap(text: str, limit: int = MAX_QUOTED_CHARS) -> str:
    """`text` cut to `limit` characters with a marker (quoted drafts stay bounded)."""
    text = text if isinstance(text, str) else str(text)
    return text if len(text) <= limit else text[: limit - 8].rstrip() + " …[cut]"


def safe_extract(task: Task, text: Any) -> str | None:
    """The task's answer in `text`, or None; never raises, whatever the model wrote."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        answer = task.extract_answer(text)
    except Exception as exc:  # noqa: BLE001 - a user task's parser must not stop the graph
        log.warning("answer extraction raised %s on model output; treated as no answer", exc)
        return None
    if answer is None or not isinstance(answer, str) or not answer.strip():
        return None
    return answer.strip()


def parse_draft(task: Task, text: Any) -> DraftResult:
    """A solver/reviser/debater reply as a draft; no answer in it makes a failed draft."""
    body = text if isinstance(text, str) else ""
    answer = safe_extract(task, body)
    if answer is None:
        error = "empty reply" if not body.strip() else "no answer found in the reply"
        return DraftResult(text=body, answer=None, ok=False, error=error)
    return DraftResult(text=body, answer=answer, ok=True)


def question_of(problem: Problem) -> str:
    """The question as prompts quote it, capped so a huge question cannot break the prompt."""
    return cap(problem.question, MAX_QUESTION_CHARS)
