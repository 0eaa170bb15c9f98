"""LangGraph graphs: single agent, multi-agent debate, reflective agent with memory.

Each graph is a `StateGraph` over a TypedDict state of plain data (so the
SQLite checkpointer can persist it), built by a factory that closes over its
dependencies:

    graph = build_single_graph(llm, verifier, SingleConfig(n_drafts=4), checkpointer=None, task=task)
    final = graph.invoke(initial_state(problem))          # or graph.stream(..., stream_mode="updates")
    final["result"]   # answer, score, status, rounds, llm_calls, generated_tokens, mode, ...

`build_graph(name, ...)` picks one by name ("single", "multi", "reflective").
Only this package imports langgraph.
"""

from __future__ import annotations

from typing import Any, Literal

from .config import GraphConfig, Mode, MultiConfig, ReflectiveConfig, SingleConfig
from .multi import build_multi_graph
from .reflective import build_reflective_graph
from .single import build_single_graph
from .state import initial_state
from .steps import graph_options

GraphName = Literal["single", "multi", "reflective"]
GRAPHS: tuple[str, ...] = ("single", "multi", "reflective")
CONFIGS: dict[str, type[GraphConfig]] = {
    "single": SingleConfig,
    "multi": MultiConfig,
    "reflective": ReflectiveConfig,
}


def graph_config(name: str, **fields: Any) -> GraphConfig:
    """The config class of graph `name` built from `fields` (validated; unknown fields raise)."""
    if name not in CONFIGS:
        raise ValueError(f"unknown graph {name!r}: choose one of {', '.join(GRAPHS)}")
    return CONFIGS[name](**fields)


def build_graph(
    name: str,
    llm: Any,
    verifier: Any,
    config: GraphConfig | None = None,
    *,
    memory: Any = None,
    checkpointer: Any = None,
    task: Any = None,
) -> Any:
    """Build graph `name`; the reflective graph needs `memory` unless its config has `use_memory=False`."""
    config = config or graph_config(name)
    if name == "single":
        return build_single_graph(llm, verifier, config, checkpointer, task=task)  # type: ignore[arg-type]
    if name == "multi":
        return build_multi_graph(llm, verifier, config, checkpointer, task=task)  # type: ignore[arg-type]
    if name == "reflective":
        if memory is None and getattr(config, "use_memory", True):
            raise ValueError(
                "the reflective graph needs a memory (e.g. ChromaMemory(path)), "
                "or ReflectiveConfig(use_memory=False) for the no-memory ablation"
            )
        return build_reflective_graph(llm, verifier, memory, config, checkpointer, task=task)  # type: ignore[arg-type]
    raise ValueError(f"unknown graph {name!r}: choose one of {', '.join(GRAPHS)}")


__all__ = [
    "CONFIGS",
    "GRAPHS",
    "GraphConfig",
    "GraphName",
    "Mode",
    "MultiConfig",
    "ReflectiveConfig",
    "SingleConfig",
    "build_graph",
    "build_multi_graph",
    "build_reflective_graph",
    "build_single_graph",
    "graph_config",
    "graph_options",
    "initial_state",
]
