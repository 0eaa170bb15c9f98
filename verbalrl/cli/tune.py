"""`verbalrl tune`: search graphs and their settings on a dev split, write the best spec for a budget.

In scope: `register(app)`; turning the options into `TuneSettings` (the base
agent: `--agent BASE` or the task/model/verifier options; the search space:
comma-separated candidates per setting), running `verbalrl.tuning.tune` with a
progress bar over a live table of the best trials (`console.tune_view`),
then printing the Pareto front, writing the chosen spec (`--out`), the front
beside it (`<out>.front.json`) and the plot (`--plot`). The study lives in
`--storage` (default `sqlite:///<folder of --out>/study.db`); the same
command with `--resume` continues it. Heavy imports happen inside the command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import VerbalRLError
from .options import (
    BaseUrlOpt,
    DataOpt,
    DtypeOpt,
    JsonOpt,
    LevelOpt,
    ModelOpt,
    SeedOpt,
    TaskOpt,
    TaskOptionOpt,
    ThreadsOpt,
    console,
    err_console,
    given_options,
    load_model,
    task_options,
)

BASE_FIXES = (
    "task", "level", "data", "task_option", "model", "base_url", "dtype", "verifier", "max_new_tokens",
)  # fmt: skip


def parse_list(text: str, kind: type, option: str) -> tuple[Any, ...]:
    """`"1,2,4"` as a tuple of `kind`; a bad item is a clear error naming the option."""
    items = [part.strip() for part in text.split(",") if part.strip()]
    try:
        values = tuple(kind(item) for item in items)
    except ValueError:
        raise VerbalRLError(f"{option} takes comma-separated {kind.__name__} values, got {text!r}") from None
    if not values:
        raise VerbalRLError(f"{option}: give at least one value")
    return values


def tune_cmd(
    ctx: typer.Context,
    task: TaskOpt = "arithmetic",
    level: LevelOpt = None,
    data: DataOpt = None,
    task_option: TaskOptionOpt = None,
    agent: Annotated[
        Path | None, typer.Option("--agent", help="base agent spec the search varies (instead of --task ...)")
    ] = None,
    model: ModelOpt = "smollm2-135m-instruct",
    base_url: BaseUrlOpt = None,
    dtype: DtypeOpt = "auto",
    verifier: Annotated[str | None, typer.Option(help="the agents' verifier (default: packaged)")] = None,
    dev_n: Annotated[int, typer.Option("--dev-n", help="dev problems (from the train split)")] = 20,
    trials: Annotated[int, typer.Option(help="finished trials the study should hold")] = 20,
    budget_calls: Annotated[
        float | None, typer.Option("--budget-calls", help="LLM calls per problem the chosen spec may use")
    ] = None,
    out: Annotated[Path, typer.Option(help="the chosen agent spec (.yaml or .json)")] = Path("agent.yaml"),
    storage: Annotated[
        str | None, typer.Option(help="Optuna storage URL (default sqlite:///<folder of --out>/study.db)")
    ] = None,
    study: Annotated[str | None, typer.Option(help="study name (default: from the settings)")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="continue the study of these settings")] = False,
    plot: Annotated[Path | None, typer.Option(help="write the Pareto front as a PNG")] = None,
    scoring: Annotated[str, typer.Option(help="checker (dev answers) | verifier (no answers)")] = "checker",
    objective: Annotated[str, typer.Option(help="compute to minimise: calls | tokens per problem")] = "calls",
    graphs: Annotated[str, typer.Option(help="candidate graphs")] = "single,multi,reflective",
    n_drafts: Annotated[str, typer.Option("--n-drafts", help="candidate drafts per solve step")] = "1,2,4,8",
    max_rounds: Annotated[str, typer.Option("--max-rounds", help="candidate rounds")] = "1,2,3",
    thresholds: Annotated[str, typer.Option(help="candidate acceptance thresholds")] = "0.3,0.5,0.7,0.9",
    temperature: Annotated[str, typer.Option(help="LOW,HIGH sampling temperature range")] = "0.1,1.2",
    agents: Annotated[str, typer.Option("--agents", help="multi graph: candidate agent counts")] = "2,3",
    instruction: Annotated[
        list[str] | None,
        typer.Option("--instruction", help="a candidate system message besides the task's own (repeatable)"),
    ] = None,
    max_new_tokens: Annotated[int | None, typer.Option(help="tokens per solution")] = None,
    pool_n: Annotated[
        int, typer.Option("--pool-n", help="train problems (not dev) to bootstrap demonstrations from")
    ] = 0,
    shots: Annotated[str, typer.Option(help="candidate numbers of demonstrations shown as turns")] = "0",
    variants: Annotated[bool, typer.Option("--variants", help="add hand-written instructions")] = False,
    propose: Annotated[int, typer.Option(help="instructions the model proposes from failures (OPRO)")] = 0,
    prune_fraction: Annotated[float, typer.Option(help="dev share run before pruning (0: off)")] = 0.34,
    prune_margin: Annotated[float, typer.Option(help="accuracy lead that prunes a costlier trial")] = 0.25,
    seed: SeedOpt = 0,
    progress: Annotated[bool, typer.Option(help="show the progress bar and live table")] = True,
    threads: ThreadsOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Search graphs and settings on a dev split (Optuna TPE: accuracy up, compute down); write the
    most accurate spec within --budget-calls. The test split is never evaluated.

    Prompt-level candidates join the search with --pool-n N --shots 0,2,4 (demonstrations
    bootstrapped from the model's verified train solutions), --variants and --propose K
    (instructions the model rewrites from its failures)."""
    from ..console import trials_table, tune_view
    from ..run.agent import AgentSpec, read_agent_spec
    from ..tuning import (
        PromptSearch,
        SearchSpace,
        TuneSettings,
        default_storage,
        pareto_front,
        plot_pareto,
        tune,
    )

    if agent is not None:
        clash = given_options(ctx, BASE_FIXES)
        if clash:
            raise VerbalRLError(f"--agent fixes {', '.join(clash)}: edit the base spec instead")
        base = read_agent_spec(agent)
    else:
        config = {"max_new_tokens": max_new_tokens} if max_new_tokens else {}
        base = AgentSpec(
            task=task, task_options=task_options(level, data, task_option), model=model, base_url=base_url,
            dtype=dtype, verifier=verifier, config=config,  # type: ignore[arg-type]
        )  # fmt: skip
    if base.verifier is None:
        base = base.resolved()
        err_console.print(f"verifier: {base.verifier} (packaged, trained on this task; --verifier to choose)")
    low_high = parse_list(temperature, float, "--temperature")
    space = SearchSpace(
        graphs=parse_list(graphs, str, "--graphs"), n_drafts=parse_list(n_drafts, int, "--n-drafts"),
        max_rounds=parse_list(max_rounds, int, "--max-rounds"),
        thresholds=parse_list(thresholds, float, "--thresholds"),
        temperature=(low_high[0], low_high[-1]), n_agents=parse_list(agents, int, "--agents"),
        instructions=(None, *(instruction or ())),
    )  # fmt: skip
    settings = TuneSettings(
        base=base, space=space, dev_n=dev_n, seed=seed, scoring=scoring, objective=objective,  # type: ignore[arg-type]
        prune_fraction=prune_fraction, prune_margin=prune_margin,
        prompts=PromptSearch(pool_n=pool_n, shots=parse_list(shots, int, "--shots"), variants=variants,
                             propose=propose),
    )  # fmt: skip
    if trials < 1:
        raise VerbalRLError("--trials must be at least 1")
    url = storage or default_storage(out.resolve().parent)
    llm = load_model(base.model, base.base_url, base.dtype)
    err_console.print(f"tuning {base.task} on {dev_n} dev problems (train split); scoring: {scoring}; "
                      f"study in {url}")  # fmt: skip
    with tune_view(trials, objective=objective, console=err_console, enabled=progress) as update:

        def on_trial(results: list[Any]) -> None:
            update(results, {r.number for r in pareto_front(results, settings.objective)})

        result = tune(settings, trials=trials, budget_calls=budget_calls, storage=url, study_name=study,
                      resume=resume, llm=llm, on_trial=on_trial)  # fmt: skip
    spec_path, front_path = result.write(out)
    plotted = plot_pareto(result, plot) if plot is not None else None
    chosen = result.chosen
    assert chosen is not None  # write() raised otherwise
    summary = {
        "study": result.study_name, "storage": result.storage, "scoring": result.scoring_note,
        "objective": objective, "trials": len(result.finished()), "ran": result.ran,
        "pruned": sum(r.state == "pruned" for r in result.results), "seconds": round(result.seconds, 1),
        "budget_calls": budget_calls,
        "chosen": {"trial": chosen.number, "accuracy": chosen.accuracy, "calls": chosen.calls,
                   "tokens": chosen.tokens, "graph": chosen.spec.graph if chosen.spec else None},
        "front": [{"trial": r.number, "accuracy": r.accuracy, "calls": r.calls, "tokens": r.tokens}
                  for r in result.front],
        "out": str(spec_path), "front_file": str(front_path), "plot": str(plotted) if plotted else None,
    }  # fmt: skip
    if json_out:
        print(json.dumps(summary, indent=2))
        return
    front = {r.number for r in result.front}
    title = "Pareto front (*) and best trials"
    console.print(trials_table(result.results, front, objective, top=12, title=title))
    console.print(f"scoring: {result.scoring_note}")
    console.print(
        f"chosen: trial {chosen.number} ({summary['chosen']['graph']}), dev accuracy {chosen.accuracy:.1%}, "
        f"{chosen.calls:.1f} LLM calls per problem"
        + (f" (budget {budget_calls:g})" if budget_calls is not None else "")
    )
    console.print(f"agent spec: {spec_path}\nfront: {front_path}" + (f"\nplot: {plotted}" if plotted else ""))
    console.print(f"run it: verbalrl run --agent {spec_path}")


def register(app: typer.Typer) -> None:
    """Add `tune` to the main app."""
    app.command("tune")(tune_cmd)
