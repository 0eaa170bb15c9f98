"""The typed records memory keeps: experiences, reflections and concepts.

In scope: the pydantic models, their cleaning at the edge (every text field
goes through `sanitize.clean_text`), their content-hash ids and the derived
facts the store needs (status, usefulness). Left out: how records are laid out
by a backend (`chroma/codec.py`) and how near-duplicates merge (`merge.py`).

An experience's `status` decides how recall uses it:

- `exemplar`: the outcome is a success, the verifier confirmed it and the
  task's exact checker confirmed it too where the task has one
  (`checker_confirmed is None` means the task has no checker). Only these are
  offered as worked examples to imitate.
- `failure`: a failed attempt, offered (with its reflection) as what to avoid.
- `unverified`: a claimed success nobody confirmed; stored, never offered.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime
from typing import Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .sanitize import (
    MAX_CONCEPT_CHARS,
    MAX_PROBLEM_CHARS,
    MAX_REFLECTION_CHARS,
    MAX_SOLUTION_CHARS,
    MAX_TASK_CHARS,
    clean_text,
    problem_key,
)

Outcome: TypeAlias = Literal["success", "failure"]
Status: TypeAlias = Literal["exemplar", "failure", "unverified"]

# How many merged content ids a record remembers, so that re-sending one of
# them stays a no-op (idempotent writes) without letting the list grow forever.
MAX_ALIASES = 32
MAX_SOURCES = 64
GENERAL_TASK = "*"


def utcnow() -> datetime:
    """Timezone-aware now; records never hold naive datetimes."""
    return datetime.now(UTC)


def content_id(prefix: str, *parts: str) -> str:
    """A stable id from the content: the same content always gets the same id."""
    digest = hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()
    return f"{prefix}-{digest[:24]}"


def _clean_task(value: Any) -> str:
    task = clean_text(value, field="task", max_chars=MAX_TASK_CHARS)
    if not task or "\n" in task:
        raise ValueError("task must be a non-empty single-line name, e.g. 'gsm8k'")
    return task


class Provenance(BaseModel):
    """Where a record came from: the model, the graph and the run that produced it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str | None = None
    graph: str | None = None
    run: str | None = None


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    last_seen: datetime | None = None
    count: int = Field(1, ge=1, description="how many near-identical records merged into this")
    aliases: tuple[str, ...] = Field((), description="content ids merged into this record")

    @field_validator("created_at", "last_seen")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    @property
    def seen_at(self) -> datetime:
        """When this record (or a near-duplicate of it) was last stored."""
        return self.last_seen or self.created_at


class Experience(_Record):
    """One attempt at one problem: what was tried, how it turned out, the lesson.

    `solution` is the final answer or the whole trajectory. `score` is the
    verifier's score in [0, 1] (None when no verifier ran); `verified` says
    the verifier accepted it; `checker_confirmed` says whether the task's
    exact checker accepted it (None: the task has no checker).
    """

    task: str
    problem: str
    solution: str = ""
    outcome: Outcome
    score: float | None = Field(None, ge=0.0, le=1.0)
    verified: bool = False
    checker_confirmed: bool | None = None
    reflection: str | None = None
    provenance: Provenance = Provenance()

    @field_validator("task", mode="before")
    @classmethod
    def _task(cls, value: Any) -> str:
        return _clean_task(value)

    @field_validator("problem", mode="before")
    @classmethod
    def _problem(cls, value: Any) -> str:
        text = clean_text(value, field="problem", max_chars=MAX_PROBLEM_CHARS)
        if not text:
            raise ValueError("problem is empty: memory is keyed by the problem text")
        return text

    @field_validator("solution", mode="before")
    @classmethod
    def _solution(cls, value: Any) -> str:
        return clean_text(value, field="solution", max_chars=MAX_SOLUTION_CHARS)

    @field_validator("reflection", mode="before")
    @classmethod
    def _reflection(cls, value: Any) -> str | None:
        if value is None:
            return None
        return clean_text(value, field="reflection", max_chars=MAX_REFLECTION_CHARS) or None

    @model_validator(mode="after")
    def _fill_id(self) -> Experience:
        if not self.id:
            # frozen model: set through object.__setattr__ once, at construction.
            object.__setattr__(self, "id", self.content_id)
        return self

    @property
    def content_id(self) -> str:
        """The id this content would get; equal content, equal id (idempotent upserts)."""
        return content_id("exp", self.task, self.problem, self.solution, self.outcome)

    @property
    def status(self) -> Status:
        """`exemplar`, `failure` or `unverified` (see the module docstring)."""
        if self.outcome == "failure":
            return "failure"
        if self.verified and self.checker_confirmed is not False:
            return "exemplar"
        return "unverified"

    @property
    def problem_key(self) -> str:
        """Hash of the normalised problem (for excluding the same problem at recall)."""
        return problem_key(self.problem)

    @property
    def utility(self) -> float:
        """How useful the record is to keep; the least useful are evicted first at a cap."""
        base = {"exemplar": 3.0, "failure": 1.0, "unverified": 0.5}[self.status]
        if self.status == "failure" and self.reflection:
            base = 2.0  # a failure with its lesson teaches more than a bare failure
        return base + 0.5 * math.log1p(self.count - 1)


