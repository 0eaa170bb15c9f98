"""What a graph's nodes depend on: one frozen `GraphContext`, reaching them through LangGraph's `Runtime`.

In scope: `GraphContext` (model, verifier, graph config, task, memory, run
id), `bind_context` (a compiled graph whose runs get a default context), and
the two look-ups nodes make through it (`task_of`, `run_id_of`). Left out:
the nodes and the state (state holds plain data only; clients and models
live here, so no checkpointer ever has to persist them).

Nodes are module-level functions `node(state, runtime: Runtime[GraphContext[C]])`
and a graph is `StateGraph(State, context_schema=GraphContext)`. A caller may
pass `graph.invoke(state, config, context=GraphContext(...))`; callers that do
not (the runner, the CLI, the examples) get the context the factory bound.

How the default is bound, and why this way: LangGraph builds each run's
`Runtime` by merging the run's own (from `context=`) over a "parent" runtime it
reads from the config, under its runtime key (`CONFIG_KEY_RUNTIME`), and
`Runtime.merge` keeps the parent's context when the run gives none. That is
the hook LangGraph's own server uses to set context at the graph level (see
`_coerce_parent_runtime` in `langgraph.pregel.main`). `bind_context` seeds
that key with `compiled.with_config(...)`, so the result stays a plain
`CompiledStateGraph` (`invoke`, `stream`, `get_state`, `with_config`, drawing
all unchanged) and an explicit `context=` wins. The key itself is private to
LangGraph; `tests/graphs/test_context.py` pins the behaviour (default used,
explicit context wins, checkpoints resume), so an upgrade that moves it fails
there. Rejected: a `CompiledStateGraph` subclass overriding `stream`/`astream`
(it must also survive `Pregel.copy`, which rebuilds the object from its
`__dict__`), and closures over the dependencies (untestable nodes).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from langgraph._internal._constants import CONFIG_KEY_RUNTIME
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from ..llm.base import LLM
from ..tasks.base import Problem, Task
from ..verifier.base import Verifier
from .config import GraphConfig

if TYPE_CHECKING:  # importing verbalrl.memory loads chromadb: only for the type
    from ..memory.store import MemoryStore

C = TypeVar("C", bound=GraphConfig)
G = TypeVar("G", bound="CompiledStateGraph[Any, Any, Any, Any]")


@dataclass(frozen=True)
class GraphContext(Generic[C]):
    """The run-scoped dependencies of a graph's nodes.

    `task`: None means each problem's registered task (`get_task(problem.task)`).
    `memory`: the reflective graph's store; None only with `use_memory=False`.
    `run_id`: recorded as memory provenance; None means the first part of the
    checkpoint thread id (`run_id/problem_id`, as the runner names threads).
    """

    llm: LLM
    verifier: Verifier
    config: C
    task: Task | None = None
    memory: MemoryStore | None = None
    run_id: str | None = None

    def __post_init__(self) -> None:
        if self.memory is None and getattr(self.config, "use_memory", False):
            raise ValueError("memory is None but config.use_memory is True")


def bind_context(graph: G, context: GraphContext[Any]) -> G:
    """`graph` with `context` as the default of every run; a run's own `context=` replaces it."""
    return graph.with_config(configurable={CONFIG_KEY_RUNTIME: Runtime(context=context)})


F = TypeVar("F", bound=Callable[..., Any])


def context_default(context: GraphContext[Any]) -> Callable[[F], F]:
    """A decorator for a node or router: a run without a `GraphContext` gets `context`.

    `bind_context` covers runs of the graph itself. A graph added as a node of a
    user's own `StateGraph` (a subgraph) runs under its parent's runtime instead,
    whose context is the parent's (None, or another type), so each node and
    router also falls back to the factory's context there.
    """

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def node(state: Any, runtime: Runtime[Any]) -> Any:
            if not isinstance(runtime.context, GraphContext):
                runtime = runtime.override(context=context)
            return fn(state, runtime)

        return node  # type: ignore[return-value]

    return wrap


def task_of(context: GraphContext[Any], problem: Problem) -> Task:
    """The task given to the context, else the registered task named by the problem."""
    if context.task is not None:
        return context.task
    from ..tasks.registry import get_task

    return get_task(problem.task)


def run_id_of(runtime: Runtime[GraphContext[Any]]) -> str | None:
    """The run's id for provenance: the context's, else the run part of the thread id, else None."""
    if runtime.context.run_id is not None:
        return runtime.context.run_id
    info = runtime.execution_info
    thread = info.thread_id if info is not None else None
    return str(thread).split("/")[0] if thread else None
