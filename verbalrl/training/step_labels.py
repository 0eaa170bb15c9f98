"""Step-labelled examples for a process verifier: from a step checker, or from Monte-Carlo rollouts.

Two sources of the label of "the solution up to step k":

- `checker_step_examples`: the task's step checker (`prefix_labels`: 1.0
  while no step so far is wrong; the last step of a candidate also needs
  its answer to check), for tasks that have one (`chain`);
- `rollout_step_examples`: Math-Shepherd's estimate for any task with a final
  answer checker: from each step prefix, `k` completions by the policy; the
  label is the fraction that reach the correct final answer (`soft`) or
  whether any does (`hard`). All prefixes of all candidates go to the model
  in one batched `generate` call per chunk (a prefix is continued as a
  prefilled assistant turn).

Both read the gold answer: they make training labels, never decisions.
Candidates come from a pool (`verbalrl sample`), so their problems and task
options are known. Left out: training (`prm_trainer.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..evaluation.pool import CandidateRecord
from ..llm.base import LLM, GenerationConfig, Prompt
from ..tasks.answers import split_steps
from ..tasks.base import Problem, Task

LabelSource = Literal["checker", "rollouts", "verifier"]  # verifier: self-training without gold


class StepExample(BaseModel):
    """A candidate's steps and, per step, the probability that the solution so far is right."""

    model_config = ConfigDict(frozen=True)

    question: str = Field(min_length=1)
    steps: list[str] = Field(min_length=1)
    labels: list[float]
    source: LabelSource
    problem_id: str = ""


def checker_step_examples(task: Task, records: Iterable[CandidateRecord]) -> list[StepExample]:
    """Labels from the task's step checker; `ValueError` if the task has none."""
    prefix_labels = getattr(task, "prefix_labels", None)
    if not callable(prefix_labels):
        raise ValueError(
            f"task {task.name!r} has no step checker: label steps with rollouts (--labels rollouts)"
        )
    out = []
    for record in records:
        steps = split_steps(record.text)
        if not steps:
            continue
        labels = [float(x) for x in prefix_labels(record.problem(), record.text, finished=True)]
        out.append(StepExample(question=record.question, steps=steps, labels=labels, source="checker",
                               problem_id=record.problem_id))  # fmt: skip
    return out


def near_miss_examples(task: Task, problems: Sequence[Problem], seed: int = 0) -> list[StepExample]:
    """Per problem, the reference solution and a near miss (`task.near_miss`), labelled by the checker.

    Balanced synthetic data whose errors sit at every position: a PRM trained on sampled
    candidates alone, where late steps are mostly wrong, learns the position instead of the
    arithmetic (RESULTS.md, issue 13 part 2). `ValueError` if the task cannot make near misses.
    """
    import random

    near_miss = getattr(task, "near_miss", None)
    prefix_labels = getattr(task, "prefix_labels", None)
    if not callable(near_miss) or not callable(prefix_labels):
        raise ValueError(f"task {task.name!r} cannot make near misses (no near_miss / prefix_labels)")
    rng = random.Random(seed)
    out = []
    for problem in problems:
        reference = task.reference_solution(problem)
        for text in ([reference] if reference else []) + [near_miss(problem, rng)]:
            steps = split_steps(text)
            labels = [float(x) for x in prefix_labels(problem, text, finished=True)]
            out.append(StepExample(question=problem.question, steps=steps, labels=labels, source="checker",
                                   problem_id=problem.id))  # fmt: skip
    return out


def select_step_examples(
    examples: Sequence[StepExample], max_per_problem: int, seed: int = 0
) -> list[StepExample]:
    """At most `max_per_problem` distinct candidates per problem, alternating clean and flawed ones.

    Duplicates (same steps) are dropped; a "clean" candidate has every label
    above 0.5. Alternating keeps both kinds when a problem has both, as
    `balanced_selection` does for outcome verifiers; the order is seeded.
    """
    import random

    if max_per_problem < 1:
        raise ValueError(f"max_per_problem must be >= 1, got {max_per_problem}")
    rng = random.Random(seed)
    by_problem: dict[str, list[StepExample]] = {}
    seen: set[tuple[str, tuple[str, ...]]] = set()
    for example in examples:
        key = (example.problem_id or example.question, tuple(example.steps))
        if key not in seen:
            seen.add(key)
            by_problem.setdefault(key[0], []).append(example)
    out: list[StepExample] = []
    for group in by_problem.values():
        clean = [e for e in group if min(e.labels) > 0.5]
        flawed = [e for e in group if min(e.labels) <= 0.5]
        rng.shuffle(clean)
        rng.shuffle(flawed)
        picked: list[StepExample] = []
        while len(picked) < max_per_problem and (clean or flawed):
            for pool in (clean, flawed):
                if pool and len(picked) < max_per_problem:
                    picked.append(pool.pop())
        out += picked
    return out


def continuation_prompt(task: Task, problem: Problem, steps: Sequence[str]) -> Prompt:
    """The solver prompt with `steps` as a prefilled assistant turn, to be continued."""
    prompt = list(task.prompt(problem))
    return [*prompt, {"role": "assistant", "content": "\n".join(steps) + "\n"}]


def rollout_step_examples(
    llm: LLM,
    task: Task,
    records: Sequence[CandidateRecord],
    k: int,
    config: GenerationConfig,
    *,
    mode: Literal["soft", "hard"] = "soft",
    prompts_per_call: int = 32,
    progress: bool = True,
) -> list[StepExample]:
    """Math-Shepherd labels: from every step prefix of every record, `k` completions by `llm`.

    The last step of a candidate is labelled by its own final answer (no
    rollout needed). Costs (steps - 1) * k sampled completions per candidate.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if not llm.capabilities.prefill:
        raise ValueError(f"{llm.name} cannot continue a prefilled assistant turn, which rollouts need")
    jobs: list[tuple[int, int]] = []  # (record index, number of steps in the prefix)
    prompts: list[Prompt] = []
    per_record = []
    for r, record in enumerate(records):
        steps = split_steps(record.text)
        per_record.append(steps)
        for n in range(1, len(steps)):
            jobs.append((r, n))
            prompts.append(continuation_prompt(task, record.problem(), steps[:n]))
    hits: dict[tuple[int, int], float] = {}
    gen = config.model_copy(update={"n": k})
    chunks = range(0, len(prompts), prompts_per_call)
    if progress:
        from tqdm.auto import tqdm

        chunks = tqdm(chunks, desc="rollouts", unit="chunk")
    for start in chunks:
        rows = llm.generate(prompts[start : start + prompts_per_call], gen)
        for (r, n), completions in zip(jobs[start : start + prompts_per_call], rows, strict=True):
            problem = records[r].problem()
            prefix = "\n".join(per_record[r][:n]) + "\n"
            right = [task.check(problem, task.extract_answer(prefix + c.text)) for c in completions]
            hits[(r, n)] = sum(right) / len(right) if mode == "soft" else float(any(right))
    out = []
    for r, (record, steps) in enumerate(zip(records, per_record, strict=True)):
        if not steps:
            continue
        final = float(task.check(record.problem(), task.extract_answer(record.text)))
        labels = [hits[(r, n)] for n in range(1, len(steps))] + [final]
        out.append(StepExample(question=record.question, steps=steps, labels=labels, source="rollouts",
                               problem_id=record.problem_id))  # fmt: skip
    return out