class Reflection(_Record):
    """The lesson drawn from an attempt (usually a failure), tied to its problem."""

    task: str
    problem: str
    text: str
    experience_id: str | None = None
    provenance: Provenance = Provenance()

    @field_validator("task", mode="before")
    @classmethod
    def _task(cls, value: Any) -> str:
        return _clean_task(value)

    @field_validator("problem", mode="before")
    @classmethod
    def _problem(cls, value: Any) -> str:
        return clean_text(value, field="problem", max_chars=MAX_PROBLEM_CHARS)

    @field_validator("text", mode="before")
    @classmethod
    def _text(cls, value: Any) -> str:
        text = clean_text(value, field="reflection", max_chars=MAX_REFLECTION_CHARS)
        if not text:
            raise ValueError("reflection text is empty")
        return text

    @model_validator(mode="after")
    def _fill_id(self) -> Reflection:
        if not self.id:
            object.__setattr__(self, "id", self.content_id)
        return self

    @property
    def content_id(self) -> str:
        """Equal task, problem and lesson give equal ids."""
        return content_id("ref", self.task, self.problem, self.text)

    @property
    def problem_key(self) -> str:
        """Hash of the normalised problem."""
        return problem_key(self.problem)

    @property
    def utility(self) -> float:
        """Lessons seen more often are kept longer."""
        return 1.0 + 0.5 * math.log1p(self.count - 1)

    @property
    def embed_text(self) -> str:
        """What is embedded: the problem (recall is by problem) and the lesson (dedupe)."""
        return f"{self.problem}\nLesson: {self.text}" if self.problem else self.text


class Concept(BaseModel):
    """A general insight distilled from many experiences (ExpeL's "rules").

    `strength` rises when distillation agrees with it and falls otherwise; a
    concept at strength 0 is pruned. `task` is `"*"` for a concept that holds
    across tasks. `id` stays fixed when the text is edited.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = ""
    text: str
    task: str = GENERAL_TASK
    strength: int = Field(2, ge=0)
    sources: tuple[str, ...] = Field((), description="ids of the experiences it came from")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime | None = None

    @field_validator("text", mode="before")
    @classmethod
    def _text(cls, value: Any) -> str:
        text = clean_text(value, field="concept", max_chars=MAX_CONCEPT_CHARS)
        if not text:
            raise ValueError("concept text is empty")
        return text

    @field_validator("task", mode="before")
    @classmethod
    def _task(cls, value: Any) -> str:
        return GENERAL_TASK if value is None else _clean_task(value)

    @field_validator("sources")
    @classmethod
    def _cap_sources(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(value))[-MAX_SOURCES:]

    @model_validator(mode="after")
    def _fill_id(self) -> Concept:
        if not self.id:
            object.__setattr__(self, "id", content_id("con", self.task, self.text))
        return self


Record: TypeAlias = Experience | Reflection | Concept
