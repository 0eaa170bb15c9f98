"""The `verbalrl` command.

In scope: the top-level commands (`models`, `generate`, `tasks`, `serve`)
and mounting the sub-command groups that other packages define (for
example `verbalrl memory`). Heavy libraries (torch, transformers) are
imported inside commands so `verbalrl --help` stays instant.

Errors a user can cause are printed as one clear line and exit with code 2;
`--json` makes output machine-readable.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ..errors import VerbalRLError

app = typer.Typer(
    name="verbalrl",
    help="Reasoning agents that learn by verbal reinforcement (GenRM verifiers + memory).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
tasks_app = typer.Typer(
    help="List problem families and sample their problems.", no_args_is_help=False
)
app.add_typer(tasks_app, name="tasks")

console = Console()
err_console = Console(stderr=True)

ModelOpt = Annotated[
    str, typer.Option("--model", "-m", help="alias, folder, .gguf, hub id, or openai:NAME")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print machine-readable JSON")]


def _quiet_transformers() -> None:
    """Hide transformers' per-load progress bars and warnings in CLI output."""
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def load_model_for_cli(model: str, base_url: str | None, dtype: str) -> Any:
    """Load a model with a status line; used by every command that takes --model."""
    from ..llm.registry import load_llm, split_backend

    kind, _ = split_backend(model)
    with err_console.status(f"loading {model} ..."):
        if kind == "openai":
            return load_llm(model, base_url=base_url)
        _quiet_transformers()
        return load_llm(model, dtype=dtype)


@app.command()
def models(json_out: JsonOpt = False) -> None:
    """List model aliases, where each resolves, and the converted-model cache."""
    from ..llm.aliases import ALIASES, converted_dir, find_packaged_gguf, resolve_model
    from ..paths import verbalrl_home

    rows = []
    for alias in ALIASES.values():
        gguf = find_packaged_gguf(alias)
        cached = None
        if gguf is not None:
            folder = converted_dir(resolve_model(alias.name))
            cached = str(folder) if (folder / "config.json").is_file() else None
        rows.append(
            {
                "alias": alias.name,
                "description": alias.description,
                "resolves_to": str(gguf) if gguf else None,
                "install": alias.install_hint,
                "hub_id": alias.hub_id,
                "converted_cache": cached,
            }
        )
    if json_out:
        print(json.dumps({"home": str(verbalrl_home()), "models": rows}, indent=2))
        return
    table = Table(title=f"models (cache: {verbalrl_home() / 'models'})")
    for col in ("alias", "resolves to", "converted cache"):
        table.add_column(col, overflow="fold")
    for row in rows:
        where = row["resolves_to"] or f"[red]not installed[/] ({row['install']})"
        table.add_row(row["alias"], where, row["converted_cache"] or "-")
    console.print(table)
    console.print(
        "Also accepted: a local model folder, a .gguf file, a hub id (online), openai:NAME."
    )


