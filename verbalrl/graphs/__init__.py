"""LangGraph graphs: single agent, multi-agent debate, reflective agent with memory, step search.

Each graph is a `StateGraph` over a TypedDict state of plain data (so any
checkpointer persists it) whose nodes are module-level functions
`node(state, runtime)`; the dependencies (model, verifier, config, task,
memory) reach them as a frozen `GraphContext` through LangGraph's `Runtime`.
A factory binds that context as the default of every run:

    graph = build_single_graph(llm, verifier, SingleConfig(n_drafts=4), checkpointer=None, task=task)
    final = graph.invoke(initial_state(problem))          # or graph.stream(..., stream_mode="updates")
    final["result"]   # answer, score, status, rounds, llm_calls, generated_tokens, mode, ...

A run may replace the bound context: `graph.invoke(state, config, context=GraphContext(...))`.
`build_graph(name, ...)` picks one by name ("single", "multi", "reflective", "search").
Only this package imports langgraph directly.

Files: `state.py` (records and states), `context.py` (`GraphContext`, binding),
`budget.py` (what a problem may still spend), `steps.py` (one model call as a
step), `nodes.py` (verify, decide, finalize: shared), one file per graph,
`config.py`, `checkpoint.py`; the search graph's tree logic is in `search_tree.py`.
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.graph.state import CompiledStateGraph

from .budget import graph_options
from .config import GraphConfig, Mode, MultiConfig, ReflectiveConfig, SearchConfig, SingleConfig
from .context import GraphContext, bind_context
from .multi import build_multi_graph
from .reflective import build_reflective_graph
from .search import build_search_graph
from .single import build_single_graph
from .state import (
    CritiqueRecord,
    DraftRecord,
    LessonRecord,
    MultiState,
    NodeRecord,
    ReflectiveState,
    ResultRecord,
    SearchState,
    SingleState,
    initial_state,
)

GraphName = Literal["single", "multi", "reflective", "search"]
GRAPHS: tuple[str, ...] = ("single", "multi", "reflective", "search")
CONFIGS: dict[str, type[GraphConfig]] = {
    "single": SingleConfig,
    "multi": MultiConfig,
    "reflective": ReflectiveConfig,
    "search": SearchConfig,
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
) -> CompiledStateGraph[Any, GraphContext[Any], Any, Any]:
    """Build graph `name`; the reflective graph needs `memory` unless its config has `use_memory=False`,
    the search graph a verifier that scores steps (a `ProcessVerifier`)."""
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
    if name == "search":
        return build_search_graph(llm, verifier, config, checkpointer, task=task)  # type: ignore[arg-type]
    raise ValueError(f"unknown graph {name!r}: choose one of {', '.join(GRAPHS)}")


__all__ = [
    "CONFIGS",
    "GRAPHS",
    "CritiqueRecord",
    "DraftRecord",
    "GraphConfig",
    "GraphContext",
    "GraphName",
    "LessonRecord",
    "Mode",
    "MultiConfig",
    "MultiState",
    "NodeRecord",
    "ReflectiveConfig",
    "ReflectiveState",
    "ResultRecord",
    "SearchConfig",
    "SearchState",
    "SingleConfig",
    "SingleState",
    "bind_context",
    "build_graph",
    "build_multi_graph",
    "build_reflective_graph",
    "build_search_graph",
    "build_single_graph",
    "graph_config",
    "graph_options",
    "initial_state",
]
