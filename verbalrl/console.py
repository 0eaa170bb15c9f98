"""Showing work on a terminal: the live node view, progress bars, the summary and evaluation tables.

In scope: `render_event` (one node's update: drafts with answers and scores,
critiques, lessons, the result; `verbalrl solve` and the quickstart use it),
`progress_bar` (the one progress bar: runs, pool sampling, verifier scoring),
`summary_table` (the rows of `run.results.summarize`) and `render_table` (an
`EvalReport`: accuracy with its CI per N, compute at the largest N, AUC),
`trials_table` and `tune_view` (a tune's best trials, live under its bar).
This module and `cli/` are the only ones that use rich; it is imported
inside each function, so importing this module stays cheap. It sits at the
top so every layer (run, evaluation, cli) can show progress without
depending on another. Left out: computing what is shown.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from .evaluation.evaluate import EvalReport


def render_event(out: Console, node: str, update: dict[str, Any]) -> None:
    """One node's update in the live view: drafts with answers and scores, critiques, lessons, result."""
    from rich.markup import escape

    out.print(f"[bold cyan]▶ {node}[/]")
    if update.get("recalled") is not None and node == "recall":
        out.print(f"  recalled {update['recalled']} item(s) from memory")
    for d in update.get("drafts", []) or []:
        score = "unscored" if d.get("score") is None else f"score {d['score']:.3f}"
        answer = escape(str(d.get("answer"))) if d.get("ok") else f"[red]no answer[/] ({d.get('error')})"
        text = " ".join(str(d.get("text", "")).split())[:160]
        out.print(f"  \\[{d['id']}] answer={answer} {score}")
        if node != "verify" and text:
            out.print(f"     {escape(text)}", style="dim")
    for c in update.get("critiques", []) or []:
        out.print(f"  critique of {c['draft_id']} ({c['source']}): {escape(c['text'][:200])}")
    for lesson in update.get("lessons", []) or []:
        out.print(f"  lesson: {escape(lesson[:200])}")
    for e in update.get("errors", []) or []:
        out.print(f"  [red]{escape(e)}[/]")
    if update.get("result"):
        r = update["result"]
        out.print(
            f"[bold green]answer: {escape(str(r['answer']))}[/] (score {r['score']}, {r['status']}, "
            f"{r['rounds']} round(s), {r['llm_calls']} LLM calls, {r['generated_tokens']} tokens, "
            f"mode {r['mode']})",
            soft_wrap=True,
        )


@contextmanager
def progress_bar(
    label: str,
    total: int,
    completed: int = 0,
    *,
    console: Console | None = None,
    enabled: bool = True,
    transient: bool = False,
    stderr: bool = False,
) -> Iterator[Callable[..., None]]:
    """A bar of `completed` of `total` items; yields `advance(n=1)` (a no-op when not `enabled`).

    The one progress bar of the library (runs, pool sampling, verifier scoring). `console`
    None means a new one on stdout, or on stderr with `stderr=True` (where `--json` output
    must stay clean).
    """
    if not enabled:
        yield lambda n=1: None
        return
    from rich.console import Console as RichConsole
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console if console is not None else RichConsole(stderr=stderr),
        transient=transient,
    ) as progress:
        task_id = progress.add_task("items", total=total, completed=completed)
        yield lambda n=1: progress.advance(task_id, n)


