"""Arithmetic problems at graded difficulty, with worked step-by-step reference solutions.

Levels (the `level` option):
- 1: one-digit addition, a + b with a, b in [0, 9];
- 2: two-digit addition, a, b in [10, 99];
- "sum30": a + b with a, b in [2, 30], the recipe measured in DESIGN.md
  (GenRM on SmolLM2-135M); keep it unchanged so results stay comparable;
- 3: two-digit a + b, a - b (a >= b) or a * b;
- 4: multi-step expressions with 2-3 operations and parentheses, literals in
  [1, 20], every intermediate value in [0, 999].
Levels 1-3 are small finite spaces, listed exactly and hash-partitioned into
train/test; level 4 is sampled. Left out: division and non-integer answers.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Sequence
from typing import Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .base import Problem, Split, task_config
from .expressions import (
    BinOp,
    Expr,
    Num,
    evaluate,
    intermediate_values,
    parse,
    random_expression,
    render,
    solution_lines,
)
from .generated import GeneratedProblem, GeneratedTask

Level: TypeAlias = Literal[1, 2, 3, 4, "sum30"]
LEVELS: tuple[Level, ...] = (1, 2, "sum30", 3, 4)


class ArithmeticConfig(BaseModel):
    """Options of the arithmetic task; a bad level raises a `ValidationError` naming `level`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    level: Level = Field(1, description="1, 2, 'sum30', 3 or 4 (see module docstring)")

    @field_validator("level", mode="before")
    @classmethod
    def _level_from_text(cls, value: Any) -> Any:
        # The CLI passes options as text: accept "3" for 3.
        if isinstance(value, str) and value.strip().isdigit():
            return int(value.strip())
        return value


def _binop_problems(level: Level, op: str, values_a: range, values_b: range) -> list[GeneratedProblem]:
    problems = []
    for a in values_a:
        for b in values_b:
            if op == "-" and a < b:
                continue  # keep level-3 answers non-negative
            expr = BinOp(op, Num(a), Num(b))
            problems.append(_problem(level, expr))
    return problems


def _problem(level: Level, expr: Expr) -> GeneratedProblem:
    text = render(expr)
    return GeneratedProblem(
        question=f"What is {text}?",
        answer=str(evaluate(expr)),
        meta={"level": level, "expression": text},
    )


@functools.cache
def _listing(level: Level) -> tuple[GeneratedProblem, ...]:
    """Every problem of a finite level (cached: level 3 has ~20k and is listed once)."""
    if level == 1:
        return tuple(_binop_problems(1, "+", range(0, 10), range(0, 10)))
    if level == 2:
        return tuple(_binop_problems(2, "+", range(10, 100), range(10, 100)))
    if level == "sum30":
        return tuple(_binop_problems("sum30", "+", range(2, 31), range(2, 31)))
    return tuple(
        item
        for op in ("+", "-", "*")
        for item in _binop_problems(3, op, range(10, 100), range(10, 100))
    )


class ArithmeticTask(GeneratedTask):
    """Compute the value of an integer expression."""

    name = "arithmetic"
    description = (
        "Integer arithmetic: level 1 (1-digit +) to 4 (multi-step with parentheses); "
        "'sum30' = a + b, a, b in [2, 30]."
    )
    answer_kind = "numeric"
    answer_format = "Give the answer as a single integer."

    def __init__(self, config: ArithmeticConfig | None = None, **options: Any) -> None:
        self.config = task_config(ArithmeticConfig, config, options)

    @property
    def level(self) -> Level:
        return self.config.level

    def all_generated(self, split: Split) -> Sequence[GeneratedProblem] | None:
        # Train and test come from one listing; the hash partition separates them.
        return None if self.level == 4 else _listing(self.level)

    def generate(self, rng: random.Random, split: Split) -> GeneratedProblem:
        # Level 4 only: redraw until the expression has parentheses and stays small and >= 0.
        while True:
            expr = random_expression(rng, rng.randint(2, 3), 1, 20)
            text = render(expr)
            if "(" in text and all(0 <= v <= 999 for v in intermediate_values(expr)):
                return _problem(4, expr)

    def reference_solution(self, problem: Problem) -> str | None:
        text = problem.meta.get("expression")
        if not isinstance(text, str):
            text = problem.question.removeprefix("What is ").rstrip("?").strip()
        try:
            expr = parse(text)
        except ValueError:
            return None
        lines = solution_lines(expr)
        lines.append(f"Answer: {evaluate(expr)}")
        return "\n".join(lines)
