"""Distiller: the concept-distillation role (ExpeL-style insight list edits).

Memory owns the prompt and the strict parser (`verbalrl.memory.distill`);
this module exposes them as a role so all prompts can be found here. Imported
lazily, because importing memory loads chromadb.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..llm.base import Message


def distiller_prompt(
    concepts: Sequence[Any], experiences: Sequence[Any], config: Any = None
) -> list[Message]:
    """Messages asking the model to edit the concept list given `experiences` (see memory.distill)."""
    from ..memory.distill import DistillConfig, build_prompt

    return build_prompt(concepts, experiences, config or DistillConfig())


def parse_distillation(text: Any, n_concepts: int) -> tuple[list[Any], list[str]]:
    """(operations, skipped lines) of a distiller reply; junk lines are skipped, never raised on."""
    from ..memory.distill import parse_operations

    return parse_operations(text if isinstance(text, str) else "", n_concepts)
