"""The candidate pool: N sampled solutions per problem, labelled by the task's checker.

In scope: `CandidateRecord` (one sampled solution with its extracted answer,
correctness and token counts), `sample_pool` (batched sampling from any
`LLM`), JSONL storage (`write_pool` replaces the file atomically,
`read_pool` names the line of a malformed record), `group_by_problem`
(records back into per-problem `ProblemCandidates`), `pool_stats`, and
`pool_task` (the task a pool was sampled from, rebuilt with its options).
Left out: scoring candidates (verifiers), selection rules (`selection.py`)
and building verifier training data from a pool (`data.py`).

One pool is shared by every method an evaluation compares, so all of them
pick from exactly the same solutions.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import VerbalRLError
from ..llm.base import LLM, Completion, FinishReason, GenerationConfig, Message
from ..tasks.base import Problem, Split, Task
from .shots import Shot, pick_shots

# Problems per `llm.generate` call: enough to fill a batch with n samples
# each, few enough that the progress bar moves and one failure loses little.
DEFAULT_PROBLEMS_PER_CALL = 8


class PoolError(VerbalRLError):
    """A pool file or record set is malformed (the message names the line or problem)."""


class CandidateRecord(BaseModel):
    """One sampled solution of one problem, labelled with the task's exact checker."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    problem_id: str = Field(min_length=1)
    task: str = Field(min_length=1)
    task_options: dict[str, Any] = Field(
        default_factory=dict, description="options that rebuild the task with get_task"
    )
    split: Split
    question: str = Field(min_length=1)
    answer: str = Field(description="gold answer of the problem (never shown to verifiers)")
    meta: dict[str, Any] = Field(default_factory=dict, description="the problem's meta")
    candidate_index: int = Field(ge=0, description="order in which it was sampled")
    text: str
    extracted: str | None = Field(description="answer found in the text, None if none")
    normalized: str | None = Field(
        None, description="extracted answer in the task's canonical form; what votes compare"
    )
    correct: bool
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    finish_reason: FinishReason
    generator: str = Field(description="name of the model that sampled it")
    temperature: float = Field(ge=0.0)
    shots: int = Field(0, ge=0, description="demonstrations shown before the question (0: zero-shot)")

    @model_validator(mode="before")
    @classmethod
    def _default_normalized(cls, data: Any) -> Any:
        # Pools written without a `normalized` field vote on the raw extracted answer.
        if isinstance(data, dict) and "normalized" not in data:
            return {**data, "normalized": data.get("extracted")}
        return data

    def problem(self) -> Problem:
        """The `Problem` this candidate answers, rebuilt from the record."""
        return Problem(
            id=self.problem_id,
            task=self.task,
            split=self.split,
            question=self.question,
            answer=self.answer,
            meta=self.meta,
        )


@dataclass(frozen=True)
class ProblemCandidates:
    """One problem and its candidates in sampling order."""

    problem: Problem
    candidates: tuple[CandidateRecord, ...]

    @property
    def texts(self) -> list[str]:
        return [c.text for c in self.candidates]

    @property
    def answers(self) -> list[str | None]:
        """Normalised answers, the keys that self-consistency votes on."""
        return [c.normalized for c in self.candidates]

    @property
    def correct(self) -> list[bool]:
        return [c.correct for c in self.candidates]


class PoolStats(BaseModel):
    """Summary of a pool: size, accuracy per sample, oracle coverage, answer and length rates."""

    problems: int
    candidates: int
    per_sample_accuracy: float
    pass_at_all: float = Field(description="fraction of problems with a correct candidate")
    no_answer_rate: float
    truncated_rate: float = Field(description="fraction that hit max_new_tokens")
    mean_completion_tokens: float
    min_candidates_per_problem: int
    max_candidates_per_problem: int
    tasks: list[str]
    generators: list[str]


def _normalize(task: Task, answer: str | None) -> str | None:
    if answer is None:
        return None
    # `normalize` is BaseTask's canonical form (not part of the Task protocol).
    normalize = getattr(task, "normalize", None)
    if normalize is None:
        return answer
    try:
        return normalize(answer)
    except Exception:  # a custom task's normaliser must not lose the whole pool
        return answer


def _label(
    task: Task,
    problem: Problem,
    index: int,
    completion: Completion,
    generator: str,
    temperature: float,
    task_options: dict[str, Any],
    shots: int = 0,
) -> CandidateRecord:
    extracted = task.extract_answer(completion.text)
    return CandidateRecord(
        problem_id=problem.id,
        task=problem.task,
        task_options=task_options,
        split=problem.split,
        question=problem.question,
        answer=problem.answer,
        meta=problem.meta,
        candidate_index=index,
        text=completion.text,
        extracted=extracted,
        normalized=_normalize(task, extracted),
        correct=task.check(problem, extracted),
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        finish_reason=completion.finish_reason,
        generator=generator,
        temperature=temperature,
        shots=shots,
    )


