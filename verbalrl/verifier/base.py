"""The `Verifier` protocol, compute accounting, and the simplest verifiers.

In scope: what every verifier returns (one score in [0, 1] per candidate
plus the compute it spent), the task's exact checker as an oracle verifier
(for experiments; it reads the gold answer, so a graph must never use it to
*decide* unless the user asked for learning from feedback), and wrapping a
user function. Left out: GenRM (`genrm.py`, `genrm_cot.py`), baselines
(`orm.py`, `judge.py`) and selection rules (`selection.py`).

A verifier sees a `Problem` so that the oracle can check against the gold
answer; model-based verifiers read `problem.question` only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..tasks.base import Problem, Task

if TYPE_CHECKING:
    from ..llm.wrappers import ModelClock


@dataclass
class Usage:
    """Compute spent: LLM calls (one per sequence scored or generated) and tokens."""

    llm_calls: int = 0
    prompt_tokens: int = 0
    generated_tokens: int = 0

    def add(self, other: Usage) -> Usage:
        return Usage(
            self.llm_calls + other.llm_calls,
            self.prompt_tokens + other.prompt_tokens,
            self.generated_tokens + other.generated_tokens,
        )


@dataclass
class Verification:
    """Scores for one problem's candidates (same order) and the compute they cost.

    `details` carries per-candidate extras, e.g. the normalised score or CoT
    rationales, for reports and critiques.
    """

    scores: list[float]
    usage: Usage
    details: list[dict[str, object]] | None = None


@runtime_checkable
class Verifier(Protocol):
    """Scores candidate solutions of a problem; higher is more likely correct."""

    name: str

    def verify(self, problem: Problem, candidates: Sequence[str]) -> Verification:
        """One score in [0, 1] per candidate, in order."""
        ...


def check_candidates(candidates: Sequence[str]) -> list[str]:
    """Validate a candidate list (a clear `ValueError` for empty lists and non-strings)."""
    if isinstance(candidates, str):
        raise ValueError("candidates must be a list of solution texts, not one string")
    items = list(candidates)
    if not items:
        raise ValueError("candidates is empty: give at least one solution to verify")
    for i, c in enumerate(items):
        if not isinstance(c, str):
            raise ValueError(f"candidates[{i}] must be a string, got {type(c).__name__}")
    return items


class CheckerVerifier:
    """The task's exact checker as a verifier: 1.0 when the extracted answer is right.

    An oracle: it reads the gold answer. Use it for experiments (Pass@N, upper
    bounds) and to confirm what memory keeps when learning from feedback is on.
    """

    name = "checker"

    def __init__(self, task: Task) -> None:
        self.task = task

    def verify(self, problem: Problem, candidates: Sequence[str]) -> Verification:
        items = check_candidates(candidates)
        scores = [float(self.task.check(problem, self.task.extract_answer(c))) for c in items]
        return Verification(scores=scores, usage=Usage())


class FunctionVerifier:
    """Wrap a user function `(question, candidate) -> float` as a verifier (scores clipped to [0, 1])."""

    def __init__(self, fn: Callable[[str, str], float], name: str = "function") -> None:
        self.fn = fn
        self.name = name

    def verify(self, problem: Problem, candidates: Sequence[str]) -> Verification:
        items = check_candidates(candidates)
        scores = []
        for i, c in enumerate(items):
            value = float(self.fn(problem.question, c))
            if value != value:  # NaN from user code would poison every ranking downstream
                raise ValueError(f"{self.name} returned NaN for candidates[{i}]")
            scores.append(min(1.0, max(0.0, value)))
        return Verification(scores=scores, usage=Usage())


class TimedVerifier:
    """A `Verifier` proxy that adds the time of each call to a `ModelClock`."""

    def __init__(self, verifier: Verifier, clock: ModelClock) -> None:
        self.verifier, self.clock = verifier, clock
        self.name = verifier.name

    def verify(self, problem: Problem, candidates: Sequence[str]) -> Verification:
        self.clock.enter()
        try:
            return self.verifier.verify(problem, candidates)
        finally:
            self.clock.leave()
