"""Prompt-level candidates: instruction variants and demonstration sets, for the search to choose among.

In scope: `PromptSearch` (what to prepare: train problems to bootstrap from,
how many demonstrations the solver may see, hand-written variants, how many
model-proposed rewrites), `bootstrap` (DSPy's BootstrapFewShot: the model
solves train-pool problems with the task's prompt; the solutions the
task's checker accepts become demonstrations, topped up with the task's
reference solutions when too few), `propose_instructions` (OPRO / GEPA
style: the model is shown the current instructions and failed attempts with
their gold answers, and asked for better instructions) and
`prompt_candidates`, which does both once per study. The candidates are
evaluated on the dev split like any other setting (`space.py` carries them;
TPE picks them jointly with the graph's settings), so the best is kept.

Why the pool is train and disjoint from dev: a demonstration is a solved
problem; one from the dev set would score the agent on problems it was shown.
Gold answers are read here (checker, failure feedback) only for train-pool
problems. Left out: scoring (`objective.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..agents.prompted import Demonstration
from ..llm.base import GenerationConfig
from ..tasks.base import DEFAULT_SYSTEM_PROMPT, Problem, Task

# Hand-written variants of the default solver instructions (`--variants`).
INSTRUCTION_VARIANTS: tuple[str, ...] = (
    "Solve the problem. Show one short line of work, then the final line `Answer: <answer>`.",
    "Think step by step and check your result before you answer. The last line must be "
    "`Answer: <answer>` and nothing else.",
    "Give only the final line `Answer: <answer>`.",
)
PROPOSER_SYSTEM = "You improve instructions for a problem solver. Reply with the new instructions only."
MAX_INSTRUCTION_CHARS = 600


class PromptSearch(BaseModel):
    """Prompt-level candidates to prepare before a tune (all off by default)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pool_n: int = Field(0, ge=0, description="train problems (disjoint from dev) to bootstrap from")
    shots: tuple[int, ...] = (0,)
    variants: bool = Field(False, description="add the hand-written instruction variants")
    propose: int = Field(0, ge=0, le=16, description="model-proposed instructions from observed failures")
    max_new_tokens: int = Field(128, ge=8, description="per bootstrapped solution / proposal")

    @model_validator(mode="after")
    def _check(self) -> PromptSearch:
        if not self.shots or min(self.shots) < 0:
            raise ValueError("shots: give numbers of demonstrations >= 0")
        if max(self.shots) > self.pool_n:
            raise ValueError(f"shots: {max(self.shots)} demonstrations need a pool of at least as many "
                             f"train problems (pool_n / --pool-n is {self.pool_n})")
        if self.propose and not self.pool_n:
            raise ValueError("propose: proposals learn from failures on the pool: set pool_n / --pool-n")
        return self


class Candidates(BaseModel):
    """What `prompt_candidates` prepared: instructions (None: the base spec's) and demonstrations."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    instructions: tuple[str | None, ...] = (None,)
    demonstrations: tuple[Demonstration, ...] = ()
    failures: int = 0


def bootstrap(
    llm: Any, task: Task, pool: Sequence[Problem], max_new_tokens: int = 128, seed: int = 0
) -> tuple[list[Demonstration], list[tuple[Problem, str]]]:
    """(demonstrations, failures): the model's checker-verified solutions of `pool`, and the rest
    as (problem, attempt). One greedy sample per problem, in one batched call."""
    if not pool:
        return [], []
    gen = GenerationConfig(n=1, temperature=0.0, max_new_tokens=max_new_tokens, seed=seed)
    rows = llm.generate([task.prompt(p) for p in pool], gen)
    demos, failures = [], []
    for problem, row in zip(pool, rows, strict=True):
        text = row[0].text.strip()
        finished = row[0].finish_reason != "length"
        if finished and text and task.check(problem, task.extract_answer(text)):
            demos.append(Demonstration(question=problem.question, solution=text))
        else:
            failures.append((problem, text))
    return demos, failures


def labeled(task: Task, pool: Sequence[Problem], skip: set[str]) -> list[Demonstration]:
    """The task's reference solutions of `pool` problems not in `skip` (DSPy's labeled demos)."""
    out = []
    for problem in pool:
        solution = task.reference_solution(problem)
        if solution and problem.question not in skip:
            out.append(Demonstration(question=problem.question, solution=solution))
    return out


def proposer_prompt(current: str, failures: Sequence[tuple[Problem, str]]) -> list[dict[str, str]]:
    """The OPRO/GEPA-style request: the instructions, failed attempts with gold answers, a rewrite."""
    shown = "\n\n".join(
        f"Problem: {p.question}\nAttempt: {attempt[:300] or '(empty)'}\nCorrect answer: {p.answer}"
        for p, attempt in failures
    )
    user = (
        f"These are the instructions a solver was given:\n\n{current}\n\n"
        f"With them it got these problems wrong:\n\n{shown}\n\n"
        "Write better instructions for the solver, so it gets problems like these right. Keep the "
        "rule that the last line is `Answer: <answer>`."
    )
    return [{"role": "system", "content": PROPOSER_SYSTEM}, {"role": "user", "content": user}]


def clean_instruction(text: str) -> str | None:
    """A usable proposed instruction (stripped, capped), or None for an empty one."""
    text = text.strip().strip('"').strip()
    if len(text) < 12:
        return None
    return text[:MAX_INSTRUCTION_CHARS]


def propose_instructions(
    llm: Any, current: str, failures: Sequence[tuple[Problem, str]], n: int, *, max_new_tokens: int = 128,
    seed: int = 0,
) -> list[str]:
    """Up to `n` distinct rewrites of `current` from `failures` (sampled, temperature 0.9)."""
    if n <= 0 or not failures:
        return []
    gen = GenerationConfig(n=n, temperature=0.9, max_new_tokens=max_new_tokens, seed=seed)
    row = llm.generate([proposer_prompt(current, failures[:4])], gen)[0]
    out: list[str] = []
    for completion in row:
        text = clean_instruction(completion.text)
        if text and text not in out and text != current:
            out.append(text)
    return out


def prompt_candidates(
    llm: Any, task: Task, pool: Sequence[Problem], search: PromptSearch, current: str | None, seed: int = 0
) -> Candidates:
    """Instructions (None first: the base spec's own) and demonstrations for the search."""
    demos, failures = bootstrap(llm, task, pool, search.max_new_tokens, seed) if pool else ([], [])
    need = max(search.shots)
    if len(demos) < need:
        demos += labeled(task, pool, {d.question for d in demos})[: need - len(demos)]
    instructions: list[str | None] = [None]
    if search.variants:
        instructions += list(INSTRUCTION_VARIANTS)
    base = current or str(getattr(task, "system_prompt", DEFAULT_SYSTEM_PROMPT))
    tokens = search.max_new_tokens
    for text in propose_instructions(llm, base, failures, search.propose, max_new_tokens=tokens, seed=seed):
        if text not in instructions:
            instructions.append(text)
    return Candidates(
        instructions=tuple(instructions), demonstrations=tuple(demos[:need]), failures=len(failures)
    )
