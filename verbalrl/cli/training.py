"""`verbalrl train-verifier` and `verbalrl train-generator`.

In scope: `register(app)`, which adds both commands to the main typer app.
`train-verifier` builds training data from a labelled candidate pool and
trains GenRM (direct or CoT, with the unified loss λ·L_correct), or the ORM
baseline; `train-generator` fine-tunes a solver on correct solutions from a
pool and/or the task's reference solutions. Both save an artifact folder
(adapter + `verifier.json`) that `GenRMVerifier.load`, `ORMVerifier.load`
and `load_llm` read, and `--resume` continues from the last checkpoint.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console

from ..errors import VerbalRLError

console = Console()
err_console = Console(stderr=True)

KindOpt = Literal["genrm", "genrm-cot", "orm"]


def _train_options(**values: Any) -> Any:
    from ..training.sft_config import SFTConfig

    return SFTConfig(**{k: v for k, v in values.items() if v is not None})


def _task_of(records: list[Any]) -> Any:
    from ..tasks import get_task

    first = records[0]
    return get_task(first.task, **first.task_options)


def _quiet_stdout() -> contextlib.AbstractContextManager[Any]:
    """Send the Trainer's progress and loss logs to stderr, so stdout stays clean for --json."""
    return contextlib.redirect_stdout(sys.stderr)


def _report(result: Any, json_out: bool) -> None:
    summary = {
        "output_dir": str(result.output_dir),
        "examples": result.examples,
        "dropped": result.dropped,
        "steps": result.steps,
        "first_loss": result.loss_history[0][1] if result.loss_history else None,
        "last_loss": result.loss_history[-1][1] if result.loss_history else None,
        "seconds": round(result.seconds, 1),
    }
    if json_out:
        print(json.dumps(summary, indent=2))
    else:
        console.print(
            f"trained on {summary['examples']} examples ({summary['dropped']} dropped), "
            f"{summary['steps']} steps, loss {summary['first_loss']} -> {summary['last_loss']}, "
            f"{summary['seconds']} s; saved to {summary['output_dir']}"
        )


def register(app: typer.Typer) -> None:
    """Add `train-verifier` and `train-generator` to the main CLI."""

    @app.command("train-verifier")
    def train_verifier(
        pool: Annotated[Path, typer.Option(help="labelled candidate pool (verbalrl sample)")],
        out: Annotated[Path, typer.Option(help="folder for the adapter and verifier.json")],
        kind: Annotated[str, typer.Option(help="genrm | genrm-cot | orm")] = "genrm",
        base_model: Annotated[
            str, typer.Option(help="model to fine-tune")
        ] = "smollm2-135m-instruct",
        method: Annotated[str, typer.Option(help="lora | full")] = "lora",
        lam: Annotated[float, typer.Option(help="weight of the correct-solution loss")] = 1 / 3,
        epochs: float = 2.0,
        lr: float = 3e-4,
        batch_size: int = 8,
        lora_r: int = 16,
        max_length: int = 768,
        max_per_class: Annotated[int, typer.Option(help="correct/incorrect kept per problem")] = 16,
        negative_ratio: Annotated[
            float | None, typer.Option(help="cap wrong solutions at this multiple of right ones")
        ] = None,
        teacher: Annotated[
            str | None, typer.Option(help="teacher model for gsm8k CoT data")
        ] = None,
        resume: Annotated[bool, typer.Option(help="continue from the last checkpoint")] = False,
        json_out: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Train a GenRM (direct or CoT) or the ORM baseline on a labelled pool."""
        from ..evaluation.pool import read_pool
        from ..training.examples import correct_solution_examples, cot_examples, direct_examples

        if kind not in ("genrm", "genrm-cot", "orm"):
            raise VerbalRLError(f"--kind must be genrm, genrm-cot or orm, not {kind!r}")
        config = _train_options(
            base_model=base_model,
            method=method,
            lam=lam,
            epochs=epochs,
            learning_rate=lr,
            batch_size=batch_size,
            lora_r=lora_r,
            lora_alpha=2 * lora_r,
            max_length=max_length,
        )
        records = read_pool(pool)
        if not records:
            raise VerbalRLError(f"pool {pool} is empty")
        task = _task_of(records)
        if kind == "orm":
            from ..training.orm_trainer import train_orm

            examples = direct_examples(records, max_per_class, negative_ratio=negative_ratio)
            with _quiet_stdout():
                result = train_orm(examples, config, out, resume=resume)
            _report(result, json_out)
            return
        if kind == "genrm":
            examples = direct_examples(records, max_per_class, negative_ratio=negative_ratio)
        else:
            teacher_llm = None
            if teacher:
                from ..llm.registry import load_llm

                teacher_llm = load_llm(teacher)
            examples = cot_examples(
                records,
                task,
                teacher=teacher_llm,
                max_per_class=max_per_class,
                negative_ratio=negative_ratio,
            )
        if config.lam > 0:
            examples += correct_solution_examples(records, task, weight=config.lam)
        from ..training.sft_trainer import train_sft

        stored_kind: Literal["genrm", "genrm_cot"] = "genrm" if kind == "genrm" else "genrm_cot"
        err_console.print(f"{len(examples)} training examples ({kind}, λ={config.lam:.3g})")
        with _quiet_stdout():
            result = train_sft(examples, config, out, kind=stored_kind, resume=resume)
        _report(result, json_out)

    @app.command("train-generator")
    def train_generator(
        out: Annotated[Path, typer.Option(help="folder for the adapter")],
        pool: Annotated[Path | None, typer.Option(help="use its correct solutions")] = None,
        task: Annotated[
            str | None, typer.Option(help="use this task's reference solutions")
        ] = None,
        level: Annotated[str | None, typer.Option(help="arithmetic level")] = None,
        problems: Annotated[int, typer.Option(help="training problems for --task")] = 1000,
        base_model: str = "smollm2-135m-instruct",
        method: str = "lora",
        epochs: float = 1.0,
        lr: float = 3e-4,
        batch_size: int = 8,
        lora_r: int = 16,
        seed: int = 0,
        resume: bool = False,
        json_out: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Fine-tune a solver on correct solutions (pool) and/or reference solutions (task)."""
        from ..evaluation.pool import read_pool
        from ..tasks import get_task
        from ..training.examples import correct_solution_examples, reference_solution_examples
        from ..training.sft_trainer import train_sft

        if pool is None and task is None:
            raise VerbalRLError(
                "give --pool (correct sampled solutions) and/or --task (references)"
            )
        config = _train_options(
            base_model=base_model,
            method=method,
            epochs=epochs,
            learning_rate=lr,
            batch_size=batch_size,
            lora_r=lora_r,
            lora_alpha=2 * lora_r,
            seed=seed,
        )
        examples = []
        if pool is not None:
            records = read_pool(pool)
            examples += correct_solution_examples(records, _task_of(records))
        if task is not None:
            options: dict[str, Any] = {}
            if level:
                options["level"] = int(level) if level.isdigit() else level
            the_task = get_task(task, **options)
            train = the_task.problems("train", n=problems, seed=seed)
            examples += reference_solution_examples(the_task, train)
        with _quiet_stdout():
            result = train_sft(examples, config, out, kind="generator", resume=resume)
        _report(result, json_out)
