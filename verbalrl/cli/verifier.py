"""`verbalrl sample`, `eval-verifier` and `train-verifier`: pools, comparing verifiers, training one.

In scope: `register(app)`, which adds the three commands to the main app.
`sample` draws N solutions per problem from any generator and writes a
labelled JSONL pool; `eval-verifier` loads the requested verifiers through
`verbalrl.verifier.load_verifier` (trained GenRM / GenRM-CoT / ORM folders,
any registered kind, a prompted judge, the oracle checker), runs
`evaluate_pool`, prints the table and writes `eval.json` plus the
accuracy-vs-N PNG; `train-verifier` trains a GenRM (direct or CoT) or the
ORM on a pool with `verbalrl.training.train_verifier`, its flags' defaults
read from `SFTConfig`. Left out: training generators (`generator.py`).

Heavy imports (torch, the verifier classes) happen inside the commands so
`verbalrl --help` stays instant. Errors a user can cause are raised as
`VerbalRLError`/`ValueError`; `verbalrl.cli.app` prints them as one line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import VerbalRLError
from .options import (
    SFT_DEFAULTS,
    BaseModelOpt,
    BaseUrlOpt,
    BatchSizeOpt,
    DataOpt,
    DtypeOpt,
    EpochsOpt,
    JsonOpt,
    LevelOpt,
    LoraROpt,
    LrOpt,
    MethodOpt,
    ModelOpt,
    PoolOpt,
    ProblemsOpt,
    ResumeOpt,
    SeedOpt,
    SplitOpt,
    TaskOpt,
    TaskOptionOpt,
    ThreadsOpt,
    console,
    err_console,
    hidden_aliases,
    load_model,
    print_training,
    read_pools,
    sft_config,
    stdout_to_stderr,
    task_options,
)

if TYPE_CHECKING:
    from ..evaluation.pool import CandidateRecord
    from ..verifier.base import Verifier

PathsOpt = list[Path] | None
OutOpt = Annotated[Path, typer.Option("--out", help="JSONL file to write the pool to")]


def parse_ns(text: str) -> list[int]:
    """ "1,2,4,8" -> [1, 2, 4, 8]; a clear error for anything else."""
    try:
        ns = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise VerbalRLError(f"--ns must be comma-separated integers like 1,2,4,8,16, got {text!r}") from exc
    if not ns or min(ns) < 1:
        raise VerbalRLError(f"--ns must list integers >= 1, got {text!r}")
    return ns


def sample(
    task: TaskOpt,
    out: OutOpt,
    split: SplitOpt = "test",
    problems: ProblemsOpt = 80,
    samples: Annotated[int, typer.Option(help="solutions sampled per problem")] = 16,
    model: ModelOpt = "smollm2-135m-instruct",
    temperature: float = 0.8,
    top_p: float = 1.0,
    max_new_tokens: int = 128,
    seed: SeedOpt = 0,
    level: LevelOpt = None,
    data: DataOpt = None,
    task_option: TaskOptionOpt = None,
    problems_per_call: Annotated[int, typer.Option(help="problems per generate call")] = 8,
    shots: Annotated[
        int, typer.Option(help="few-shot demonstrations shown before each question (0: zero-shot)")
    ] = 0,
    shots_from: Annotated[
        str,
        typer.Option(
            help="'references' (train-split reference solutions) or a pool JSONL whose correct "
            "solutions are the demonstrations (the model's own verified answers, as memory offers)"
        ),
    ] = "references",
    base_url: BaseUrlOpt = None,
    dtype: DtypeOpt = "auto",
    threads: ThreadsOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Sample solutions per problem, label each with the task's checker, write a JSONL pool."""
    from ..evaluation.pool import pool_stats, read_pool, sample_pool, write_pool
    from ..evaluation.shots import pool_shots, reference_shots
    from ..llm.base import GenerationConfig
    from ..tasks import get_task

    options = task_options(level, data, task_option)
    the_task = get_task(task, **options)
    config = GenerationConfig(temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens, seed=seed)
    chosen = the_task.problems(split=split, n=problems, seed=seed)  # type: ignore[arg-type]
    if shots < 0:
        raise VerbalRLError(f"--shots must be >= 0, got {shots}")
    demonstrations = []
    if shots:
        if shots_from == "references":
            demonstrations = reference_shots(the_task, n=max(32, 4 * shots), seed=seed + 1)
        else:
            demonstrations = pool_shots(r for r in read_pool(shots_from) if r.task == the_task.name)
    llm = load_model(model, base_url, dtype)
    records = sample_pool(
        llm,
        the_task,
        chosen,
        samples,
        config,
        progress=not json_out,
        problems_per_call=problems_per_call,
        task_options=options,
        demonstrations=demonstrations,
        shots=shots,
    )
    write_pool(out, records)
    stats = pool_stats(records)
    if json_out:
        typer.echo(json.dumps({"pool": str(out), **stats.model_dump()}, indent=2))
        return
    console.print(
        f"wrote {stats.candidates} candidates for {stats.problems} problems to {out}: "
        f"per-sample accuracy {100 * stats.per_sample_accuracy:.1f}%, "
        f"pass@{samples} {100 * stats.pass_at_all:.1f}%, "
        f"no answer {100 * stats.no_answer_rate:.1f}%, "
        f"truncated {100 * stats.truncated_rate:.1f}%, "
        f"{stats.mean_completion_tokens:.0f} tokens per candidate",
        highlight=False,
    )


