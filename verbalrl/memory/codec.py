"""How records are laid out in chromadb: one row per record.

In scope: turning a record into (id, document, metadata) and back. The whole
record is kept as JSON in the `record` metadata field (chromadb metadata are
flat scalars); the fields recall and eviction filter on (task, status,
problem key, utility, last seen, strength) are copied next to it. Left out:
embeddings (the store computes them) and the collections themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeAlias

from .records import Concept, Experience, Reflection

Kind: TypeAlias = Literal["experience", "reflection", "concept"]
Metadata: TypeAlias = dict[str, str | int | float | bool]
KINDS: tuple[Kind, ...] = ("experience", "reflection", "concept")
_MODELS: dict[Kind, type[Experience] | type[Reflection] | type[Concept]] = {
    "experience": Experience,
    "reflection": Reflection,
    "concept": Concept,
}


def kind_of(record: Experience | Reflection | Concept) -> Kind:
    """The collection kind a record belongs to."""
    if isinstance(record, Experience):
        return "experience"
    if isinstance(record, Reflection):
        return "reflection"
    return "concept"


def embed_text(record: Experience | Reflection | Concept) -> str:
    """The text whose embedding is stored: problem, problem + lesson, or concept text."""
    if isinstance(record, Experience):
        return record.problem
    if isinstance(record, Reflection):
        return record.embed_text
    return record.text


def to_row(record: Experience | Reflection | Concept) -> tuple[str, str, Metadata]:
    """(id, document, metadata) for a chromadb write."""
    meta: Metadata = {"record": record.model_dump_json()}
    if isinstance(record, Experience):
        meta |= {
            "task": record.task,
            "status": record.status,
            "problem_key": record.problem_key,
            "utility": record.utility,
            "last_seen": record.seen_at.timestamp(),
        }
        return record.id, record.problem, meta
    if isinstance(record, Reflection):
        meta |= {
            "task": record.task,
            "problem_key": record.problem_key,
            "utility": record.utility,
            "last_seen": record.seen_at.timestamp(),
        }
        return record.id, record.text, meta
    meta |= {"task": record.task, "strength": record.strength}
    return record.id, record.text, meta


def from_metadata(kind: Kind, meta: Mapping[str, Any]) -> Experience | Reflection | Concept:
    """The record stored in a row's metadata."""
    return _MODELS[kind].model_validate_json(meta["record"])


def model_for(kind: Kind) -> type[Experience] | type[Reflection] | type[Concept]:
    """The pydantic model of a kind."""
    return _MODELS[kind]
