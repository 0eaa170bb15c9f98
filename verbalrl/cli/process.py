"""`verbalrl train-prm` and `eval-prm`: the process verifier from a pool, and how good it is.

In scope: `register(app)`. `train-prm` labels every step of a pool's
candidates (the task's step checker, or Monte-Carlo rollouts by a policy
model for tasks without one) and trains a GenRM-style PRM
(`verbalrl.training.prm_trainer`). `eval-prm` scores every step of a
held-out pool once, prints the step-level AUC against the task's step
checker, and Best-of-N with each aggregation (last, min, prod) beside any
outcome verifier given with `--verifier`, through `evaluate_pool`. Heavy
imports happen inside the commands.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import VerbalRLError
from .options import (
    SFT_DEFAULTS,
    BaseModelOpt,
    BatchSizeOpt,
    EpochsOpt,
    JsonOpt,
    LoraROpt,
    LrOpt,
    MethodOpt,
    ModelOpt,
    PoolOpt,
    ResumeOpt,
    ThreadsOpt,
    console,
    err_console,
    load_model,
    print_training,
    read_pools,
    sft_config,
    stdout_to_stderr,
)
from .verifier import parse_ns


def checker_like(records: list[Any]) -> list[Any]:
    """Records as step examples labelled by their final answer only (to select before rollouts)."""
    from ..tasks.answers import split_steps
    from ..training.step_labels import StepExample

    out = []
    for r in records:
        steps = split_steps(r.text)
        if steps:
            label = float(r.correct)
            out.append(StepExample(question=r.question, steps=steps, labels=[label] * len(steps),
                                   source="rollouts", problem_id=r.problem_id))  # fmt: skip
    return out


def train_prm(
    pool: Annotated[list[Path], typer.Option("--pool", help="labelled pool of one task (repeatable)")],
    out: Annotated[Path, typer.Option(help="folder for the adapter and verifier.json")],
    labels: Annotated[str, typer.Option(help="checker (the task's step checker) | rollouts")] = "checker",
    rollouts: Annotated[int, typer.Option(help="completions per step prefix (--labels rollouts)")] = 4,
    rollout_mode: Annotated[str, typer.Option(help="soft (fraction right) | hard (any right)")] = "soft",
    model: ModelOpt = "smollm2-135m-instruct",
    temperature: Annotated[float, typer.Option(help="rollout sampling temperature")] = 0.8,
    max_new_tokens: Annotated[int, typer.Option(help="rollout length")] = 96,
    seed: int = 0,
    base_model: BaseModelOpt = SFT_DEFAULTS.base_model,
    method: MethodOpt = SFT_DEFAULTS.method,
    epochs: EpochsOpt = SFT_DEFAULTS.epochs,
    lr: LrOpt = SFT_DEFAULTS.learning_rate,
    batch_size: BatchSizeOpt = SFT_DEFAULTS.batch_size,
    lora_r: LoraROpt = SFT_DEFAULTS.lora_r,
    max_length: Annotated[int, typer.Option(help="steps past this many tokens are cut")] = 768,
    max_per_problem: Annotated[
        int, typer.Option(help="distinct candidates kept per problem (clean and flawed alternate)")
    ] = 4,
    near_misses: Annotated[
        int,
        typer.Option(help="train problems (not the pool's) whose reference and a near miss (one result "
                     "off by 1-3) are added, labelled by the step checker; 0: none"),
    ] = 0,
    resume: ResumeOpt = False,
    threads: ThreadsOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Train a process verifier (PRM) on a pool, with step labels from the checker or rollouts."""
    from ..evaluation.pool import pool_task
    from ..llm.base import GenerationConfig
    from ..tasks.answers import split_steps
    from ..training.prm_trainer import PRMConfig
    from ..training.prm_trainer import train_prm as train
    from ..training.step_labels import checker_step_examples, rollout_step_examples, select_step_examples

    if labels not in ("checker", "rollouts"):
        raise VerbalRLError(f"--labels must be checker or rollouts, not {labels!r}")
    if rollout_mode not in ("soft", "hard"):
        raise VerbalRLError(f"--rollout-mode must be soft or hard, not {rollout_mode!r}")
    records = read_pools(pool)
    task = pool_task(records)
    config = sft_config(
        PRMConfig, base_model=base_model, method=method, epochs=epochs, learning_rate=lr,
        batch_size=batch_size, lora_r=lora_r, max_length=max_length,
    )  # fmt: skip
    if labels == "checker":
        try:
            examples = select_step_examples(checker_step_examples(task, records), max_per_problem, seed)
        except ValueError as exc:
            raise VerbalRLError(str(exc)) from exc
    else:
        # rollouts cost (steps - 1) x k completions per candidate: select the candidates first
        kept = {(e.problem_id, tuple(e.steps)) for e in select_step_examples(
            checker_like(records), max_per_problem, seed)}
        records = [r for r in records if (r.problem_id, tuple(split_steps(r.text))) in kept]
        policy = load_model(model)
        gen = GenerationConfig(temperature=temperature, max_new_tokens=max_new_tokens, seed=seed)
        examples = rollout_step_examples(
            policy, task, records, rollouts, gen, mode=rollout_mode, progress=not json_out  # type: ignore[arg-type]
        )
    if near_misses:
        from ..training.step_labels import near_miss_examples

        taken = {r.problem_id for r in records}
        drawn = task.problems("train", near_misses + len(taken), seed=seed + 1)
        fresh = [p for p in drawn if p.id not in taken]
        try:
            examples = [*examples, *near_miss_examples(task, fresh[:near_misses], seed)]
        except ValueError as exc:
            raise VerbalRLError(str(exc)) from exc
    steps = sum(len(e.labels) for e in examples)
    positive = sum(x for e in examples for x in e.labels)
    err_console.print(
        f"training a PRM on {len(examples)} candidates, {steps} steps labelled by {labels} "
        f"(mean label {positive / max(steps, 1):.2f})", highlight=False,
    )  # fmt: skip
    with stdout_to_stderr():
        result = train(examples, config, out, resume=resume, progress=not json_out,
                       extra_metadata={"labels": labels, "pools": [str(p) for p in pool]})  # fmt: skip
    print_training(result, json_out)


