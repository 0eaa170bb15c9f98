"""`verbalrl serve`: a local model behind an OpenAI-compatible HTTP API.

In scope: loading `--model` and running the server (chat/completions,
completions, logprobs) until Ctrl-C. Left out: the server itself
(`verbalrl.llm.server`) and clients (`--model openai:NAME --base-url URL`).
"""

from __future__ import annotations

import typer

from .options import DtypeOpt, ModelOpt, err_console, load_model


def serve(
    model: ModelOpt = "smollm2-135m-instruct",
    host: str = "127.0.0.1",
    port: int = 8000,
    dtype: DtypeOpt = "auto",
) -> None:
    """Serve a local model over an OpenAI-compatible HTTP API (chat/completions, logprobs)."""
    from ..llm.server import serve as run_server

    llm = load_model(model, None, dtype)
    err_console.print(f"serving {model} on http://{host}:{port}/v1 (Ctrl-C stops)")
    run_server(llm, host=host, port=port, model_name=model)


def register(app: typer.Typer) -> None:
    """Add `serve` to the main app."""
    app.command()(serve)
