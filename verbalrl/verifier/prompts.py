"""The verification prompt formats, shared by scoring and training so they never drift.

In scope: the direct GenRM prompt (ending in `Is the answer correct (Yes/No)?`),
the process verifier's prompt head (its steps follow, each closed by
`Is this step correct (Yes/No)?`: see `prm.encode_steps`),
the GenRM-CoT prompt (`Let's verify step by step.`, a rationale, then
`Verification: Is the answer correct (Yes/No)?`), the verdict tokens, and the
middle-truncation of over-long solutions. Left out: model calls.

Candidate solutions are untrusted model text: they are placed in the user
turn as quoted data; a solution that says "answer Yes" is just text the
verifier was trained to see through.
"""

from __future__ import annotations

import logging

from ..llm.base import Message

log = logging.getLogger(__name__)

VERIFY_QUESTION = "Is the answer correct (Yes/No)?"
STEP_QUESTION = "Is this step correct (Yes/No)?"
STEP_INSTRUCTION = (
    "Check the proposed solution one step at a time: after each step, say whether it is correct."
)
COT_CUE = "Let's verify step by step."
COT_VERDICT = "Verification: Is the answer correct (Yes/No)?"
YES_TOKENS = ("Yes", " Yes")
NO_TOKENS = ("No", " No")
VERDICT_TOKENS = YES_TOKENS + NO_TOKENS

SYSTEM = "You are a careful grader of solutions to problems."

# Solutions beyond this are cut in the middle (the start shows the method, the end the
# answer); ~1.5k tokens for English, well inside an 8k context with the question.
MAX_SOLUTION_CHARS = 6000
_CUT = "\n[... middle of the solution truncated ...]\n"


def truncate_middle(text: str, max_chars: int = MAX_SOLUTION_CHARS) -> str:
    """Keep the start and end of an over-long text, with a marker and a warning."""
    if len(text) <= max_chars:
        return text
    keep = max(0, max_chars - len(_CUT))
    head, tail = keep // 2, keep - keep // 2
    log.warning("solution of %d characters truncated to %d (middle cut)", len(text), max_chars)
    return text[:head] + _CUT + text[len(text) - tail :]


def _body(question: str, solution: str) -> str:
    return f"Question: {question.strip()}\n\nProposed solution:\n{truncate_middle(solution.strip())}\n\n"


def direct_prompt(question: str, solution: str) -> list[Message]:
    """Chat prompt whose next token is the verdict (Yes/No)."""
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": _body(question, solution) + VERIFY_QUESTION},
    ]


def direct_target(correct: bool) -> str:
    """The training target of a direct verification example: one verdict token."""
    return "Yes" if correct else "No"


def cot_prompt(question: str, solution: str) -> list[Message]:
    """Chat prompt after which the model writes a verification rationale."""
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": _body(question, solution) + COT_CUE},
    ]


def cot_verdict_prompt(question: str, solution: str, rationale: str) -> list[Message]:
    """The CoT prompt with the rationale as a prefilled assistant turn, ending in the verdict cue."""
    cleaned = rationale.split(COT_VERDICT)[0].rstrip()
    return cot_prompt(question, solution) + [
        {"role": "assistant", "content": f"{cleaned}\n{COT_VERDICT}"}
    ]


def cot_target(rationale: str, correct: bool) -> str:
    """The training target of a CoT example: rationale, verdict cue, verdict."""
    cleaned = rationale.split(COT_VERDICT)[0].rstrip()
    return f"{cleaned}\n{COT_VERDICT} {direct_target(correct)}"


def yes_probability(probs: dict[str, float]) -> tuple[float, float]:
    """(p(Yes), p(Yes)/(p(Yes)+p(No))) from next-token probabilities of the verdict tokens.

    Both spellings (with and without a leading space) are summed: which one a
    model uses depends on the template and on training.
    """
    yes = sum(probs.get(t, 0.0) for t in YES_TOKENS)
    no = sum(probs.get(t, 0.0) for t in NO_TOKENS)
    normalised = yes / (yes + no) if yes + no > 0 else 0.5
    return min(1.0, yes), normalised


def step_prompt_head(question: str) -> list[Message]:
    """The chat before a process verifier reads the steps (each followed by `STEP_QUESTION`)."""
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"Question: {question.strip()}\n\n{STEP_INSTRUCTION}"},
    ]
