"""Chains of additions and subtractions, solved one operation per line, with a step checker.

"Compute 23 + 18 - 7 + 31." is solved as::

    23 + 18 = 41
    41 - 7 = 34
    34 + 31 = 65
    Answer: 65

Levels (the `level` option) are the number of operations, 2 to 6. Numbers
are in [2, `max_number`] (default 9) and every running total stays in
[0, 999]. Problems are sampled and hash-partitioned into train/test. The
default range is where the embedded 135M model gets a single step right
about half the time but a whole chain of 3+ rarely (`benchmarks/
chain_steps.py`, RESULTS.md); with 2-digit numbers (`max_number=99`) it
gets only ~16% of single additions right.

The step checker (`ChainTask.check_steps`) labels each non-blank line of a
candidate: `correct` (the next operation of the chain applied to the right
running total, with the right result; or a right `Answer:` line after all
operations), `wrong` (an equation or answer that is not that) or
`unparseable` (no equation and no answer). Lines are checked against the gold
chain, so an error carried forward makes the later steps wrong too;
`prefix_labels` gives, per line, whether no line so far is wrong (the
process-verifier label).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .answers import find_answer_segment, number_in_answer, split_steps
from .base import Problem, Split, task_config
from .generated import GeneratedProblem, GeneratedTask

StepStatus: TypeAlias = Literal["correct", "wrong", "unparseable"]
LEVELS: tuple[int, ...] = (2, 3, 4, 5, 6)

_EQUATION = re.compile(r"(-?\d+)\s*([+\-−])\s*(\d+)\s*=\s*(-?\d+)")


class ChainConfig(BaseModel):
    """Options of the chain task; a bad level raises a `ValidationError` naming `level`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    level: int = Field(3, ge=2, le=6, description="number of operations in the chain (2-6)")
    max_number: int = Field(9, ge=3, le=999, description="numbers are drawn from [2, max_number]")

    @field_validator("level", mode="before")
    @classmethod
    def _level_from_text(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().isdigit():
            return int(value.strip())
        return value


@dataclass(frozen=True)
class StepLabel:
    """The checker's label of one non-blank line of a candidate solution."""

    line: str
    status: StepStatus
    kind: Literal["equation", "answer", "text"]


def chain_operations(problem: Problem) -> tuple[int, list[tuple[str, int]]]:
    """(first number, [(op, operand), ...]) of a chain problem, from its meta or its question."""
    start = problem.meta.get("start")
    ops = problem.meta.get("ops")
    if isinstance(start, int) and isinstance(ops, list):
        return start, [(str(op), int(n)) for op, n in ops]
    numbers = re.findall(r"[+\-]|\d+", problem.question)
    first, rest = int(numbers[0]), numbers[1:]
    return first, [(rest[i], int(rest[i + 1])) for i in range(0, len(rest) - 1, 2)]


def running_totals(start: int, ops: list[tuple[str, int]]) -> list[int]:
    """The value after each operation."""
    totals, value = [], start
    for op, n in ops:
        value = value + n if op == "+" else value - n
        totals.append(value)
    return totals


class ChainTask(GeneratedTask):
    """Compute a chain of additions and subtractions, one operation per line."""

    name = "chain"
    description = (
        "Chains of + and - (numbers 2 to max_number=9), one operation per line; level = operations (2-6)."
    )
    answer_kind = "numeric"
    answer_format = (
        "Work one operation per line, each line of the form `a + b = c` or `a - b = c`, "
        "then finish with a line `Answer: <integer>`."
    )

    def __init__(self, config: ChainConfig | None = None, **options: Any) -> None:
        self.config = task_config(ChainConfig, config, options)

    @property
    def level(self) -> int:
        return self.config.level

    def generate(self, rng: random.Random, split: Split) -> GeneratedProblem:
        while True:
            top = self.config.max_number
            start = rng.randint(2, top)
            ops = [(rng.choice("+-"), rng.randint(2, top)) for _ in range(self.level)]
            totals = running_totals(start, ops)
            if all(0 <= t <= 999 for t in totals):
                break
        text = " ".join([str(start), *(f"{op} {n}" for op, n in ops)])
        return GeneratedProblem(
            question=f"Compute {text}.",
            answer=str(totals[-1]),
            meta={"level": self.level, "start": start, "ops": [[op, n] for op, n in ops]},
        )

    def reference_solution(self, problem: Problem) -> str | None:
        start, ops = chain_operations(problem)
        lines, value = [], start
        for (op, n), total in zip(ops, running_totals(start, ops), strict=True):
            lines.append(f"{value} {op} {n} = {total}")
            value = total
        return "\n".join([*lines, f"Answer: {value}"])

    def near_miss(self, problem: Problem, rng: random.Random) -> str:
        """A flawed worked solution: one operation's result off by 1-3, carried forward consistently.

        The error sits at a random operation; every later line is right arithmetic on the wrong
        value, as a model's slip looks. Training data for process verifiers (a checker labels it).
        """
        start, ops = chain_operations(problem)
        wrong_at = rng.randrange(len(ops))
        lines, value = [], start
        for i, (op, n) in enumerate(ops):
            result = value + n if op == "+" else value - n
            if i == wrong_at:
                result += rng.choice([-3, -2, -1, 1, 2, 3])
            lines.append(f"{value} {op} {n} = {result}")
            value = result
        return "\n".join([*lines, f"Answer: {value}"])

    def check_steps(self, problem: Problem, text: str) -> list[StepLabel]:
        """Label each non-blank line of `text` against the gold chain (never raises on any string)."""
        if not isinstance(text, str):
            return []
        start, ops = chain_operations(problem)
        totals = running_totals(start, ops)
        labels: list[StepLabel] = []
        done = 0  # operations correctly carried out so far
        for line in split_steps(text):
            segment = find_answer_segment(line)
            if segment is not None and line.lower().lstrip("*# ").startswith("answer"):
                value = number_in_answer(segment)
                ok = value is not None and done == len(ops) and self.check(problem, value)
                labels.append(StepLabel(line, "correct" if ok else "wrong", "answer"))
                continue
            match = _EQUATION.search(line)
            if match is None:
                labels.append(StepLabel(line, "unparseable", "text"))
                continue
            a, op, b, c = int(match[1]), match[2].replace("−", "-"), int(match[3]), int(match[4])
            expected_a = start if done == 0 else totals[done - 1]
            ok = (
                done < len(ops)
                and (a, op, b) == (expected_a, *ops[done])
                and c == totals[done]
            )
            labels.append(StepLabel(line, "correct" if ok else "wrong", "equation"))
            if ok:
                done += 1
        return labels

    def prefix_labels(self, problem: Problem, text: str, finished: bool = False) -> list[bool]:
        """Per non-blank line: True while no line so far is wrong (a PRM's training label).

        Text lines ("Let's add step by step.") are neutral; the first wrong
        equation or answer makes that line and every later one False. With
        `finished` (a complete candidate, not a partial one) the last line is
        also False unless the solution's answer checks: a reply that stops
        without the right answer did not end well, even if no line was wrong.
        """
        out, ok = [], True
        for label in self.check_steps(problem, text):
            ok = ok and label.status != "wrong"
            out.append(ok)
        if finished and out and not self.check(problem, self.extract_answer(text)):
            out[-1] = False
        return out
