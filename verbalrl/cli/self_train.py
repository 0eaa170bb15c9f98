"""`verbalrl self-train` and `verbalrl consolidate`: improving the policy from what was verified.

In scope: `register(app)`. `self-train` runs K iterations of generate ->
label -> fine-tune policy, GenRM and PRM -> evaluate on held-out problems
(`verbalrl.training.self_train`), one progress line per stage, `--resume`
after a kill; `consolidate` fine-tunes the policy on a memory's gated
verified experiences (`verbalrl.training.consolidate`). Both are thin layers
over the library; heavy imports happen inside the commands.
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
    JsonOpt,
    LevelOpt,
    LoraROpt,
    LrOpt,
    MethodOpt,
    ResumeOpt,
    SeedOpt,
    TaskOptionOpt,
    ThreadsOpt,
    console,
    err_console,
    print_json,
    sft_config,
    stdout_to_stderr,
    task_options,
)

EpochsOf = Annotated[float, typer.Option()]


def self_train(
    out: Annotated[Path, typer.Option(help="folder for every iteration's pools, adapters and manifest")],
    task: Annotated[str, typer.Option(help="task name (see `verbalrl tasks list`)")] = "chain",
    level: LevelOpt = None,
    task_option: TaskOptionOpt = None,
    iterations: Annotated[int, typer.Option(help="K: generate-label-train-evaluate rounds")] = 3,
    mode: Annotated[
        str, typer.Option(help="feedback (checker labels) | verifier-only (the verifiers' labels, no gold)")
    ] = "feedback",
    problems: Annotated[int, typer.Option("--problems", help="train-split problems per iteration")] = 64,
    eval_problems: Annotated[int, typer.Option(help="held-out test-split problems")] = 32,
    samples: Annotated[int, typer.Option(help="samples per training problem")] = 8,
    shots: Annotated[
        int,
        typer.Option(
            help="reference solutions shown as turns when generating training traces (STaR); "
            "SFT data and held-out evaluation stay zero-shot"
        ),
    ] = 0,
    eval_samples: Annotated[int, typer.Option(help="samples per held-out problem (Best-of-N's N)")] = 8,
    temperature: float = 0.8,
    max_new_tokens: int = 128,
    policy: Annotated[str | None, typer.Option(help="first policy (default: --base-model)")] = None,
    verifier: Annotated[
        str | None, typer.Option(help="first outcome verifier spec (verifier-only mode needs one)")
    ] = None,
    prm: Annotated[str | None, typer.Option(help="first process verifier spec, e.g. prm:PATH")] = None,
    threshold: Annotated[float, typer.Option(help="verifier-only: outcome label = score >= this")] = 0.5,
    top_fraction: Annotated[
        float | None,
        typer.Option(
            help="verifier-only: label the top fraction of each iteration's samples as right "
            "(threshold read from the score distribution; overrides --threshold)"
        ),
    ] = None,
    step_threshold: Annotated[float, typer.Option(help="verifier-only: step label threshold")] = 0.5,
    verifier_score: Annotated[str, typer.Option(help="yes (p(Yes)) | normalized")] = "yes",
    rollouts: Annotated[
        int, typer.Option(help="rollouts per step prefix (tasks without a step checker)")
    ] = 2,
    accumulate: Annotated[bool, typer.Option(help="train on every iteration's traces so far")] = False,
    train_prm: Annotated[bool, typer.Option(help="train a PRM every iteration")] = True,
    baseline: Annotated[bool, typer.Option(help="evaluate the first policy as iteration 0")] = True,
    base_model: BaseModelOpt = SFT_DEFAULTS.base_model,
    method: MethodOpt = SFT_DEFAULTS.method,
    policy_epochs: EpochsOf = GENERATOR_EPOCHS,
    verifier_epochs: EpochsOf = SFT_DEFAULTS.epochs,
    prm_epochs: EpochsOf = SFT_DEFAULTS.epochs,
    lr: LrOpt = SFT_DEFAULTS.learning_rate,
    batch_size: BatchSizeOpt = SFT_DEFAULTS.batch_size,
    lora_r: LoraROpt = SFT_DEFAULTS.lora_r,
    save_steps: Annotated[int, typer.Option(help="Trainer checkpoint interval (resume point)")] = (
        SFT_DEFAULTS.save_steps
    ),
    dtype: Annotated[str, typer.Option(help="sampling and scoring: auto | float32 | bfloat16")] = "auto",
    seed: SeedOpt = 0,
    resume: ResumeOpt = False,
    threads: ThreadsOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Self-train the policy and its verifiers (GenRM, PRM) for K rounds; evaluate each on held-out data."""
    from ..training.self_train import self_train as run
    from ..training.self_train_config import SelfTrainConfig

    def training(epochs: float) -> object:
        return sft_config(method=method, epochs=epochs, learning_rate=lr, batch_size=batch_size,
                          lora_r=lora_r, save_steps=save_steps, seed=seed)  # fmt: skip

    config = SelfTrainConfig(
        task=task, task_options=task_options(level, None, task_option), iterations=iterations, mode=mode,
        train_problems=problems, eval_problems=eval_problems, samples=samples, eval_samples=eval_samples,
        shots=shots, temperature=temperature, max_new_tokens=max_new_tokens, dtype=dtype,
        base_model=base_model, policy=policy, verifier=verifier, prm=prm, threshold=threshold,
        top_fraction=top_fraction, step_threshold=step_threshold, verifier_score=verifier_score,
        rollouts=rollouts,
        accumulate=accumulate, train_prm=train_prm,
        baseline=baseline, seed=seed, policy_training=training(policy_epochs),
        verifier_training=training(verifier_epochs), prm_training=training(prm_epochs),
    )  # fmt: skip

    def say(text: str) -> None:  # one plain line per stage: no markup ("[iteration 1]", "best_of_n[...]")
        err_console.print(text, highlight=False, markup=False, soft_wrap=True)

    with stdout_to_stderr():
        result = run(config, out, resume=resume, progress=not json_out, say=say)
    rows = [{"iteration": m["iteration"], **_figures(m["held_out"])} for m in result.manifests]
    if json_out:
        print_json({"out": str(out), "iterations": rows})
        return
    from rich.table import Table

    table = Table("iteration", "first sample", "self-consistency", "best-of-N GenRM", "best-of-N PRM",
                  "pass@N", "GenRM AUC", "PRM step AUC", title=f"held-out ({config.mode})")  # fmt: skip
    for row in rows:
        table.add_row(str(row["iteration"]), *(_pct(row[k]) for k in ("first_sample", "self_consistency",
                      "best_of_n[verifier]", "best_of_n[prm]", "pass@n")),
                      *(_num(row[k]) for k in ("verifier_auc", "prm_step_auc")))  # fmt: skip
    console.print(table)
    console.print(f"manifests: {out}/iter-*/manifest.json", highlight=False)