def eval_prm(
    pool: PoolOpt,
    prm: Annotated[str, typer.Option(help="process verifier: prm:PATH, a PRM folder, or step-checker")],
    out: Annotated[Path | None, typer.Option(help="folder for eval.json and the PNG")] = None,
    verifier: Annotated[
        list[str] | None, typer.Option(help="outcome verifier to compare with (repeatable), e.g. genrm:PATH")
    ] = None,
    ns: Annotated[str, typer.Option(help="comma-separated N values")] = "1,2,4,8,16",
    bootstrap: Annotated[int, typer.Option(help="bootstrap resamples for the CIs")] = 1000,
    seed: int = 0,
    threads: ThreadsOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Step-level AUC of a process verifier and Best-of-N with each aggregation on a held-out pool."""
    from ..console import render_table
    from ..evaluation.evaluate import evaluate_pool
    from ..evaluation.pool import group_by_problem, pool_task
    from ..evaluation.report import write_report
    from ..evaluation.steps import PrecomputedProcess, score_pool_steps, step_auc
    from ..verifier import OutcomeFromProcess, available_verifiers, load_verifier
    from ..verifier.process import AGGREGATIONS

    records = read_pools([pool])
    task = pool_task(records)
    spec = prm if ":" in prm or prm in available_verifiers() else f"prm:{prm}"
    process = load_verifier(spec, task=task)
    if not callable(getattr(process, "score_steps", None)):
        raise VerbalRLError(f"{prm!r} is not a process verifier (no step scores)")
    start = time.perf_counter()
    with stdout_to_stderr():
        scores = score_pool_steps(process, records)  # type: ignore[arg-type]
    seconds = time.perf_counter() - start
    auc, n_steps = step_auc(task, records, scores)
    cached = PrecomputedProcess(scores, name=process.name)
    methods: dict[str, Any] = {f"prm@{how}": OutcomeFromProcess(cached, how) for how in AGGREGATIONS}
    for spec_text in verifier or []:
        methods[spec_text] = load_verifier(spec_text, task=task)
    report = evaluate_pool(
        group_by_problem(records), methods, ns=parse_ns(ns), bootstrap=bootstrap, seed=seed,
        progress=not json_out,
    )  # fmt: skip
    # the report's PRM rows read precomputed scores: the scoring time is this one
    summary = {"prm": prm, "step_auc": auc, "steps": n_steps, "candidates": len(records),
               "scoring_seconds": round(seconds, 2)}  # fmt: skip
    if out is not None:
        paths = write_report(report, out, plot=True)
        (Path(out) / "steps.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
        err_console.print("wrote " + ", ".join(str(p) for p in paths.values()), highlight=False)
    if json_out:
        typer.echo(json.dumps({**summary, "report": json.loads(report.model_dump_json())}, indent=2))
        return
    auc_text = "n/a (one class)" if auc is None else f"{auc:.3f}"
    console.print(f"step-level AUC of {process.name}: {auc_text} over {n_steps} steps "
                  f"(scored in {seconds:.1f} s)", highlight=False)  # fmt: skip
    console.print(render_table(report))


def register(app: typer.Typer) -> None:
    """Add `train-prm` and `eval-prm` to the main app."""
    app.command("train-prm")(train_prm)
    app.command("eval-prm")(eval_prm)