def verifier_specs(
    genrm: list[Path], genrm_cot: list[Path], orm: list[Path], cot_k: int
) -> list[tuple[str, str, dict[str, Any]]]:
    """(name in the report, `load_verifier` spec, options) of each trained checkpoint.

    A kind with one checkpoint is named by the kind ('genrm'); several by
    kind and folder ('genrm:a', 'genrm:b').
    """
    specs = []
    for name, kind, paths, options in (
        ("genrm", "genrm", genrm, {}),
        ("genrm_cot", "genrm-cot", genrm_cot, {"k": cot_k}),
        ("orm", "orm", orm, {}),
    ):
        for p in paths:
            label = name if len(paths) == 1 else f"{name}:{p.name or p}"
            specs.append((label, f"{kind}:{p}", dict(options)))
    return specs


def _load_verifiers(
    records: list[CandidateRecord], specs: list[tuple[str, str, dict[str, Any]]], checker: bool
) -> dict[str, Verifier]:
    from ..evaluation.pool import PoolError, pool_task
    from ..verifier import CheckerVerifier, load_verifier

    try:
        task = pool_task(records)
    except PoolError:
        task = None
    methods: dict[str, Verifier] = {
        name: load_verifier(spec, task=task, **options) for name, spec, options in specs
    }
    if checker:
        methods["checker"] = CheckerVerifier(task if task is not None else pool_task(records))
    return methods


