"""`verbalrl serve`: a local model, or an agent graph, behind an OpenAI-compatible HTTP API.

In scope: loading `--model` and running the server (chat/completions and
completions with streaming, logprobs, echo; /tokenize) until Ctrl-C; with
`--graph`, the server answers with that agent instead (`GraphLLM`: the reply
is the graph's chosen solution), so any OpenAI-compatible harness evaluates
the agent. Left out: the server itself (`verbalrl.llm.server`) and clients
(`--model openai:NAME --base-url URL`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .options import DtypeOpt, ModelOpt, TaskOptionOpt, ThreadsOpt, err_console, load_model, task_options


def serve(
    model: ModelOpt = "smollm2-135m-instruct",
    host: str = "127.0.0.1",
    port: int = 8000,
    dtype: DtypeOpt = "auto",
    name: Annotated[str | None, typer.Option(help="the model name clients use (default: --model)")] = None,
    max_batch: Annotated[int, typer.Option(help="rows (prompts x samples) decoded in one batch")] = 32,
    batch_window: Annotated[
        float, typer.Option(help="seconds to wait for more requests before a batch starts")
    ] = 0.02,
    graph: Annotated[
        str | None, typer.Option(help="serve an agent graph (single | multi | reflective), not the model")
    ] = None,
    task: Annotated[str, typer.Option(help="--graph: task whose prompt and answer format")] = "arithmetic",
    task_option: TaskOptionOpt = None,
    verifier: Annotated[
        str | None, typer.Option(help="--graph: verifier (default: the task's packaged one)")
    ] = None,
    memory: Annotated[Path | None, typer.Option(help="--graph reflective: memory folder")] = None,
    n_drafts: Annotated[int | None, typer.Option(help="--graph: drafts per round")] = None,
    max_rounds: Annotated[int | None, typer.Option(help="--graph: rounds")] = None,
    threads: ThreadsOpt = None,
) -> None:
    """Serve a model (or, with --graph, an agent) over an OpenAI-compatible HTTP API."""
    from ..errors import VerbalRLError
    from ..llm.server import serve as run_server

    if max_batch < 1 or batch_window < 0:
        raise VerbalRLError("--max-batch must be >= 1 and --batch-window >= 0")
    llm = load_model(model, None, dtype)
    served, closing = llm, None
    if graph is not None:
        served, closing = _agent(llm, graph, task, task_option, verifier, memory, n_drafts, max_rounds)
    public = name or (f"{graph}-agent" if graph else model)
    what = f"the {graph} agent on {model}" if graph else model
    err_console.print(f"serving {what} as `{public}` on http://{host}:{port}/v1 (Ctrl-C stops)")
    try:
        run_server(served, host=host, port=port, model_name=public, max_rows=max_batch, window=batch_window)
    finally:
        if closing is not None:
            closing.close()


def _agent(llm, graph, task, task_option, verifier, memory, n_drafts, max_rounds):  # type: ignore[no-untyped-def]
    """The agent graph as an `LLM` (`GraphLLM`), and the memory to close afterwards (or None)."""
    from ..graphs import build_graph
    from ..run.served_graph import GraphLLM
    from ..tasks import get_task
    from ..verifier.registry import load_verifier
    from .run import build_config, choose_verifier, open_memory

    options = task_options(None, None, task_option)
    config = build_config(graph, n_drafts=n_drafts, max_rounds=max_rounds)
    the_task = get_task(task, **options)
    ver = load_verifier(choose_verifier(verifier, task, options), llm, the_task)
    mem = open_memory(memory) if graph == "reflective" else None
    compiled = build_graph(graph, llm, ver, config, memory=mem, task=the_task)
    return GraphLLM(compiled, the_task, config, name=f"{graph}-agent"), mem


def register(app: typer.Typer) -> None:
    """Add `serve` to the main app."""
    app.command()(serve)
