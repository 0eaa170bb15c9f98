"""`verbalrl tasks`: the problem families, and sample problems of one.

In scope: `tasks` / `tasks list` (names and descriptions) and `tasks sample`
(problems with their gold answers, reference solutions and, on request,
the solver prompt). Left out: the tasks themselves (`verbalrl.tasks`) and
sampling solutions from a model (`verbalrl sample`).
"""

from __future__ import annotations

from typing import Annotated

import typer

from .options import (
    DataOpt,
    JsonOpt,
    LevelOpt,
    ProblemsOpt,
    SeedOpt,
    SplitOpt,
    TaskOptionOpt,
    console,
    hidden_aliases,
    print_json,
    task_options,
)

tasks_app = typer.Typer(help="List problem families and sample their problems.", no_args_is_help=False)


@tasks_app.callback(invoke_without_command=True)
def tasks_main(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Without a sub-command: list the problem families."""
    if ctx.invoked_subcommand is None:
        tasks_list(json_out)


@tasks_app.command("list")
def tasks_list(json_out: JsonOpt = False) -> None:
    """List the problem families."""
    from rich.table import Table

    from ..tasks import available_tasks

    names = available_tasks()
    if json_out:
        print_json(names)
        return
    table = Table(title="tasks")
    table.add_column("name")
    table.add_column("description")
    for name, description in names.items():
        table.add_row(name, description)
    console.print(table)


@tasks_app.command("sample", cls=hidden_aliases("--n", "--path"))
def tasks_sample(
    name: Annotated[str, typer.Argument(help="task name (see `verbalrl tasks list`)")],
    split: SplitOpt = "test",
    problems: ProblemsOpt = 3,
    seed: SeedOpt = 0,
    data: DataOpt = None,
    task_option: TaskOptionOpt = None,
    level: LevelOpt = None,
    show_prompt: Annotated[bool, typer.Option(help="also print the solver prompt")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Sample problems of a task with their gold answers and reference solutions."""
    from ..tasks import get_task

    task = get_task(name, **task_options(level, data, task_option))
    chosen = task.problems(split=split, n=problems, seed=seed)  # type: ignore[arg-type]
    rows = []
    for p in chosen:
        row = p.model_dump()
        row["reference_solution"] = task.reference_solution(p)
        if show_prompt:
            row["prompt"] = task.prompt(p)
        rows.append(row)
    if json_out:
        print_json(rows)
        return
    for row in rows:
        console.rule(f"[bold]{row['id']}")
        console.print(row["question"], markup=False, highlight=False)
        console.print(f"[green]answer:[/] {row['answer']}")
        if show_prompt:
            console.print(row["prompt"], markup=False)


def register(app: typer.Typer) -> None:
    """Mount `tasks` on the main app."""
    app.add_typer(tasks_app, name="tasks")
