"""`verbalrl models` and `verbalrl generate`: which models resolve where, and sampling from one.

In scope: listing the model aliases with where each resolves and the
converted-model cache, and sampling completions for prompts (chat or raw)
from any `--model`. Left out: serving a model (`serve.py`) and the model
backends themselves (`verbalrl.llm`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import VerbalRLError
from .options import BaseUrlOpt, DtypeOpt, JsonOpt, ModelOpt, ThreadsOpt, console, err_console, load_model


def models(json_out: JsonOpt = False) -> None:
    """List model aliases, where each resolves, and the converted-model cache."""
    from rich.table import Table

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


def _prompts(texts: list[str], file: Path | None) -> list[str]:
    if file is not None:
        if not file.is_file():
            raise VerbalRLError(f"prompt file {str(file)!r} does not exist")
        texts = texts + [line for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not texts:
        raise VerbalRLError("no prompts: give prompt texts as arguments or --file")
    return texts


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
    base_url: BaseUrlOpt = None,
    dtype: DtypeOpt = "auto",
    threads: ThreadsOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Sample completions for prompts: `verbalrl generate -n 4 "What is 2 + 3?"`."""
    from ..llm.base import GenerationConfig

    texts = _prompts(list(prompts or []), file)
    config = GenerationConfig(
        n=n,
        temperature=temperature,
        top_p=top_p,
        max_new_tokens=max_new_tokens,
        stop=tuple(stop or ()),
        seed=seed,
    )
    llm = load_model(model, base_url, dtype)
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


def register(app: typer.Typer) -> None:
    """Add `models` and `generate` to the main app."""
    app.command()(models)
    app.command()(generate)
