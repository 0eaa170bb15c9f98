"""The three kinds of record memory keeps, and what each kind embeds.

In scope: the `Kind` names (one collection, or one table, per kind), the
kind of a record, its pydantic model, and the text whose embedding is
stored. Left out: how a backend lays records out (`chroma/codec.py` for
chromadb).
"""

from __future__ import annotations

from typing import Literal, TypeAlias

from .records import Concept, Experience, Reflection

Kind: TypeAlias = Literal["experience", "reflection", "concept"]
Record: TypeAlias = Experience | Reflection | Concept
KINDS: tuple[Kind, ...] = ("experience", "reflection", "concept")
_MODELS: dict[Kind, type[Experience] | type[Reflection] | type[Concept]] = {
    "experience": Experience,
    "reflection": Reflection,
    "concept": Concept,
}


def kind_of(record: Record) -> Kind:
    """The collection kind a record belongs to."""
    if isinstance(record, Experience):
        return "experience"
    if isinstance(record, Reflection):
        return "reflection"
    return "concept"


def embed_text(record: Record) -> str:
    """The text whose embedding is stored: problem, problem + lesson, or concept text."""
    if isinstance(record, Experience):
        return record.problem
    if isinstance(record, Reflection):
        return record.embed_text
    return record.text


def model_for(kind: Kind) -> type[Experience] | type[Reflection] | type[Concept]:
    """The pydantic model of a kind."""
    return _MODELS[kind]
