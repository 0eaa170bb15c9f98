"""Consolidating a memory into weights: fine-tune the policy on the memory's gated verified experiences.

    from verbalrl.memory import ChromaMemory
    from verbalrl.training.consolidate import consolidate

    with ChromaMemory("memory/") as memory:
        result = consolidate(memory, "runs/consolidated", SFTConfig(epochs=1))

In scope: reading experiences back from any `RecordStore`, keeping only those
the exemplar gate admits (`Experience.status == "exemplar"`: a success the
verifier accepted and the checker did not reject, the same records recall
offers as demonstrations) and turning them into solver SFT examples (the
task's own solver prompt for the stored problem, the stored solution as the
target), trained with the self-training trainer (`train_sft`, kind
"generator"); a `manifest.json` beside the adapter says what was kept and
why the rest was left out. Memory is untrusted input: rows that hold no
valid record are skipped (`skip_malformed`), and so are experiences of a
task that is not registered, whose solution has no answer the task can
read, or that repeat one already taken; chat-template tokens in stored text
are defused as in recall. Left out: the trainer (`sft_trainer.py`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..memory.context import defuse_template_tokens
from ..memory.records import Experience
from ..tasks.base import Problem, Task
from .examples import SFTExample
from .sft_config import GENERATOR_EPOCHS, SFTConfig
from .stages import last_checkpoint, write_json

MANIFEST = "manifest.json"


@dataclass
class ConsolidationData:
    """The examples taken from a memory and a count of every record left out, by reason."""

    examples: list[SFTExample]
    read: int
    status: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)


def _experiences(memory: Any, task: str | None) -> Iterator[Any]:
    try:
        return iter(memory.iter_records("experience", task=task, skip_malformed=True))
    except TypeError:  # a store without the option (in-process objects, validated when made)
        return iter(memory.iter_records("experience", task=task))


def consolidation_examples(
    memory: Any, *, task: str | None = None, task_options: Mapping[str, Mapping[str, Any]] | None = None
) -> ConsolidationData:
    """Solver SFT examples from the gated experiences of `memory` (optionally of one `task`).

    `task_options` maps a task name to its `get_task` options (the memory
    stores the task's name only).
    """
    from ..agents.solver import task_prompt
    from ..tasks import get_task

    tasks: dict[str, Task | None] = {}
    seen: set[tuple[str, str, str]] = set()
    data = ConsolidationData(examples=[], read=0)
    for record in _experiences(memory, task):
        data.read += 1
        if not isinstance(record, Experience):
            data.skipped["not an experience"] += 1
            continue
        data.status[record.status] += 1
        if record.status != "exemplar":  # the exemplar gate: what recall would offer as a demonstration
            continue
        if record.task not in tasks:
            try:
                tasks[record.task] = get_task(record.task, **dict((task_options or {}).get(record.task, {})))
            except Exception:  # noqa: BLE001 - an unknown or misconfigured task: its records are skipped
                tasks[record.task] = None
        the_task = tasks[record.task]
        if the_task is None:
            data.skipped["unknown task"] += 1
            continue
        solution = defuse_template_tokens(record.solution.strip())
        if not solution or the_task.extract_answer(solution) is None:
            data.skipped["no answer in the solution"] += 1
            continue
        key = (record.task, record.problem.strip(), solution)
        if key in seen:
            data.skipped["duplicate"] += 1
            continue
        seen.add(key)
        problem = Problem(id=record.id, task=record.task, split="train", question=record.problem, answer="")
        data.examples.append(
            SFTExample(
                prompt=task_prompt(the_task, problem), target=solution, kind="correct", problem_id=record.id
            )
        )
    return data


def consolidate(
    memory: Any,
    out: str | Path,
    config: SFTConfig | None = None,
    *,
    task: str | None = None,
    task_options: Mapping[str, Mapping[str, Any]] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Fine-tune `config.base_model` on the memory's gated experiences; return the manifest written to OUT.

    A run killed mid-training continues from its last checkpoint when called again.
    """
    from .sft_trainer import train_sft

    start = time.perf_counter()
    settings = config or SFTConfig(epochs=GENERATOR_EPOCHS)
    out = Path(out)
    data = consolidation_examples(memory, task=task, task_options=task_options)
    stored = memory.count("experience")
    if not data.examples:
        raise ValueError(
            f"no gated verified experience to train on ({data.read} read, by status {dict(data.status)}, "
            f"skipped {dict(data.skipped)})"
        )
    ckpt = last_checkpoint(out)
    location = str(getattr(memory, "location", "memory"))
    result = train_sft(data.examples, settings, out, kind="generator", resume=ckpt is not None,
                       progress=progress, extra_metadata={"consolidated_from": location})  # fmt: skip
    history = result.loss_history
    manifest = {
        "memory": location,
        "task": task,
        "stored_experiences": stored,
        "read": data.read,
        "unreadable_rows": max(0, stored - data.read) if task is None else None,
        "by_status": dict(data.status),
        "skipped": dict(data.skipped),
        "examples": len(data.examples),
        "trained_examples": result.examples,
        "dropped_too_long": result.dropped,
        "optimizer_steps": result.steps,
        "first_loss": history[0][1] if history else None,
        "last_loss": history[-1][1] if history else None,
        "loss_history": history,
        "resumed_from": ckpt.name if ckpt else None,
        "settings": settings.model_dump(),
        "seconds": round(time.perf_counter() - start, 2),
    }
    write_json(out / MANIFEST, manifest)
    return manifest
