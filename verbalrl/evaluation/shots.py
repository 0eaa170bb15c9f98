"""Few-shot demonstrations for sampling a pool: what the solver sees when memory offers exemplars.

A verifier that scores the reflective graph's drafts must know the form those
drafts take, and with memory the solver is shown verified exemplars as chat
turns first (`verbalrl.agents.solver.with_demonstrations`). A pool sampled
with `shots > 0` reproduces that form, so a GenRM can be trained and
evaluated on it.

In scope: `ShotSource` (a list of (question, solution) demonstrations),
`reference_shots` (the task's reference solutions of train-split problems:
what a user who wrote examples by hand has), `pool_shots` (the correct,
finished solutions of an earlier pool: what memory offers after verifying
the model's own answers) and `pick_shots` (k of them for one problem, never
the problem itself, the same k for the same problem and seed). Left out:
sampling (`pool.py`).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict, Field

from ..tasks.base import Problem, Task


class Shot(BaseModel):
    """One demonstration: a problem's question and a correct solution of it."""

    model_config = ConfigDict(frozen=True)

    question: str = Field(min_length=1)
    solution: str = Field(min_length=1)


def reference_shots(task: Task, n: int = 32, seed: int = 0) -> list[Shot]:
    """`n` train-split problems of `task` with their reference solutions (none where it has none)."""
    shots = []
    for problem in task.problems("train", n=n, seed=seed):
        solution = task.reference_solution(problem)
        if solution:
            shots.append(Shot(question=problem.question, solution=solution))
    if not shots:
        raise ValueError(f"task {task.name!r} has no reference solutions to demonstrate")
    return shots


def pool_shots(records: Iterable[object], max_chars: int = 400) -> list[Shot]:
    """One correct, finished, short solution per problem of a labelled pool (its first such).

    These are the model's own verified answers, the form memory offers as
    demonstrations; `max_chars` leaves out long ones, as memory's caps do.
    """
    seen: set[str] = set()
    shots = []
    for r in records:
        text = getattr(r, "text", "").strip()
        if not getattr(r, "correct", False) or getattr(r, "finish_reason", "stop") == "length":
            continue
        question = str(getattr(r, "question", ""))
        if question in seen or not text or len(text) > max_chars:
            continue
        seen.add(question)
        shots.append(Shot(question=question, solution=text))
    if not shots:
        raise ValueError("the pool has no correct, finished solution to demonstrate")
    return shots


def pick_shots(shots: Sequence[Shot], problem: Problem, k: int, seed: int = 0) -> list[Shot]:
    """Up to `k` shots for `problem`, never its own question; the same for the same problem and seed."""
    if k <= 0:
        return []
    others = [s for s in shots if s.question.strip() != problem.question.strip()]
    rng = random.Random(f"{seed}/{problem.id}")
    return rng.sample(others, min(k, len(others)))
