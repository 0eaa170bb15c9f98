"""The four graphs as factories for LangGraph's own server: `langgraph dev` with the repo's `langgraph.json`.

    langgraph dev --no-browser   # serves "single", "multi", "reflective", "search" at http://127.0.0.1:2024

What the graphs run on comes from the environment (read when a graph is
first built, then kept for the server's lifetime): `VERBALRL_MODEL` (default
the embedded SmolLM2), `VERBALRL_TASK` (default arithmetic; the task whose
prompt and answer format the agents use), `VERBALRL_VERIFIER` (default the
packaged verifier covering the task), `VERBALRL_MEMORY` (the reflective
graph's memory folder, default the user's memory folder) and `VERBALRL_PRM`
(the search graph's process verifier: `prm:PATH`, or `step-checker` for a
task with a step checker, an oracle; none is packaged, so a search run without
it fails with that message). A run's input is
the state `{"problem": {...}}` (`initial_state(problem)`); the graphs are
compiled without a checkpointer: the server brings its own.

In scope: `single`, `multi`, `reflective`, `search` (factories taking the run's
config, as langgraph.json references them). Left out: the graphs themselves.
"""

from __future__ import annotations

import asyncio
import os
import threading
from functools import cache
from typing import Any

from langchain_core.runnables import RunnableConfig

_LOCK = threading.Lock()


@cache
def _parts() -> tuple[Any, Any, Any]:
    """(model, verifier, task) from the environment, loaded once per server process."""
    from ..llm.registry import load_llm
    from ..tasks import get_task
    from ..verifier.registry import default_verifier, load_verifier

    task_name = os.environ.get("VERBALRL_TASK", "arithmetic")
    task = get_task(task_name)
    llm = load_llm(os.environ.get("VERBALRL_MODEL", "smollm2-135m-instruct"))
    spec = os.environ.get("VERBALRL_VERIFIER") or default_verifier(task_name, {})
    if spec is None:
        raise ValueError(f"no packaged verifier covers task {task_name!r}: set VERBALRL_VERIFIER")
    return llm, load_verifier(spec, llm, task), task


@cache
def _memory() -> Any:
    from ..memory import ChromaMemory

    folder = os.environ.get("VERBALRL_MEMORY")
    return ChromaMemory(folder) if folder else ChromaMemory()


@cache
def _process_verifier() -> Any:
    """The search graph's step scorer, `VERBALRL_PRM`, loaded once per server process."""
    from ..verifier.registry import load_verifier
    from .search import NEEDS_PROCESS_VERIFIER

    spec = os.environ.get("VERBALRL_PRM")
    if not spec:
        raise ValueError(NEEDS_PROCESS_VERIFIER.replace("--verifier", "set VERBALRL_PRM to"))
    llm, _, task = _parts()
    return load_verifier(spec, llm, task)


def _build(name: str) -> Any:
    from . import build_graph

    with _LOCK:
        llm, verifier, task = _parts()
        memory = _memory() if name == "reflective" else None
        if name == "search":
            verifier = _process_verifier()
    graph = build_graph(name, llm, verifier, memory=memory, task=task)
    # The server builds a run's context from the context schema and the request, and a request
    # cannot carry a model: without a schema the nodes fall back to the context bound here.
    graph.context_schema = None
    return graph


# Async, loading in a worker thread: the server refuses blocking calls (file reads, a model
# load) on its event loop. The nodes themselves are sync, and the server runs them in threads.
async def single(config: RunnableConfig) -> Any:
    """The single-agent graph (solve, verify, critique, revise)."""
    return await asyncio.to_thread(_build, "single")


async def multi(config: RunnableConfig) -> Any:
    """The multi-agent debate graph."""
    return await asyncio.to_thread(_build, "multi")


async def reflective(config: RunnableConfig) -> Any:
    """The reflective graph with the memory at `VERBALRL_MEMORY`."""
    return await asyncio.to_thread(_build, "reflective")


async def search(config: RunnableConfig) -> Any:
    """The step-search graph (beam by default) scored by the process verifier `VERBALRL_PRM`."""
    return await asyncio.to_thread(_build, "search")
