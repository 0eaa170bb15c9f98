"""`verbalrl sample` and `verbalrl eval-verifier`: build a candidate pool, compare verifiers on it.

In scope: `register(app)`, which adds both commands to the main typer app.
`sample` draws N solutions per problem from any generator and writes a
labelled JSONL pool; `eval-verifier` loads the requested verifiers (trained
GenRM / GenRM-CoT / ORM checkpoints, a prompted judge, the oracle checker),
runs `evaluate_pool` on the pool, prints the table and writes `eval.json`
plus the accuracy-vs-N PNG. Left out: training verifiers (`cli_train.py`).

Heavy imports (torch, the verifier classes) happen inside the commands so
`verbalrl --help` stays instant. Errors a user can cause are raised as
`VerbalRLError`/`ValueError`; `verbalrl.cli.main` prints them as one line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from ..errors import VerbalRLError

if TYPE_CHECKING:
    from ..evaluation.pool import CandidateRecord
    from ..llm.base import LLM
    from ..verifier.base import Verifier

console = Console()
err_console = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="print machine-readable JSON")]
BaseUrlOpt = Annotated[str | None, typer.Option(help="server URL for openai:NAME models")]
ModelOpt = Annotated[
    str, typer.Option("--model", "-m", help="generator: alias, folder, .gguf, openai:NAME")
]
PathsOpt = list[Path] | None
DtypeOpt = Annotated[str, typer.Option(help="auto | float32 | bfloat16")]


def load_model(name: str, base_url: str | None, dtype: str) -> LLM:
    """Load a generator or judge model the way every `--model` option does (tests replace this)."""
    from .app import load_model_for_cli

    return load_model_for_cli(name, base_url, dtype)  # type: ignore[no-any-return]


def parse_ns(text: str) -> list[int]:
    """ "1,2,4,8" -> [1, 2, 4, 8]; a clear error for anything else."""
    try:
        ns = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise VerbalRLError(
            f"--ns must be comma-separated integers like 1,2,4,8,16, got {text!r}"
        ) from exc
    if not ns or min(ns) < 1:
        raise VerbalRLError(f"--ns must list integers >= 1, got {text!r}")
    return ns


def _task_options(level: str | None, path: str | None) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if path:
        options["path"] = path
    if level:
        options["level"] = int(level) if level.isdigit() else level
    return options


def sample(
    task: Annotated[str, typer.Option("--task", help="task name (see `verbalrl tasks list`)")],
    out: Annotated[Path, typer.Option("--out", help="JSONL file to write the pool to")],
    split: Annotated[str, typer.Option(help="train | test")] = "test",
    problems: Annotated[int, typer.Option(help="how many problems")] = 80,
    samples: Annotated[int, typer.Option(help="solutions sampled per problem")] = 16,
    model: ModelOpt = "smollm2-135m-instruct",
    temperature: float = 0.8,
    top_p: float = 1.0,
    max_new_tokens: int = 128,
    seed: int = 0,
    level: Annotated[str | None, typer.Option(help="difficulty level for arithmetic")] = None,
    path: Annotated[str | None, typer.Option(help="data file for gsm8k / jsonl tasks")] = None,
    problems_per_call: Annotated[int, typer.Option(help="problems per generate call")] = 8,
    base_url: BaseUrlOpt = None,
    dtype: DtypeOpt = "auto",
    json_out: JsonOpt = False,
) -> None:
    """Sample solutions per problem, label each with the task's checker, write a JSONL pool."""
    from ..evaluation.pool import pool_stats, sample_pool, write_pool
    from ..llm.base import GenerationConfig
    from ..tasks import get_task

    options = _task_options(level, path)
    the_task = get_task(task, **options)
    config = GenerationConfig(
        temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens, seed=seed
    )
    chosen = the_task.problems(split=split, n=problems, seed=seed)  # type: ignore[arg-type]
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


def _names(kind: str, paths: list[Path]) -> list[tuple[str, Path]]:
    """'genrm' for one checkpoint; 'genrm:<folder>' when several are compared."""
    if len(paths) == 1:
        return [(kind, paths[0])]
    return [(f"{kind}:{p.name or p}", p) for p in paths]


def _import_verifier(module: str, cls: str) -> Any:
    import importlib

    try:
        return getattr(importlib.import_module(f"verbalrl.verifier.{module}"), cls)
    except (ImportError, AttributeError) as exc:
        raise VerbalRLError(f"verbalrl.verifier.{module}.{cls} is not available: {exc}") from exc


def _checker_for(records: list[CandidateRecord]) -> Verifier:
    from ..tasks import get_task
    from ..verifier.base import CheckerVerifier

    kinds = {(r.task, json.dumps(r.task_options, sort_keys=True)) for r in records}
    if len(kinds) != 1:
        raise VerbalRLError("--checker needs a pool of one task with one set of task options")
    name, options = kinds.pop()
    return CheckerVerifier(get_task(name, **json.loads(options)))


def eval_verifier(
    pool: Annotated[Path, typer.Option("--pool", help="JSONL pool from `verbalrl sample`")],
    out: Annotated[Path, typer.Option("--out", help="folder for eval.json and the PNG")],
    genrm: Annotated[PathsOpt, typer.Option(help="GenRM checkpoint (repeatable)")] = None,
    genrm_cot: Annotated[PathsOpt, typer.Option(help="GenRM-CoT checkpoint (repeatable)")] = None,
    cot_k: Annotated[int, typer.Option(help="rationales per candidate for GenRM-CoT")] = 4,
    orm: Annotated[PathsOpt, typer.Option(help="ORM checkpoint (repeatable)")] = None,
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
    json_out: JsonOpt = False,
) -> None:
    """Best-of-N accuracy (with CIs, AUC and compute) of every method on one candidate pool."""
    from ..evaluation.evaluate import evaluate_pool
    from ..evaluation.pool import group_by_problem, read_pool
    from ..evaluation.report import render_table, write_report

    wanted = parse_ns(ns)
    records = read_pool(pool)
    if not records:
        raise VerbalRLError(f"pool {str(pool)!r} holds no candidates")
    methods: dict[str, Verifier] = {}
    for name, p in _names("genrm", list(genrm or [])):
        methods[name] = _import_verifier("genrm", "GenRMVerifier").load(p)
    for name, p in _names("genrm_cot", list(genrm_cot or [])):
        methods[name] = _import_verifier("genrm_cot", "GenRMCoTVerifier").load(p, k=cot_k)
    for name, p in _names("orm", list(orm or [])):
        methods[name] = _import_verifier("orm", "ORMVerifier").load(p)
    if judge:
        from ..verifier.judge import LLMJudgeVerifier

        methods["llm_judge"] = LLMJudgeVerifier(
            load_model(judge, base_url, dtype),
            k=judge_k,
            temperature=judge_temperature,
            max_new_tokens=judge_max_new_tokens,
            seed=seed,
        )
    if checker:
        methods["checker"] = _checker_for(records)
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


def register(app: typer.Typer) -> None:
    """Add `sample` and `eval-verifier` to `app` (the main `verbalrl` command)."""
    app.command("sample")(sample)
    app.command("eval-verifier")(eval_verifier)