def _figures(held_out: dict[str, object]) -> dict[str, object]:
    keys = ("first_sample", "self_consistency", "best_of_n[verifier]", "best_of_n[prm]", "pass@n",
            "verifier_auc", "prm_auc", "prm_step_auc", "n")  # fmt: skip
    return {k: held_out.get(k) for k in keys}


def _pct(value: object) -> str:
    return "-" if not isinstance(value, float | int) else f"{100 * value:.1f}%"


def _num(value: object) -> str:
    return "-" if not isinstance(value, float | int) else f"{value:.3f}"


def consolidate(
    memory: Annotated[Path, typer.Option("--memory", help="memory folder (a ChromaMemory)")],
    out: Annotated[Path, typer.Option(help="folder for the policy adapter and manifest.json")],
    task: Annotated[str | None, typer.Option(help="only this task's experiences")] = None,
    level: LevelOpt = None,
    task_option: TaskOptionOpt = None,
    embedder: Annotated[
        str, typer.Option(help="the memory's embedder: 'default' or 'hash:<dim>'")
    ] = "default",
    base_model: BaseModelOpt = SFT_DEFAULTS.base_model,
    method: MethodOpt = SFT_DEFAULTS.method,
    epochs: Annotated[float, typer.Option(help="passes over the examples")] = GENERATOR_EPOCHS,
    lr: LrOpt = SFT_DEFAULTS.learning_rate,
    batch_size: BatchSizeOpt = SFT_DEFAULTS.batch_size,
    lora_r: LoraROpt = SFT_DEFAULTS.lora_r,
    seed: SeedOpt = 0,
    threads: ThreadsOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Fine-tune the policy on a memory's gated verified experiences (what recall offers as exemplars)."""
    from ..memory import ChromaMemory, MemoryConfig
    from ..training.consolidate import consolidate as run

    if not memory.is_dir():
        raise VerbalRLError(f"memory folder {str(memory)!r} does not exist")
    options = task_options(level, None, task_option)
    if options and task is None:
        raise VerbalRLError("--level / --task-option need --task (the task they belong to)")
    config = sft_config(base_model=base_model, method=method, epochs=epochs, learning_rate=lr,
                        batch_size=batch_size, lora_r=lora_r, seed=seed)  # fmt: skip
    with ChromaMemory(config=MemoryConfig(path=memory, embedder=embedder)) as store, stdout_to_stderr():
        manifest = run(store, out, config, task=task, task_options={task: options} if task else None,
                       progress=not json_out)  # fmt: skip
    if json_out:
        print_json(manifest)
        return
    console.print(
        f"consolidated {manifest['examples']} gated experiences of {manifest['read']} read "
        f"(by status {manifest['by_status']}, skipped {manifest['skipped']}): {manifest['optimizer_steps']} "
        f"steps, loss {manifest['first_loss']} -> {manifest['last_loss']}; saved to {out}",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add `self-train` and `consolidate` to the main app."""
    app.command("self-train")(self_train)
    app.command("consolidate")(consolidate)
