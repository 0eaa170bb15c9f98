"""The `Task` protocol, the `Problem` record, and `BaseTask`, the default implementation.

In scope: what a problem family must provide (problems per split, a solver
prompt, answer extraction, an exact checker, an optional reference solution),
validation of `problems()` arguments, and the shared prompt/extract/check
logic that numeric and text tasks reuse. Left out: problem generation (see
`generated.py`), concrete tasks (one file each) and name lookup (`registry.py`).

The gold answer lives only in `Problem.answer` and `Problem.meta`; `prompt()`
uses the question alone, so it can never leak into what a solver sees.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Literal, Protocol, TypeAlias, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from verbalrl.llm.base import Message

from .answers import (
    find_answer_segment,
    last_number,
    normalize_number,
    normalize_text,
    number_in_answer,
)

Split: TypeAlias = Literal["train", "test"]
AnswerKind: TypeAlias = Literal["numeric", "text"]

SPLITS: tuple[Split, ...] = ("train", "test")

ConfigT = TypeVar("ConfigT", bound=BaseModel)

DEFAULT_SYSTEM_PROMPT = (
    "You solve problems carefully. Reason briefly, step by step, then finish "
    "with a final line of the form `Answer: <answer>`."
)


class Problem(BaseModel):
    """One problem instance; `answer` is the gold answer in canonical string form."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, description="stable id, e.g. 'arithmetic-test-3-1a2b3c4d'")
    task: str = Field(min_length=1, description="name of the task that made it")
    split: Split
    question: str = Field(min_length=1, description="what the solver sees")
    answer: str = Field(description="gold answer; never shown to a solver")
    meta: dict[str, Any] = Field(default_factory=dict, description="task data (JSON-safe)")


class ProblemRequest(BaseModel):
    """Arguments of `Task.problems()`, validated so a bad one names its field."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    split: Split = "test"
    n: int = Field(10, ge=1, le=1_000_000, description="how many problems")
    seed: int = 0


@runtime_checkable
class Task(Protocol):
    """A problem family: problems, a solver prompt, answer extraction and an exact checker."""

    name: str
    description: str

    def problems(self, split: Split = "test", n: int = 10, seed: int = 0) -> list[Problem]:
        """Up to `n` distinct problems of `split`, deterministic for (split, n, seed)."""
        ...

    def prompt(self, problem: Problem) -> list[Message]:
        """Chat messages asking a solver for `problem`; never contains the gold answer."""
        ...

    def extract_answer(self, text: str) -> str | None:
        """The answer in free model text, or None; never raises on any string."""
        ...

    def check(self, problem: Problem, answer: str | None) -> bool:
        """Whether `answer` equals the gold answer after normalisation; False for None."""
        ...

    def reference_solution(self, problem: Problem) -> str | None:
        """A worked correct solution ending in an `Answer:` line, or None if unknown."""
        ...


def task_config(model: type[ConfigT], config: Any, options: dict[str, Any]) -> ConfigT:
    """A task's validated options: `config` (a `model`, a dict, or None) with `options` on top.

    Anything else raises pydantic's `ValidationError`, so a wrong `config=`
    fails when the task is built, not at its first use.
    """
    if config is None:
        return model(**options)
    base = model.model_validate(config)
    return model.model_validate({**base.model_dump(), **options}) if options else base


class BaseTask(ABC):
    """Shared behaviour of tasks: subclass, set the class attributes, implement `sample_problems`.

    `answer_kind` picks the defaults: "numeric" tasks compare canonical numbers
    and fall back to the last number in the text; "text" tasks compare
    case/whitespace-normalised strings. Override `normalize` or
    `answer_from_segment` for other rules. For generated (synthetic) problems,
    subclass `GeneratedTask` instead, which implements `sample_problems`.
    """

    name: str = "task"
    description: str = ""
    answer_kind: AnswerKind = "text"
    # One line telling the solver what form the answer takes (goes in the prompt).
    answer_format: str = ""
    system_prompt: ClassVar[str] = DEFAULT_SYSTEM_PROMPT

    def problems(self, split: Split = "test", n: int = 10, seed: int = 0) -> list[Problem]:
        """Validate the arguments (a bad one raises a `ValidationError` naming it), then sample."""
        request = ProblemRequest(split=split, n=n, seed=seed)
        return self.sample_problems(request.split, request.n, request.seed)

    @abstractmethod
    def sample_problems(self, split: Split, n: int, seed: int) -> list[Problem]:
        """Up to `n` distinct problems of `split` (arguments already validated)."""

    def prompt(self, problem: Problem) -> list[Message]:
        """A system message with the answer-line instruction and the question as the user turn."""
        user = problem.question
        if self.answer_format:
            user = f"{user}\n\n{self.answer_format}"
        return [
            {"role": "system", "content": self.system_prompt},
            {"role": "user", "content": user},
        ]

    def extract_answer(self, text: str) -> str | None:
        """The marked final answer (see `find_answer_segment`), else the task's fallback.

        A marked answer that `normalize` rejects ("Answer: ..." in a text task)
        counts as no answer, so a draft never carries an answer no check can accept.
        """
        if not isinstance(text, str):
            return None
        segment = find_answer_segment(text)
        if segment is not None:
            answer = self.answer_from_segment(segment)
            if answer is not None and self.normalize(answer) is not None:
                return answer
        return self.fallback_answer(text)

    def answer_from_segment(self, segment: str) -> str | None:
        """Turn a marked answer segment into an answer string (numeric: its number)."""
        if self.answer_kind == "numeric":
            return number_in_answer(segment)
        return segment

    def fallback_answer(self, text: str) -> str | None:
        """The answer when none is marked: the last number for numeric tasks, else None."""
        if self.answer_kind == "numeric":
            return last_number(text)
        return None

    def normalize(self, answer: str) -> str | None:
        """Canonical form used by `check`; None means "not a valid answer"."""
        if self.answer_kind == "numeric":
            return normalize_number(answer)
        return normalize_text(answer) or None

    def check(self, problem: Problem, answer: str | None) -> bool:
        """Exact match of normalised forms; None or an unparseable answer is wrong."""
        if answer is None or not isinstance(answer, str):
            return False
        given = self.normalize(answer)
        gold = self.normalize(problem.answer)
        return given is not None and gold is not None and given == gold

    def reference_solution(self, problem: Problem) -> str | None:
        """No reference by default; tasks that can solve their problems override this."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
