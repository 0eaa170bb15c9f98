"""`verbalrl memory ...`: inspect, search, back up and prune memory from the shell.

In scope: `stats`, `search QUERY`, `show ID`, `export FILE`, `import FILE` and
`prune`, each on the default folder, `--path FOLDER` or `--host/--port` (a
`chroma run` server), with `--json` for machine-readable output. Errors that
verbalrl raises on purpose print one line and exit with status 1. Left out:
writing experiences by hand (that is what graphs do).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ..errors import VerbalRLError
from ..memory import ChromaMemory
from ..memory.config import MemoryConfig
from ..memory.jsonl import export_jsonl, import_jsonl

app = typer.Typer(
    help="Inspect, search, back up and prune the vector memory (experiences, lessons, concepts).",
    no_args_is_help=True,
)
console = Console()

PathOpt = Annotated[Path | None, typer.Option("--path", help="memory folder (default $VERBALRL_HOME/memory)")]
HostOpt = Annotated[str | None, typer.Option("--host", help="a `chroma run` server instead of a folder")]
PortOpt = Annotated[int, typer.Option("--port", help="the server's port")]
EmbedderOpt = Annotated[
    str, typer.Option("--embedder", help="'default', a sentence-transformers path, or 'hash:<dim>'")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
TaskOpt = Annotated[str | None, typer.Option("--task", help="only this task")]


def _open(path: Path | None, host: str | None, port: int, embedder: str) -> ChromaMemory:
    return ChromaMemory(config=MemoryConfig(path=path, host=host, port=port, embedder=embedder))


def _fail(exc: Exception) -> typer.Exit:
    # Plain stderr, not rich: an error message must not be re-wrapped or styled away.
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(1)


def _print_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, indent=2, ensure_ascii=False, default=str))


@app.command()
def stats(
    path: PathOpt = None,
    host: HostOpt = None,
    port: PortOpt = 8000,
    embedder: EmbedderOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """How many experiences, lessons and concepts are stored, per task and status."""
    try:
        with _open(path, host, port, embedder) as memory:
            info = memory.stats()
    except VerbalRLError as exc:
        raise _fail(exc) from exc
    if as_json:
        _print_json(info)
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


@app.command()
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
    try:
        with _open(path, host, port, embedder) as memory:
            context = memory.recall(query, task=task, k=k, exclude_problem=exclude_problem)
    except VerbalRLError as exc:
        raise _fail(exc) from exc
    if as_json:
        _print_json(context.model_dump(mode="json"))
    elif context.empty:
        console.print("nothing relevant in memory")
    else:
        typer.echo(context.render())


@app.command()
def show(
    record_id: Annotated[str, typer.Argument(metavar="ID")],
    path: PathOpt = None,
    host: HostOpt = None,
    port: PortOpt = 8000,
    embedder: EmbedderOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Print one record (experience, reflection or concept) by its id."""
    try:
        with _open(path, host, port, embedder) as memory:
            record = memory.get(record_id)
    except VerbalRLError as exc:
        raise _fail(exc) from exc
    if record is None:
        raise _fail(LookupError(f"no record with id {record_id}"))
    data = record.model_dump(mode="json")
    if as_json:
        _print_json(data)
        return
    for key, value in data.items():
        console.print(f"[bold]{key}[/bold]: {value}", highlight=False, markup=True)


@app.command("export")
def export_cmd(
    file: Path,
    task: TaskOpt = None,
    path: PathOpt = None,
    host: HostOpt = None,
    port: PortOpt = 8000,
    embedder: EmbedderOpt = "default",
) -> None:
    """Write all records (or one task's) to FILE as JSONL: the backup format."""
    try:
        with _open(path, host, port, embedder) as memory:
            n = export_jsonl(memory, file, task=task)
    except VerbalRLError as exc:
        raise _fail(exc) from exc
    console.print(f"exported {n} records to {file}", highlight=False)


@app.command("import")
def import_cmd(
    file: Path,
    path: PathOpt = None,
    host: HostOpt = None,
    port: PortOpt = 8000,
    embedder: EmbedderOpt = "default",
) -> None:
    """Load a JSONL export (re-embedding it); importing the same file twice changes nothing."""
    if not file.is_file():
        raise _fail(FileNotFoundError(f"{file} does not exist"))
    try:
        with _open(path, host, port, embedder) as memory:
            n = import_jsonl(memory, file)
    except VerbalRLError as exc:
        raise _fail(exc) from exc
    console.print(f"imported {n} records from {file}", highlight=False)


@app.command()
def prune(
    max_per_task: Annotated[int | None, typer.Option(help="a cap lower than the configured one")] = None,
    path: PathOpt = None,
    host: HostOpt = None,
    port: PortOpt = 8000,
    embedder: EmbedderOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Apply the per-task caps now and drop concepts whose strength fell to 0."""
    try:
        with _open(path, host, port, embedder) as memory:
            removed = memory.prune(max_per_task=max_per_task)
    except VerbalRLError as exc:
        raise _fail(exc) from exc
    if as_json:
        _print_json(removed)
    else:
        console.print("removed " + ", ".join(f"{n} {kind}s" for kind, n in removed.items()), highlight=False)
