"""Training data from a labelled candidate pool: verification and solution examples.

In scope: `SFTExample` (a chat prompt, a target, a weight), and builders for
direct verification data, CoT verification data, correct-solution data (the
λ-weighted term of GenRM's unified loss) and generator SFT data. Per problem
at most `max_per_class` correct and incorrect solutions are kept (paper: 16
each), duplicates dropped, sampled with a fixed seed. Left out: tokenising
and training (`sft_trainer.py`).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..evaluation.pool import CandidateRecord
from ..llm.base import LLM, Message
from ..tasks.base import Problem, Task
from ..verifier.prompts import cot_prompt, cot_target, direct_prompt, direct_target
from .rationales import PROGRAMMATIC_TASKS, programmatic_rationale, reference_guided_rationales

ExampleKind = Literal["verify", "correct"]


class SFTExample(BaseModel):
    """One supervised example: loss on `target` tokens only, scaled by `weight`."""

    model_config = ConfigDict(frozen=True)

    prompt: list[Message]
    target: str = Field(min_length=1)
    weight: float = Field(1.0, gt=0)
    kind: ExampleKind = "verify"
    label: bool | None = Field(None, description="verdict (verification examples)")
    problem_id: str = ""


def balanced_selection(
    records: Sequence[CandidateRecord],
    max_per_class: int = 16,
    seed: int = 0,
    negative_ratio: float | None = None,
) -> list[CandidateRecord]:
    """Per problem, up to `max_per_class` distinct correct and incorrect solutions.

    `negative_ratio` (e.g. 2.0) then caps incorrect solutions overall at that
    multiple of the correct ones: a weak generator's pool is mostly wrong, and
    an unbalanced set teaches the verifier to always say No.
    """
    by_problem: dict[str, dict[bool, list[CandidateRecord]]] = defaultdict(
        lambda: defaultdict(list)
    )
    seen: set[tuple[str, str]] = set()
    for r in records:
        key = (r.problem_id, r.text.strip())
        if key in seen or not r.text.strip():
            continue
        seen.add(key)
        by_problem[r.problem_id][r.correct].append(r)
    rng = random.Random(seed)
    chosen: list[CandidateRecord] = []
    for pid in sorted(by_problem):
        for label in (True, False):
            group = by_problem[pid][label]
            rng.shuffle(group)
            chosen += group[:max_per_class]
    if negative_ratio is not None:
        positives = [r for r in chosen if r.correct]
        negatives = [r for r in chosen if not r.correct]
        rng.shuffle(negatives)
        keep = int(round(negative_ratio * len(positives)))
        kept_ids = {id(r) for r in negatives[:keep]}
        chosen = [r for r in chosen if r.correct or id(r) in kept_ids]
    return chosen


def direct_examples(
    records: Sequence[CandidateRecord],
    max_per_class: int = 16,
    seed: int = 0,
    negative_ratio: float | None = None,
) -> list[SFTExample]:
    """Direct GenRM data: (question, solution) -> "Yes"/"No"."""
    return [
        SFTExample(
            prompt=direct_prompt(r.question, r.text),
            target=direct_target(r.correct),
            label=r.correct,
            problem_id=r.problem_id,
        )
        for r in balanced_selection(records, max_per_class, seed, negative_ratio)
    ]


def cot_examples(
    records: Sequence[CandidateRecord],
    task: Task,
    *,
    teacher: LLM | None = None,
    max_per_class: int = 16,
    seed: int = 0,
    negative_ratio: float | None = None,
) -> list[SFTExample]:
    """GenRM-CoT data: programmatic rationales for algorithmic tasks, a teacher for math.

    Tasks outside `PROGRAMMATIC_TASKS` need `teacher`; its rationales are kept
    only where its verdict agrees with the checker.
    """
    chosen = balanced_selection(records, max_per_class, seed, negative_ratio)
    if task.name in PROGRAMMATIC_TASKS:
        rationales = [programmatic_rationale(task, r.problem(), r.extracted) for r in chosen]
    elif teacher is not None:
        items = [(r.problem(), r.text, r.correct) for r in chosen]
        rationales = reference_guided_rationales(teacher, task, items)
    else:
        raise ValueError(
            f"CoT data for {task.name!r} needs a teacher LLM (reference-guided grading); "
            f"programmatic rationales exist for {sorted(PROGRAMMATIC_TASKS)}"
        )
    return [
        SFTExample(
            prompt=cot_prompt(r.question, r.text),
            target=cot_target(rationale, r.correct),
            label=r.correct,
            problem_id=r.problem_id,
        )
        for r, rationale in zip(chosen, rationales, strict=True)
        if rationale
    ]


def correct_solution_examples(
    records: Sequence[CandidateRecord],
    task: Task,
    *,
    weight: float = 1.0,
    max_per_problem: int = 16,
    seed: int = 0,
) -> list[SFTExample]:
    """Solver prompt -> a correct solution; GenRM's λ term (weight λ) or generator SFT (weight 1)."""
    correct = [r for r in balanced_selection(records, max_per_problem, seed) if r.correct]
    return [
        SFTExample(
            prompt=task.prompt(r.problem()),
            target=r.text.strip(),
            weight=weight,
            kind="correct",
            problem_id=r.problem_id,
        )
        for r in correct
    ]


def reference_solution_examples(task: Task, problems: Sequence[Problem]) -> list[SFTExample]:
    """Generator SFT from the task's reference solutions (where a pool has few correct ones)."""
    examples = []
    for p in problems:
        reference = task.reference_solution(p)
        if reference:
            examples.append(
                SFTExample(prompt=task.prompt(p), target=reference, kind="correct", problem_id=p.id)
            )
    return examples
