"""Concept strength rules: which concepts a task sees, which survive, how strength ranks them.

In scope: a task sees its own concepts and the general ones (`GENERAL_TASK`);
listing is strongest first (oldest first on ties); a task keeps at most
`max_concepts`, the strongest (newest first on ties), and a concept whose
strength fell to zero is dropped; recall adds `weight * log(1 + strength)`
to a concept's relevance. Left out: how strength changes (the distiller's
AGREE/EDIT/REMOVE operations, `distill.py`) and storage (each backend).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from .records import GENERAL_TASK, Concept


def visible_tasks(task: str) -> set[str]:
    """The concept tasks a problem of `task` may use."""
    return {task, GENERAL_TASK}


def listing(concepts: Iterable[Concept], task: str | None = None) -> list[Concept]:
    """`task`'s concepts (and the general ones; all when None), strongest first, oldest first on ties."""
    items = list(concepts)
    if task is not None:
        items = [c for c in items if c.task in visible_tasks(task)]
    return sorted(items, key=lambda c: (-c.strength, c.created_at))


def strongest(concepts: Iterable[Concept], n: int) -> list[Concept]:
    """The `n` strongest concepts, newest first on ties, one per id (the last given wins)."""
    unique = {c.id: c for c in concepts}
    ranked = sorted(unique.values(), key=lambda c: (-c.strength, -(c.updated_at or c.created_at).timestamp()))
    return ranked[:n]


def to_keep(concepts: Iterable[Concept], max_concepts: int) -> list[Concept]:
    """What a task stores after a distillation: the strongest live (strength > 0) concepts."""
    return strongest([c for c in concepts if c.strength > 0], max_concepts)


def is_dead(concept: Concept) -> bool:
    """Whether `prune` drops the concept."""
    return concept.strength <= 0


def strength_bonus(concepts: Sequence[Concept], weight: float) -> np.ndarray:
    """Per-concept relevance bonus for MMR: stronger concepts rank higher."""
    return np.array([weight * math.log1p(c.strength) for c in concepts])
