"""One call from a labelled pool (or a task) to a trained, saved artifact: what the CLI runs.

    from verbalrl.training import SFTConfig, train_verifier

    result = train_verifier("pool.jsonl", "runs/genrm", kind="genrm", config=SFTConfig(epochs=2))

In scope: `train_verifier` (GenRM direct or CoT through `train_sft`, the ORM
baseline through `train_orm` with an `ORMConfig`) and `train_generator`
(solver SFT). Each reads the pool, builds the examples (`datasets.py`) and
trains; the artifact folder is what `load_verifier` / `load_llm` read.
Left out: the trainers themselves; torch is imported only when one runs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import VerbalRLError
from ..evaluation.pool import CandidateRecord, read_pool
from ..llm.base import LLM
from ..tasks.base import Task
from ..verifier.artifact import Kind
from .datasets import VerifierKind, check_kind, generator_examples, verifier_examples
from .orm_config import ORMConfig
from .sft_config import GENERATOR_EPOCHS, SFTConfig

if TYPE_CHECKING:
    from .sft_trainer import TrainResult

log = logging.getLogger(__name__)
PoolSource = str | Path | Sequence[CandidateRecord]


def _records(pool: PoolSource) -> list[CandidateRecord]:
    records = read_pool(pool) if isinstance(pool, (str, Path)) else list(pool)
    if not records:
        raise VerbalRLError(f"pool {pool} is empty" if isinstance(pool, (str, Path)) else "the pool is empty")
    return records


def as_orm_config(config: SFTConfig | None = None) -> ORMConfig:
    """`config` as an `ORMConfig` (its `lam` dropped: the ORM has no correct-solution loss)."""
    if config is None or isinstance(config, ORMConfig):
        return config or ORMConfig()
    return ORMConfig(**config.model_dump(exclude={"lam"}))


def train_verifier(
    pool: PoolSource,
    out: str | Path,
    kind: VerifierKind = "genrm",
    config: SFTConfig | None = None,
    *,
    max_per_class: int = 16,
    negative_ratio: float | None = None,
    teacher: LLM | None = None,
    resume: bool = False,
    progress: bool = True,
) -> TrainResult:
    """Train a GenRM (`genrm`, `genrm-cot`: unified loss with `config.lam`) or the ORM on a pool.

    `pool` is a JSONL path or the records; `teacher` writes CoT rationales
    for math tasks. The ORM trains with `as_orm_config(config)` (λ = 0).
    """
    kind = check_kind(kind)
    records = _records(pool)
    if kind == "orm":
        from .orm_trainer import train_orm

        settings: SFTConfig = as_orm_config(config)
    else:
        settings = config or SFTConfig()
    examples = verifier_examples(
        records,
        kind,
        max_per_class=max_per_class,
        negative_ratio=negative_ratio,
        lam=settings.lam,
        teacher=teacher,
    )
    log.info("%d training examples (%s, lambda=%.3g)", len(examples), kind, settings.lam)
    if kind == "orm":
        return train_orm(examples, settings, out, resume=resume, progress=progress)
    from .sft_trainer import train_sft

    stored: Kind = "genrm" if kind == "genrm" else "genrm_cot"
    return train_sft(examples, settings, out, kind=stored, resume=resume, progress=progress)


def train_generator(
    out: str | Path,
    *,
    pool: PoolSource | None = None,
    task: Task | None = None,
    problems: int = 1000,
    config: SFTConfig | None = None,
    resume: bool = False,
    progress: bool = True,
) -> TrainResult:
    """Fine-tune a solver on a pool's correct solutions and/or `problems` of `task`'s references.

    The default config is `SFTConfig(epochs=GENERATOR_EPOCHS)`; `config.seed`
    also picks the reference problems.
    """
    from .sft_trainer import train_sft

    settings = config or SFTConfig(epochs=GENERATOR_EPOCHS)
    records = _records(pool) if pool is not None else None
    examples = generator_examples(records, task, problems=problems, seed=settings.seed)
    return train_sft(examples, settings, out, kind="generator", resume=resume, progress=progress)