def summary_table(rows: Sequence[dict[str, Any]], title: str = "results") -> Table:
    """A rich table of `summarize` rows: accuracy, mean LLM calls / generated tokens / seconds per problem."""
    from rich.table import Table

    table = Table(title=title)
    for col in ("method", "n", "acc", "calls", "tokens", "sec", "score", "no ans"):
        table.add_column(col, justify="left" if col == "method" else "right", no_wrap=True)

    def fmt(value: Any, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    for r in rows:
        table.add_row(
            r["method"],
            str(r["problems"]),
            fmt(r["accuracy"], ".1%"),
            fmt(r["mean_llm_calls"], ".1f"),
            fmt(r["mean_generated_tokens"], ".0f"),
            fmt(r["mean_seconds"], ".2f"),
            fmt(r["mean_score"], ".2f"),
            str(r["no_answer"]),
        )
    return table


def _percent(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def render_table(report: EvalReport) -> Table:
    """One row per method: accuracy % [95% CI] per N, then compute and AUC at the largest N."""
    from rich.table import Table
    from rich.text import Text

    top = max(report.ns)
    stats = report.pool
    skipped = f"; skipped N={report.skipped_ns} (pool too small)" if report.skipped_ns else ""
    table = Table(
        title=(
            f"Best-of-N accuracy (%) over {stats.problems} problems, "
            f"{stats.candidates} candidates; compute per problem at N={top}"
        ),
        caption=(
            f"per-sample accuracy {_percent(stats.per_sample_accuracy)}%; "
            f"{report.draws} draws; {report.bootstrap} bootstrap resamples{skipped}"
        ),
    )
    table.add_column("method", no_wrap=True)
    for n in report.ns:
        table.add_column(f"N={n}", justify="right")
    for col in ("LLM calls", "gen tokens", "gap closed", "AUC"):
        table.add_column(col, justify="right")
    auc = {v.name: v.auc for v in report.verifiers}
    for label in report.labels():
        cells = []
        for n in report.ns:
            r = report.result(label, n)
            cells.append(f"{_percent(r.accuracy)} [{_percent(r.ci_low)}, {_percent(r.ci_high)}]")
        last = report.result(label, top)
        verifier_auc = auc.get(last.verifier) if last.verifier else None
        table.add_row(
            Text(label),  # Text, not markup: "best_of_n[genrm]" would read as a style tag
            *cells,
            f"{last.llm_calls:.1f}",
            f"{last.generated_tokens:.0f}",
            _percent(last.gap_closed) + ("%" if last.gap_closed is not None else ""),
            "-" if verifier_auc is None else f"{verifier_auc:.3f}",
        )
    return table


def trials_table(
    results: Sequence[Any],
    front: Collection[int] = (),
    objective: str = "calls",
    top: int = 8,
    title: str = "",
) -> Table:
    """The best finished trials of a tune (`tuning.TrialResult`s): accuracy first, then compute.

    A row whose trial number is in `front` is marked `*` (on the Pareto front).
    """
    from rich.table import Table
    done = [r for r in results if r.complete and r.accuracy is not None]
    best = sorted(done, key=lambda r: (-r.accuracy, r.cost(objective), r.number))[:top]
    table = Table(title=title or f"best trials ({len(done)} complete)")
    for col in ("trial", "graph", "settings", "acc", "calls", "tokens", "front"):
        table.add_column(col, justify="left" if col in ("graph", "settings") else "right", no_wrap=True)
    for r in best:
        spec = r.spec
        config = spec.config if spec else None
        settings = "" if config is None else (
            f"drafts {config.n_drafts}, rounds {config.max_rounds}, thr {config.threshold:g}, "
            f"T {config.temperature:g}" + (f", agents {config.n_agents}" if spec.graph == "multi" else "")
            + (f", shots {len(spec.demonstrations)}" if spec.demonstrations else "")
            + (", own instructions" if spec.instructions else "")
        )  # fmt: skip
        table.add_row(
            str(r.number), spec.graph if spec else "-", settings, f"{r.accuracy:.1%}",
            f"{r.calls:.1f}", f"{r.tokens:.0f}", "*" if r.number in front else "",
        )  # fmt: skip
    return table


@contextmanager
def tune_view(
    total: int,
    completed: int = 0,
    *,
    objective: str = "calls",
    console: Console | None = None,
    enabled: bool = True,
) -> Iterator[Callable[[Sequence[Any], Collection[int]], None]]:
    """A progress bar of finished trials over a live table of the best ones (`verbalrl tune`).

    Yields `update(results, front)`, called after each trial with every `TrialResult` of the
    study and the numbers of the trials on the Pareto front.
    """
    if not enabled:
        yield lambda results, front: None
        return
    from rich.console import Console as RichConsole
    from rich.console import Group
    from rich.live import Live
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("[bold]tune[/] trials"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
    )
    bar = progress.add_task("trials", total=total, completed=completed)
    with Live(Group(progress), console=console or RichConsole(stderr=True), refresh_per_second=4) as live:

        def update(results: Sequence[Any], front: Collection[int]) -> None:
            finished = sum(r.state in ("complete", "pruned") for r in results)
            progress.update(bar, completed=min(total, finished))
            live.update(Group(progress, trials_table(results, front, objective)))

        yield update