def eval_verifier(
    pool: PoolOpt,
    out: Annotated[Path, typer.Option("--out", help="folder for eval.json and the PNG")],
    genrm: Annotated[PathsOpt, typer.Option(help="GenRM checkpoint (repeatable)")] = None,
    genrm_cot: Annotated[PathsOpt, typer.Option(help="GenRM-CoT checkpoint (repeatable)")] = None,
    cot_k: Annotated[int, typer.Option(help="rationales per candidate for GenRM-CoT")] = 4,
    orm: Annotated[PathsOpt, typer.Option(help="ORM checkpoint (repeatable)")] = None,
    verifier: Annotated[
        list[str] | None,
        typer.Option(help="any verifier spec: a trained folder, genrm-sum30, KIND:ARG (repeatable)"),
    ] = None,
    judge: Annotated[str | None, typer.Option(help="model for LLM-as-a-Judge")] = None,
    judge_k: Annotated[int, typer.Option(help="judgments per candidate")] = 4,
    judge_temperature: float = 0.7,
    judge_max_new_tokens: int = 128,
    checker: Annotated[bool, typer.Option(help="add the task's exact checker (oracle)")] = False,
    ns: Annotated[str, typer.Option(help="comma-separated N values")] = "1,2,4,8,16",
    bootstrap: Annotated[int, typer.Option(help="bootstrap resamples for the CIs")] = 1000,
    draws: Annotated[int, typer.Option(help="shuffles per problem and N")] = 8,
    seed: int = 0,
    plot: Annotated[bool, typer.Option(help="write the accuracy-vs-N PNG")] = True,
    base_url: BaseUrlOpt = None,
    dtype: DtypeOpt = "auto",
    threads: ThreadsOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Best-of-N accuracy (with CIs, AUC and compute) of every method on one candidate pool."""
    from ..console import render_table
    from ..evaluation.evaluate import evaluate_pool
    from ..evaluation.pool import group_by_problem, read_pool
    from ..evaluation.report import write_report

    wanted = parse_ns(ns)
    records = read_pool(pool)
    if not records:
        raise VerbalRLError(f"pool {str(pool)!r} holds no candidates")
    specs = verifier_specs(list(genrm or []), list(genrm_cot or []), list(orm or []), cot_k)
    specs += [(spec, spec, {}) for spec in verifier or []]
    methods = _load_verifiers(records, specs, checker)
    if judge:
        from ..verifier.judge import LLMJudgeVerifier

        methods["llm_judge"] = LLMJudgeVerifier(
            load_model(judge, base_url, dtype),
            k=judge_k,
            temperature=judge_temperature,
            max_new_tokens=judge_max_new_tokens,
            seed=seed,
        )
    report = evaluate_pool(
        group_by_problem(records),
        methods,
        ns=wanted,
        bootstrap=bootstrap,
        seed=seed,
        draws=draws,
        progress=not json_out,
    )
    paths = write_report(report, out, plot=plot)
    if json_out:
        typer.echo(paths["json"].read_text(encoding="utf-8"))
        return
    console.print(render_table(report))
    err_console.print("wrote " + ", ".join(str(p) for p in paths.values()), highlight=False)


def train_verifier(
    pool: Annotated[
        list[Path],
        typer.Option(
            "--pool", help="labelled pool (repeatable: one verifier for several tasks or prompt forms)"
        ),
    ],
    out: Annotated[Path, typer.Option(help="folder for the adapter and verifier.json")],
    kind: Annotated[str, typer.Option(help="genrm | genrm-cot | orm")] = "genrm",
    base_model: BaseModelOpt = SFT_DEFAULTS.base_model,
    method: MethodOpt = SFT_DEFAULTS.method,
    lam: Annotated[
        float, typer.Option(help="weight of the correct-solution loss (GenRM; the ORM has none)")
    ] = SFT_DEFAULTS.lam,
    epochs: EpochsOpt = SFT_DEFAULTS.epochs,
    lr: LrOpt = SFT_DEFAULTS.learning_rate,
    batch_size: BatchSizeOpt = SFT_DEFAULTS.batch_size,
    lora_r: LoraROpt = SFT_DEFAULTS.lora_r,
    max_length: Annotated[int, typer.Option(help="longer examples are dropped")] = SFT_DEFAULTS.max_length,
    max_per_class: Annotated[int, typer.Option(help="correct/incorrect kept per problem")] = 16,
    negative_ratio: Annotated[
        float | None, typer.Option(help="cap wrong solutions at this multiple of right ones")
    ] = None,
    teacher: Annotated[
        str | None, typer.Option(help="teacher model for gsm8k CoT data (--kind genrm-cot)")
    ] = None,
    resume: ResumeOpt = False,
    threads: ThreadsOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Train a GenRM (direct or CoT) or the ORM baseline on a labelled pool."""
    from ..training import ORMConfig, SFTConfig
    from ..training import train_verifier as train

    if kind not in ("genrm", "genrm-cot", "orm"):
        raise VerbalRLError(f"--kind must be genrm, genrm-cot or orm, not {kind!r}")
    if kind == "orm" and lam != SFT_DEFAULTS.lam:
        raise VerbalRLError("--lam does not apply to --kind orm (the ORM has no correct-solution loss)")
    config = sft_config(
        ORMConfig if kind == "orm" else SFTConfig,
        base_model=base_model,
        method=method,
        lam=None if kind == "orm" else lam,
        epochs=epochs,
        learning_rate=lr,
        batch_size=batch_size,
        lora_r=lora_r,
        max_length=max_length,
    )
    records = read_pools(pool)
    teacher_llm = load_model(teacher) if teacher and kind == "genrm-cot" else None
    err_console.print(f"training {kind} on {len(records)} candidates (λ={config.lam:.3g})")
    with stdout_to_stderr():
        result = train(
            records,
            out,
            kind,  # type: ignore[arg-type]
            config,
            max_per_class=max_per_class,
            negative_ratio=negative_ratio,
            teacher=teacher_llm,
            resume=resume,
        )
    print_training(result, json_out)


def register(app: typer.Typer) -> None:
    """Add `sample`, `eval-verifier` and `train-verifier` to the main app."""
    app.command("sample", cls=hidden_aliases("--path"))(sample)
    app.command("eval-verifier")(eval_verifier)
    app.command("train-verifier")(train_verifier)
