"""Showing a run on a terminal: the live node view, the progress bar, the summary table.

In scope: `render_event` (one node's update: drafts with answers and scores,
critiques, lessons, the result; `verbalrl solve` and the quickstart use it),
`progress_bar` (problems done of a run) and `summary_table` (the rows of
`results.summarize`). Rich is imported inside each function, so importing
this module stays cheap. Left out: computing what is shown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table


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
    label: str, total: int, completed: int, *, console: Console | None = None, enabled: bool = True
) -> Iterator[Callable[[], None]]:
    """A bar of `completed` of `total` problems; yields `advance()` (a no-op when not `enabled`)."""
    if not enabled:
        yield lambda: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task_id = progress.add_task("problems", total=total, completed=completed)
        yield lambda: progress.advance(task_id)


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
