"""Scoring one agent spec on the dev split: accuracy and compute per problem, with early stopping.

In scope: `DevSplit` (the dev problems and the demonstration pool, both from
the task's *train* split and disjoint), `TrainOnlyTask` (the task the
graphs get during tuning: asking it for test problems raises, so a tune can
never evaluate the test split), `Scoring` (the checker on the dev split, or
the verifier alone) and `evaluate_spec`, which runs a spec's graph over the
dev problems and returns an `Evaluation` (accuracy, LLM calls and generated
tokens per problem). Left out: the study (`study.py`).

Pruning. Optuna's `trial.report` / `should_prune` pruners are for
single-objective studies only, so tuning prunes by its own rule: a trial is
first run on a chunk of the dev split (`prune_fraction` of it); it stops
there when its accuracy on the chunk is *clearly dominated*: some finished
trial is at least `prune_margin` more accurate on the whole dev split and
no more costly per problem than this trial was on the chunk. The trial is
then raised as `optuna.TrialPruned` (state PRUNED, with its chunk numbers
in the user attributes `accuracy`, `calls`, `tokens`, `problems`), so it
never enters the Pareto front and a resume does not run it again.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import ContextLengthError, VerbalRLError
from ..tasks.base import Problem, Split, Task

Scoring = Literal["checker", "verifier"]
SCORING_NOTE = {
    "checker": "the task's checker on the dev split (train problems; feedback is legitimate there)",
    "verifier": "the verifier only (mean verifier score of each final answer; no gold answers used)",
}


class TrainOnlyTask:
    """`task`, except that asking for problems of any split but train raises (tuning never sees test)."""

    def __init__(self, task: Task) -> None:
        self.inner = task
        self.name = task.name
        self.description = task.description

    def problems(self, split: Split = "test", n: int = 10, seed: int = 0) -> list[Problem]:
        if split != "train":
            raise VerbalRLError(f"tuning asked for {split!r} problems: only the train split may be used")
        return self.inner.problems("train", n=n, seed=seed)

    def __getattr__(self, name: str) -> Any:
        if name == "inner" or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.inner, name)

    # the rest of the protocol, explicitly (a Protocol check looks for the methods)
    def prompt(self, problem: Problem) -> Any:
        return self.inner.prompt(problem)

    def extract_answer(self, text: str) -> str | None:
        return self.inner.extract_answer(text)

    def check(self, problem: Problem, answer: str | None) -> bool:
        return self.inner.check(problem, answer)

    def reference_solution(self, problem: Problem) -> str | None:
        return self.inner.reference_solution(problem)


@dataclass(frozen=True)
class DevSplit:
    """Dev problems and a demonstration pool from the train split, never overlapping.

    Both come from one draw of `pool_n + dev_n` distinct train problems: the first `pool_n`
    are the pool demonstrations are bootstrapped from, the rest the dev problems.
    """

    dev: tuple[Problem, ...]
    pool: tuple[Problem, ...]

    @classmethod
    def of(cls, task: Task, dev_n: int, pool_n: int = 0, seed: int = 0) -> DevSplit:
        if dev_n < 1:
            raise VerbalRLError("--dev-n must be at least 1")
        problems = TrainOnlyTask(task).problems("train", n=dev_n + pool_n, seed=seed)
        if len(problems) < dev_n + pool_n:
            raise VerbalRLError(
                f"task {task.name!r} has {len(problems)} train problems; {dev_n + pool_n} needed"
            )
        return cls(dev=tuple(problems[pool_n:]), pool=tuple(problems[:pool_n]))


@dataclass(frozen=True)
class Evaluation:
    """A spec on some dev problems: accuracy (by `scoring`) and mean compute per problem."""

    accuracy: float
    calls: float
    tokens: float
    problems: int
    scoring: Scoring

    def cost(self, objective: Literal["calls", "tokens"]) -> float:
        return self.calls if objective == "calls" else self.tokens


def solve_all(agent: Any, problems: Sequence[Problem], scoring: Scoring) -> list[tuple[float, int, int]]:
    """(score, LLM calls, generated tokens) per problem: score 1/0 by the checker, or the verifier's."""
    rows = []
    for problem in problems:
        try:
            result = agent.solve(problem)
        except ContextLengthError:  # a problem the model cannot hold counts as a failure
            rows.append((0.0, 0, 0))
            continue
        if scoring == "checker":
            score = 1.0 if agent.task.check(problem, result.get("answer")) else 0.0
        else:
            score = float(result.get("score") or 0.0) if result.get("answer") is not None else 0.0
        rows.append((score, int(result.get("llm_calls", 0)), int(result.get("generated_tokens", 0))))
    return rows


def summarize(rows: Sequence[tuple[float, int, int]], scoring: Scoring) -> Evaluation:
    n = max(1, len(rows))
    return Evaluation(
        accuracy=sum(r[0] for r in rows) / n,
        calls=sum(r[1] for r in rows) / n,
        tokens=sum(r[2] for r in rows) / n,
        problems=len(rows),
        scoring=scoring,
    )


def chunk_size(dev_n: int, prune_fraction: float) -> int:
    """How many dev problems a trial is run on before the pruning check (0: no check)."""
    if prune_fraction <= 0 or dev_n < 2:
        return 0
    return min(dev_n - 1, max(1, math.ceil(dev_n * prune_fraction)))


def dominated(chunk: Evaluation, finished: Sequence[Evaluation], margin: float, objective: str) -> bool:
    """Whether a finished trial is at least `margin` more accurate and no more costly than `chunk`."""
    cost = chunk.cost(objective)  # type: ignore[arg-type]
    return any(
        f.accuracy >= chunk.accuracy + margin and f.cost(objective) <= cost  # type: ignore[arg-type]
        for f in finished
    )


def evaluate_spec(
    agent: Any,
    dev: Sequence[Problem],
    scoring: Scoring,
    *,
    chunk: int = 0,
    stop_after_chunk: Callable[[Evaluation], bool] | None = None,
) -> tuple[Evaluation, bool]:
    """(evaluation, stopped early): the agent over `dev`, checked after the first `chunk` problems."""
    rows = solve_all(agent, dev[:chunk], scoring) if chunk else []
    if chunk and stop_after_chunk is not None:
        partial = summarize(rows, scoring)
        if stop_after_chunk(partial):
            return partial, True
    rows += solve_all(agent, dev[chunk:], scoring)
    return summarize(rows, scoring), False
