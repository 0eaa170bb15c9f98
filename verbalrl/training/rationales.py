"""Verification rationales for GenRM-CoT training data.

In scope: programmatic rationales for tasks whose reference solution is a
worked derivation (last_letter, word_sort, arithmetic): the rationale redoes
the work step by step and compares the result with the candidate's answer,
so its verdict is right by construction; and reference-guided grading for
math (gsm8k): a teacher LLM that sees a correct reference solution writes a
step-by-step check, kept only where its verdict agrees with the checker.
The *verifier* never sees the reference: only the rationale text becomes
its training target. Left out: turning rationales into examples (`data.py`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..llm.base import LLM, GenerationConfig, Message
from ..tasks.base import Problem, Task

PROGRAMMATIC_TASKS = frozenset({"last_letter", "word_sort", "arithmetic"})

_ANSWER_LINE = re.compile(r"^\s*answer\s*:.*$", re.IGNORECASE | re.MULTILINE)
_VERDICT = re.compile(r"verdict\s*:\s*\**\s*(yes|no)\b", re.IGNORECASE)


def programmatic_rationale(
    task: Task, problem: Problem, candidate_answer: str | None
) -> str | None:
    """Redo the reference derivation, then compare with the candidate's answer (None if no reference)."""
    reference = task.reference_solution(problem)
    if reference is None:
        return None
    steps = _ANSWER_LINE.sub("", reference).strip()
    correct_value = problem.answer
    if candidate_answer is None:
        claim = "The proposed solution does not state a final answer."
    else:
        claim = f"The proposed solution's final answer is {candidate_answer}."
    agrees = task.check(problem, candidate_answer)
    comparison = (
        f"Working it out: the result is {correct_value}, which matches the proposed answer."
        if agrees
        else f"Working it out: the result is {correct_value}, which does not match the proposed answer."
    )
    return f"{claim}\nLet me redo it.\n{steps}\n{comparison}"


def teacher_prompt(question: str, reference: str, candidate: str) -> list[Message]:
    """Reference-guided grading prompt for a teacher LLM (the reference stays with the teacher)."""
    return [
        {
            "role": "system",
            "content": "You grade a student's solution. A correct reference solution is given to you.",
        },
        {
            "role": "user",
            "content": (
                f"Question: {question}\n\nReference solution (correct):\n{reference}\n\n"
                f"Student solution:\n{candidate}\n\n"
                "Check the student's solution step by step against the question, without "
                "mentioning the reference. End with a line 'Verdict: Yes' if the student's final "
                "answer is correct, else 'Verdict: No'."
            ),
        },
    ]


def parse_teacher_verdict(text: str) -> tuple[str, bool] | None:
    """(rationale without the verdict line, verdict) from a teacher's text; None if no verdict."""
    matches = list(_VERDICT.finditer(text))
    if not matches:
        return None
    last = matches[-1]
    rationale = text[: last.start()].strip()
    if not rationale:
        return None
    return rationale, last.group(1).lower() == "yes"


def reference_guided_rationales(
    teacher: LLM,
    task: Task,
    items: Sequence[tuple[Problem, str, bool]],
    *,
    temperature: float = 0.3,
    max_new_tokens: int = 256,
) -> list[str | None]:
    """Teacher rationales for (problem, candidate text, correct) triples; None where rejected.

    A rationale is kept only when the teacher's verdict agrees with the
    task's checker (`correct`): a wrong rationale would teach wrong verdicts.
    """
    prompts, index = [], []
    for i, (problem, candidate, _) in enumerate(items):
        reference = task.reference_solution(problem)
        if reference is not None:
            prompts.append(teacher_prompt(problem.question, reference, candidate))
            index.append(i)
    out: list[str | None] = [None] * len(items)
    if not prompts:
        return out
    config = GenerationConfig(n=1, temperature=temperature, max_new_tokens=max_new_tokens, seed=0)
    for i, row in zip(index, teacher.generate(prompts, config), strict=True):
        parsed = parse_teacher_verdict(row[0].text)
        if parsed is not None and parsed[1] == items[i][2]:
            out[i] = parsed[0]
    return out
