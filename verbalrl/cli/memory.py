"""`verbalrl memory ...`: inspect, search, back up and prune memory from the shell.

In scope: `stats`, `search QUERY`, `show ID`, `export FILE`, `import FILE` and
`prune`, each on the default folder, `--path FOLDER` or `--host/--port` (a
`chroma run` server), with `--json` for machine-readable output. Errors a
user can cause (a missing file or record, a folder in use) are raised as
`VerbalRLError`: `verbalrl.cli.app` prints them as one line and exits 2, as
for every command. chromadb is imported inside the commands. Left out:
writing experiences by hand (that is what graphs do). `--path` here is a
memory folder, not a data file (`--data` elsewhere).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ..errors import VerbalRLError
from .options import JsonOpt, console, print_json

if TYPE_CHECKING:
    from ..memory import ChromaMemory

memory_app = typer.Typer(
    help="Inspect, search, back up and prune the vector memory (experiences, lessons, concepts).",
    no_args_is_help=True,
)

PathOpt = Annotated[Path | None, typer.Option("--path", help="memory folder (default $VERBALRL_HOME/memory)")]
HostOpt = Annotated[str | None, typer.Option("--host", help="a `chroma run` server instead of a folder")]
PortOpt = Annotated[int, typer.Option("--port", help="the server's port")]
EmbedderOpt = Annotated[
    str, typer.Option("--embedder", help="'default', a sentence-transformers path, or 'hash:<dim>'")
]
TaskOpt = Annotated[str | None, typer.Option("--task", help="only this task")]


def _open(path: Path | None, host: str | None, port: int, embedder: str) -> ChromaMemory:
    from ..memory import ChromaMemory, MemoryConfig

    return ChromaMemory(config=MemoryConfig(path=path, host=host, port=port, embedder=embedder))


@memory_app.command()
def stats(
    path: PathOpt = None,
    host: HostOpt = None,
    port: PortOpt = 8000,
    embedder: EmbedderOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """How many experiences, lessons and concepts are stored, per task and status."""
    with _open(path, host, port, embedder) as memory:
        info = memory.stats()
    if as_json:
        print_json(info)
        return
    console.print(f"memory at {info['location']} (embedder {info['embedder']})", highlight=False)
    console.print(
        f"experiences {info['experiences']}  reflections {info['reflections']}  concepts {info['concepts']}",
        highlight=False,
    )
    table = Table("task", "exemplar", "failure", "unverified")
    for task, row in sorted(info["by_task"].items()):
        table.add_row(task, str(row["exemplar"]), str(row["failure"]), str(row["unverified"]))
    console.print(table)


@memory_app.command()
def search(
    query: str,
    task: TaskOpt = None,
    k: Annotated[int, typer.Option("-k", help="results per section")] = 3,
    exclude_problem: Annotated[bool, typer.Option(help="leave out this exact problem")] = False,
    path: PathOpt = None,
    host: HostOpt = None,
    port: PortOpt = 8000,
    embedder: EmbedderOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Recall what memory holds for QUERY, as the prompt section an agent would see."""
    with _open(path, host, port, embedder) as memory:
        context = memory.recall(query, task=task, k=k, exclude_problem=exclude_problem)
    if as_json:
        print_json(context.model_dump(mode="json"))
    elif context.empty:
        console.print("nothing relevant in memory")
    else:
        typer.echo(context.render())


@memory_app.command()
def show(
    record_id: Annotated[str, typer.Argument(metavar="ID")],
    path: PathOpt = None,
    host: HostOpt = None,
    port: PortOpt = 8000,
    embedder: EmbedderOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Print one record (experience, reflection or concept) by its id."""
    with _open(path, host, port, embedder) as memory:
        record = memory.get(record_id)
    if record is None:
        raise VerbalRLError(f"no record with id {record_id}")
    data = record.model_dump(mode="json")
    if as_json:
        print_json(data)
        return
    for key, value in data.items():
        console.print(f"[bold]{key}[/bold]: {value}", highlight=False, markup=True)


@memory_app.command("export")
def export_cmd(
    file: Path,
    task: TaskOpt = None,
    path: PathOpt = None,
    host: HostOpt = None,
    port: PortOpt = 8000,
    embedder: EmbedderOpt = "default",
) -> None:
    """Write all records (or one task's) to FILE as JSONL: the backup format."""
    from ..memory import export_jsonl

    with _open(path, host, port, embedder) as memory:
        n = export_jsonl(memory, file, task=task)
    console.print(f"exported {n} records to {file}", highlight=False)


@memory_app.command("import")
def import_cmd(
    file: Path,
    path: PathOpt = None,
    host: HostOpt = None,
    port: PortOpt = 8000,
    embedder: EmbedderOpt = "default",
) -> None:
    """Load a JSONL export (re-embedding it); importing the same file twice changes nothing."""
    from ..memory import import_jsonl

    if not file.is_file():
        raise VerbalRLError(f"{file} does not exist")
    with _open(path, host, port, embedder) as memory:
        n = import_jsonl(memory, file)
    console.print(f"imported {n} records from {file}", highlight=False)


@memory_app.command()
def prune(
    max_per_task: Annotated[int | None, typer.Option(help="a cap lower than the configured one")] = None,
    path: PathOpt = None,
    host: HostOpt = None,
    port: PortOpt = 8000,
    embedder: EmbedderOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Apply the per-task caps now and drop concepts whose strength fell to 0."""
    with _open(path, host, port, embedder) as memory:
        removed = memory.prune(max_per_task=max_per_task)
    if as_json:
        print_json(removed)
    else:
        console.print("removed " + ", ".join(f"{n} {kind}s" for kind, n in removed.items()), highlight=False)


def register(app: typer.Typer) -> None:
    """Mount `memory` on the main app."""
    app.add_typer(memory_app, name="memory", help="Inspect, search, back up and prune memory.")