def sample_pool(
    llm: LLM,
    task: Task,
    problems: Sequence[Problem],
    n_samples: int,
    config: GenerationConfig,
    progress: bool = True,
    *,
    problems_per_call: int = DEFAULT_PROBLEMS_PER_CALL,
    task_options: dict[str, Any] | None = None,
    demonstrations: Sequence[Shot] = (),
    shots: int = 0,
) -> list[CandidateRecord]:
    """Sample `n_samples` solutions per problem and label each with the task's checker.

    Prompts come from `task.prompt(problem)`, with `shots` of `demonstrations`
    (`shots.py`: `pick_shots`, never the problem itself) as few-shot chat turns
    before the question when `shots > 0`; `problems_per_call` problems go
    to each `llm.generate` call. With `config.seed` set, chunk i uses seed
    `seed + i`: the same seed in every chunk would replay one random stream.
    `task_options` are stored so an evaluation can rebuild the task.
    """
    items = list(problems)
    if not items:
        raise ValueError("problems is empty: give at least one problem to sample")
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    if problems_per_call < 1:
        raise ValueError(f"problems_per_call must be >= 1, got {problems_per_call}")
    if shots < 0 or (shots > 0 and not demonstrations):
        raise ValueError(f"shots={shots} needs demonstrations to pick from (shots >= 0)")
    options = dict(task_options or {})
    chunks = [items[i : i + problems_per_call] for i in range(0, len(items), problems_per_call)]
    records: list[CandidateRecord] = []
    shown: dict[str, int] = {}

    def prompt(problem: Problem) -> list[Message]:
        if shots == 0:
            return task.prompt(problem)
        from ..agents.solver import with_demonstrations

        chosen = pick_shots(demonstrations, problem, shots, seed=config.seed or 0)
        shown[problem.id] = len(chosen)
        return with_demonstrations(task.prompt(problem), task, chosen)

    def run_chunk(i: int, chunk: list[Problem]) -> None:
        seed = None if config.seed is None else config.seed + i
        chunk_config = config.model_copy(update={"n": n_samples, "seed": seed})
        rows = llm.generate([prompt(p) for p in chunk], chunk_config)
        if len(rows) != len(chunk):
            raise VerbalRLError(f"{llm.name} returned {len(rows)} rows for {len(chunk)} prompts")
        for problem, row in zip(chunk, rows, strict=True):
            for index, completion in enumerate(row):
                records.append(
                    _label(
                        task,
                        problem,
                        index,
                        completion,
                        llm.name,
                        config.temperature,
                        options,
                        shown.get(problem.id, 0),
                    )
                )

    from ..console import progress_bar

    label = f"sampling {n_samples} x {len(items)} problems"
    with progress_bar(label, len(items), enabled=progress, transient=True, stderr=True) as advance:
        for i, chunk in enumerate(chunks):
            run_chunk(i, chunk)
            advance(len(chunk))
    return records


def write_pool(path: str | Path, records: Iterable[CandidateRecord]) -> Path:
    """Write records as JSONL, replacing `path` atomically (a crash leaves the old file whole)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for record in records:
                fh.write(record.model_dump_json() + "\n")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def read_pool(path: str | Path) -> list[CandidateRecord]:
    """Read a JSONL pool; blank lines are skipped, a malformed line raises `PoolError` naming it."""
    source = Path(path)
    if not source.is_file():
        raise PoolError(f"pool file {str(source)!r} does not exist")
    records = []
    with source.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                records.append(CandidateRecord.model_validate_json(line))
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(x) for x in first["loc"]) or "line"
                raise PoolError(
                    f"{source}:{lineno}: not a candidate record ({where}: {first['msg']})"
                ) from exc
    return records


def group_by_problem(records: Iterable[CandidateRecord]) -> list[ProblemCandidates]:
    """Records grouped per problem (first-appearance order), candidates by `candidate_index`."""
    grouped: dict[str, list[CandidateRecord]] = {}
    for record in records:
        grouped.setdefault(record.problem_id, []).append(record)
    out = []
    for problem_id, group in grouped.items():
        group.sort(key=lambda r: r.candidate_index)
        problem = group[0].problem()
        indices = [r.candidate_index for r in group]
        if len(set(indices)) != len(indices):
            raise PoolError(f"problem {problem_id!r} has duplicate candidate_index values")
        for r in group[1:]:
            if r.problem() != problem:
                raise PoolError(
                    f"problem {problem_id!r} has records that disagree on its question, answer or meta"
                )
        out.append(ProblemCandidates(problem=problem, candidates=tuple(group)))
    return out


def pool_task(records: Sequence[CandidateRecord]) -> Task:
    """The one task (with its options) the records were sampled from; `PoolError` for none or several."""
    from ..tasks import get_task

    kinds = {(r.task, json.dumps(r.task_options, sort_keys=True)) for r in records}
    if len(kinds) != 1:
        found = ", ".join(sorted(f"{name} {options}" for name, options in kinds)) or "none"
        raise PoolError(f"expected a pool of one task with one set of task options, found: {found}")
    name, options = kinds.pop()
    return get_task(name, **json.loads(options))


def pool_stats(records: Sequence[CandidateRecord]) -> PoolStats:
    """Summarise a pool; `ValueError` when it is empty."""
    if not records:
        raise ValueError("the pool is empty")
    groups = group_by_problem(records)
    sizes = [len(g.candidates) for g in groups]
    total = len(records)
    return PoolStats(
        problems=len(groups),
        candidates=total,
        per_sample_accuracy=sum(r.correct for r in records) / total,
        pass_at_all=sum(any(g.correct) for g in groups) / len(groups),
        no_answer_rate=sum(r.extracted is None for r in records) / total,
        truncated_rate=sum(r.finish_reason == "length" for r in records) / total,
        mean_completion_tokens=sum(r.completion_tokens for r in records) / total,
        min_candidates_per_problem=min(sizes),
        max_candidates_per_problem=max(sizes),
        tasks=sorted({r.task for r in records}),
        generators=sorted({r.generator for r in records}),
    )
