"""Training sets for `train-verifier` and `train-generator`: from a labelled pool (or a task) to examples.

In scope: `verifier_examples` (the whole training set of a GenRM, GenRM-CoT
or ORM: verification examples, plus GenRM's λ-weighted correct solutions)
and `generator_examples` (correct sampled solutions and/or a task's
reference solutions for solver SFT). These compose the builders in
`examples.py`; what `verbalrl train-verifier` / `train-generator` run.
Left out: tokenising and training (`sft_trainer.py`, `orm_trainer.py`,
`recipes.py`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Literal, get_args

from ..evaluation.pool import CandidateRecord, pool_task
from ..llm.base import LLM
from ..tasks.base import Task
from .examples import (
    SFTExample,
    correct_solution_examples,
    cot_examples,
    direct_examples,
    reference_solution_examples,
)
from .sft_config import SFTConfig

VerifierKind = Literal["genrm", "genrm-cot", "orm"]
VERIFIER_KINDS: tuple[str, ...] = get_args(VerifierKind)


def check_kind(kind: str) -> VerifierKind:
    """`kind` if it names a verifier that can be trained; a clear `ValueError` otherwise."""
    if kind not in VERIFIER_KINDS:
        raise ValueError(f"kind must be genrm, genrm-cot or orm, not {kind!r}")
    return kind  # type: ignore[return-value]


def verifier_examples(
    records: Sequence[CandidateRecord],
    kind: VerifierKind = "genrm",
    *,
    max_per_class: int = 16,
    negative_ratio: float | None = None,
    lam: float | None = None,
    teacher: LLM | None = None,
    task: Task | None = None,
    seed: int = 0,
) -> list[SFTExample]:
    """The training set of a verifier of `kind` from a labelled pool.

    Per problem at most `max_per_class` correct and incorrect solutions
    (`negative_ratio` caps the wrong ones at that multiple of the right
    ones). `genrm`: direct Yes/No examples; `genrm-cot`: rationales
    (programmatic, or from `teacher` for math); both add the correct
    solutions weighted `lam` (default `SFTConfig`'s λ; 0 leaves them out).
    `orm`: direct examples only (its `lam` is 0). `task` defaults to the
    pool's own (`pool_task`); a pool mixing tasks (several families for one
    verifier) gets each record's own task for its correct-solution examples.
    """
    kind = check_kind(kind)
    if kind == "orm":
        if lam:
            raise ValueError("the ORM has no correct-solution loss: lam must be 0 (ORMConfig)")
        return direct_examples(records, max_per_class, seed, negative_ratio=negative_ratio)
    weight = SFTConfig.model_fields["lam"].default if lam is None else lam
    if kind == "genrm":
        examples = direct_examples(records, max_per_class, seed, negative_ratio=negative_ratio)
    else:
        task = task or pool_task(records)
        examples = cot_examples(
            records,
            task,
            teacher=teacher,
            max_per_class=max_per_class,
            seed=seed,
            negative_ratio=negative_ratio,
        )
    if weight > 0:
        for group_task, group in _by_task(records, task):
            examples += correct_solution_examples(group, group_task, weight=weight, seed=seed)
    return examples


def _by_task(
    records: Sequence[CandidateRecord], task: Task | None
) -> list[tuple[Task, list[CandidateRecord]]]:
    """The records per task they were sampled from (a pool may mix families); `task` overrides."""
    if task is not None:
        return [(task, list(records))]
    groups: dict[tuple[str, str], list[CandidateRecord]] = {}
    for r in records:
        groups.setdefault((r.task, json.dumps(r.task_options, sort_keys=True)), []).append(r)
    return [(pool_task(group), group) for group in groups.values()]


def generator_examples(
    pool_records: Sequence[CandidateRecord] | None = None,
    task: Task | None = None,
    *,
    problems: int = 1000,
    seed: int = 0,
) -> list[SFTExample]:
    """Solver SFT data: the pool's correct solutions and/or `problems` train-split references of `task`."""
    if pool_records is None and task is None:
        raise ValueError("give pool records (correct sampled solutions) and/or a task (references)")
    examples: list[SFTExample] = []
    if pool_records is not None:
        examples += correct_solution_examples(pool_records, pool_task(pool_records), seed=seed)
    if task is not None:
        examples += reference_solution_examples(task, task.problems("train", n=problems, seed=seed))
    return examples
