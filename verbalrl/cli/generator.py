"""`verbalrl train-generator`: fine-tune a solver on correct solutions.

In scope: the command, which hands a pool's correct solutions and/or a
task's reference solutions to `verbalrl.training.train_generator` and
reports the run; its flags' defaults are read from `SFTConfig` (except the
number of epochs: `GENERATOR_EPOCHS`). The adapter folder it saves is what
`load_llm` reads. Left out: verifiers (`verifier.py`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import VerbalRLError
from ..training.sft_config import GENERATOR_EPOCHS
from .options import (
    SFT_DEFAULTS,
    BaseModelOpt,
    BatchSizeOpt,
    DataOpt,
    EpochsOpt,
    JsonOpt,
    LevelOpt,
    LoraROpt,
    LrOpt,
    MethodOpt,
    ProblemsOpt,
    ResumeOpt,
    SeedOpt,
    TaskOptionOpt,
    ThreadsOpt,
    print_training,
    sft_config,
    stdout_to_stderr,
    task_options,
)


def train_generator(
    out: Annotated[Path, typer.Option(help="folder for the adapter")],
    pool: Annotated[Path | None, typer.Option(help="use its correct solutions")] = None,
    task: Annotated[str | None, typer.Option(help="use this task's reference solutions")] = None,
    level: LevelOpt = None,
    data: DataOpt = None,
    task_option: TaskOptionOpt = None,
    problems: ProblemsOpt = 1000,
    base_model: BaseModelOpt = SFT_DEFAULTS.base_model,
    method: MethodOpt = SFT_DEFAULTS.method,
    epochs: EpochsOpt = GENERATOR_EPOCHS,
    lr: LrOpt = SFT_DEFAULTS.learning_rate,
    batch_size: BatchSizeOpt = SFT_DEFAULTS.batch_size,
    lora_r: LoraROpt = SFT_DEFAULTS.lora_r,
    seed: SeedOpt = SFT_DEFAULTS.seed,
    resume: ResumeOpt = False,
    threads: ThreadsOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Fine-tune a solver on correct solutions (pool) and/or reference solutions (task)."""
    from ..evaluation.pool import read_pool
    from ..tasks import get_task
    from ..training import train_generator as train

    if pool is None and task is None:
        raise VerbalRLError("give --pool (correct sampled solutions) and/or --task (references)")
    config = sft_config(
        base_model=base_model,
        method=method,
        epochs=epochs,
        learning_rate=lr,
        batch_size=batch_size,
        lora_r=lora_r,
        seed=seed,
    )
    records = read_pool(pool) if pool is not None else None
    the_task = get_task(task, **task_options(level, data, task_option)) if task is not None else None
    with stdout_to_stderr():
        result = train(out, pool=records, task=the_task, problems=problems, config=config, resume=resume)
    print_training(result, json_out)


def register(app: typer.Typer) -> None:
    """Add `train-generator` to the main app."""
    app.command("train-generator")(train_generator)