@app.command()
def generate(
    prompts: Annotated[list[str] | None, typer.Argument(help="prompt texts")] = None,
    model: ModelOpt = "smollm2-135m-instruct",
    n: Annotated[int, typer.Option("--n", "-n", help="samples per prompt")] = 1,
    temperature: Annotated[float, typer.Option(help="0 = greedy")] = 0.7,
    top_p: float = 1.0,
    max_new_tokens: int = 256,
    seed: int | None = None,
    stop: Annotated[list[str] | None, typer.Option(help="stop string (repeatable)")] = None,
    system: Annotated[str | None, typer.Option(help="system message for chat prompts")] = None,
    raw: Annotated[bool, typer.Option(help="send prompts as raw text, no chat template")] = False,
    file: Annotated[
        Path | None, typer.Option(help="read prompts from a file, one per line")
    ] = None,
    base_url: Annotated[str | None, typer.Option(help="server URL for openai:NAME models")] = None,
    dtype: Annotated[str, typer.Option(help="auto | float32 | bfloat16")] = "auto",
    json_out: JsonOpt = False,
) -> None:
    """Sample completions for prompts: `verbalrl generate -n 4 "What is 2 + 3?"`."""
    from ..llm.base import GenerationConfig

    texts = list(prompts or [])
    if file is not None:
        if not file.is_file():
            raise VerbalRLError(f"prompt file {str(file)!r} does not exist")
        texts += [line for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not texts:
        raise VerbalRLError("no prompts: give prompt texts as arguments or --file")
    config = GenerationConfig(
        n=n,
        temperature=temperature,
        top_p=top_p,
        max_new_tokens=max_new_tokens,
        stop=tuple(stop or ()),
        seed=seed,
    )
    llm = load_model_for_cli(model, base_url, dtype)
    batch: list[Any] = []
    for text in texts:
        if raw:
            batch.append(text)
        else:
            messages = [{"role": "system", "content": system}] if system else []
            batch.append(messages + [{"role": "user", "content": text}])
    with err_console.status(f"sampling {len(texts)} x {n} ..."):
        results = llm.generate(batch, config)
    if json_out:
        payload = [
            {"prompt": text, "completions": [c.model_dump() for c in row]}
            for text, row in zip(texts, results, strict=True)
        ]
        print(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    for text, row in zip(texts, results, strict=True):
        console.rule(f"[bold]{text[:70]}")
        for i, c in enumerate(row, 1):
            console.print(f"[cyan]#{i}[/] ({c.completion_tokens} tokens, {c.finish_reason})")
            console.print(c.text, markup=False, highlight=False)


@tasks_app.callback(invoke_without_command=True)
def tasks_main(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Without a sub-command: list the problem families."""
    if ctx.invoked_subcommand is None:
        tasks_list(json_out)


@tasks_app.command("list")
def tasks_list(json_out: JsonOpt = False) -> None:
    """List the problem families."""
    from ..tasks import available_tasks

    names = available_tasks()
    if json_out:
        print(json.dumps(names, indent=2))
        return
    table = Table(title="tasks")
    table.add_column("name")
    table.add_column("description")
    for name, description in names.items():
        table.add_row(name, description)
    console.print(table)


@tasks_app.command("sample")
def tasks_sample(
    name: Annotated[str, typer.Argument(help="task name (see `verbalrl tasks list`)")],
    split: str = "test",
    n: int = 3,
    seed: int = 0,
    path: Annotated[str | None, typer.Option(help="data file for gsm8k / jsonl tasks")] = None,
    level: Annotated[str | None, typer.Option(help="difficulty level for arithmetic")] = None,
    show_prompt: Annotated[bool, typer.Option(help="also print the solver prompt")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Sample problems of a task with their gold answers and reference solutions."""
    from ..tasks import get_task

    options: dict[str, Any] = {}
    if path:
        options["path"] = path
    if level:
        options["level"] = int(level) if level.isdigit() else level
    task = get_task(name, **options)
    problems = task.problems(split=split, n=n, seed=seed)  # type: ignore[arg-type]
    rows = []
    for p in problems:
        row = p.model_dump()
        row["reference_solution"] = task.reference_solution(p)
        if show_prompt:
            row["prompt"] = task.prompt(p)
        rows.append(row)
    if json_out:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for row in rows:
        console.rule(f"[bold]{row['id']}")
        console.print(row["question"], markup=False, highlight=False)
        console.print(f"[green]answer:[/] {row['answer']}")
        if show_prompt:
            console.print(row["prompt"], markup=False)


@app.command()
def serve(
    model: ModelOpt = "smollm2-135m-instruct",
    host: str = "127.0.0.1",
    port: int = 8000,
    dtype: Annotated[str, typer.Option(help="auto | float32 | bfloat16")] = "auto",
) -> None:
    """Serve a local model over an OpenAI-compatible HTTP API (chat/completions, logprobs)."""
    from ..llm.server import serve as run_server

    llm = load_model_for_cli(model, None, dtype)
    err_console.print(f"serving {model} on http://{host}:{port}/v1 (Ctrl-C stops)")
    run_server(llm, host=host, port=port, model_name=model)


def _mount_groups() -> None:
    """Mount the command groups (each module owns its commands)."""
    from . import memory, run, training, verifier

    run.register(app)
    verifier.register(app)
    training.register(app)
    app.add_typer(memory.app, name="memory", help="Inspect, search, back up and prune memory.")


def main() -> None:
    """Console entry point: run the app and turn known errors into one-line messages."""
    from pydantic import ValidationError

    _mount_groups()
    try:
        app()  # standalone mode: click handles --help, usage errors and Ctrl-C itself
    except (VerbalRLError, ValidationError, ValueError) as exc:
        err_console.print(f"[red]error:[/] {_format_error(exc)}", highlight=False)
        sys.exit(2)


def _format_error(exc: Exception) -> str:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        parts = [f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return "invalid value: " + "; ".join(parts)
    return str(exc)


if __name__ == "__main__":
    main()
