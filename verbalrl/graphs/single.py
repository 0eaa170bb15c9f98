"""Single agent: solve (N drafts, one batched call) → verify → accept, or critique → revise → verify.

    START → solve → verify ─accept / out of rounds / budget / verifier error→ finalize → END
                      ↑  └─continue→ critique → revise ┘

The router decides with verifier scores only. Each round critiques and
revises the `revise_top` best drafts so far; a GenRM-CoT rationale serves as
the critique when `critique_from_verifier` is on (no critic call). The answer
is the best-scoring draft over all rounds (Best-of-N: `nodes.finalize`).

In scope: this graph's nodes and routers (module-level: each takes
`(state, runtime)` and can be called alone) and its factory. Left out: the
shared nodes (`verify`, `finalize`: `nodes.py`), budgets and model calls.
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from ..agents.base import Critique
from ..agents.critic import critic_prompt, critique_from_rationale, parse_critique
from ..agents.reviser import reviser_prompt
from ..agents.solver import solver_prompt
from ..llm.base import LLM
from ..tasks.base import Task
from ..verifier.base import Verifier
from .budget import clamp
from .config import SingleConfig
from .context import GraphContext, bind_context, context_default, task_of
from .events import emit
from .nodes import best_draft, decide, finalize, problem_of, verify
from .state import CritiqueRecord, SingleState
from .steps import drafted, generation, new_draft, sample

SingleRuntime = Runtime[GraphContext[SingleConfig]]
# Input typed Any: callers pass `initial_state(problem)`, a plain dict.
SingleGraph = CompiledStateGraph[SingleState, GraphContext[Any], Any, SingleState]


def critique_record(draft_id: str, round: int, critique: Critique) -> CritiqueRecord:
    """The state's record of a parsed critique of draft `draft_id` in `round`."""
    return {
        "draft_id": draft_id,
        "round": round,
        "text": critique.text,
        "ok": critique.ok,
        "source": critique.source,
    }


def solve(state: SingleState, runtime: SingleRuntime) -> dict[str, Any]:
    """Round 1: `n_drafts` drafts in one batched call (fewer when the budget is short)."""
    ctx, config = runtime.context, runtime.context.config
    problem = problem_of(state)
    task = task_of(ctx, problem)
    n, max_new = clamp(state, config, config.n_drafts, config.max_new_tokens)
    update: dict[str, Any] = {"round": 1, "path": ["solve"]}
    if n == 0:
        return update
    gen = generation(config, n, max_new, salt=f"{problem.id}/solve")
    rows, usage = sample(ctx.llm, [solver_prompt(task, problem)], gen)
    drafts = [new_draft(task, c, id=f"r1-{i}", round=1, agent=0, kind="draft") for i, c in enumerate(rows[0])]
    drafted(drafts, 1)
    return {**update, **usage, "drafts": drafts}


def after_verify(state: SingleState, runtime: SingleRuntime) -> Literal["critique", "finalize"]:
    best = best_draft(state.get("drafts", []))
    decision = decide(state, runtime.context.config, best["score"] if best else None)
    return "critique" if decision == "continue" else "finalize"


def critique(state: SingleState, runtime: SingleRuntime) -> dict[str, Any]:
    """Critique the `revise_top` best scored drafts: from a verifier rationale, else one critic call each."""
    ctx, config = runtime.context, runtime.context.config
    problem = problem_of(state)
    ranked = sorted(
        (d for d in state.get("drafts", []) if d.get("score") is not None),
        key=lambda d: (d.get("ok", False), d["score"]),
        reverse=True,
    )[: config.revise_top]
    critiques: list[CritiqueRecord] = []
    asks = []
    for d in ranked:
        if config.critique_from_verifier and d.get("rationale"):
            c = critique_from_rationale(d["rationale"])
            critiques.append(critique_record(d["id"], state["round"], c))
        else:
            asks.append(d)
    update: dict[str, Any] = {"path": ["critique"]}
    n, max_new = clamp(state, config, len(asks), config.critic_max_new_tokens)
    asks = asks[:n]
    if asks:
        prompts = [critic_prompt(problem, d["text"], d["score"]) for d in asks]
        gen = generation(config, 1, max_new, salt=f"{problem.id}/critique/{state['round']}")
        rows, usage = sample(ctx.llm, prompts, gen)
        update.update(usage)
        for d, row in zip(asks, rows, strict=True):
            c = parse_critique(row[0].text)
            critiques.append(critique_record(d["id"], state["round"], c))
    emit("critiques", round=state["round"], critiques=[dict(c) for c in critiques])
    return {**update, "critiques": critiques}


def this_rounds_critiques(state: SingleState) -> list[CritiqueRecord]:
    return [c for c in state.get("critiques", []) if c["round"] == state["round"]]


def after_critique(state: SingleState, runtime: SingleRuntime) -> Literal["revise", "finalize"]:
    budget_left = clamp(state, runtime.context.config, 1, 1)[0] > 0
    return "revise" if this_rounds_critiques(state) and budget_left else "finalize"


def revise(state: SingleState, runtime: SingleRuntime) -> dict[str, Any]:
    """The next round: one revision per critique of this round, in one batched call."""
    ctx, config = runtime.context, runtime.context.config
    problem = problem_of(state)
    task = task_of(ctx, problem)
    by_id = {d["id"]: d for d in state.get("drafts", [])}
    mine = this_rounds_critiques(state)
    next_round = state["round"] + 1
    n, max_new = clamp(state, config, len(mine), config.max_new_tokens)
    update: dict[str, Any] = {"round": next_round, "path": ["revise"]}
    mine = mine[:n]
    if not mine:
        return update
    prompts = [reviser_prompt(task, problem, by_id[c["draft_id"]]["text"], c["text"]) for c in mine]
    gen = generation(config, 1, max_new, salt=f"{problem.id}/revise/{next_round}")
    rows, usage = sample(ctx.llm, prompts, gen)
    drafts = [
        new_draft(task, row[0], id=f"r{next_round}-{i}", round=next_round, agent=0, kind="revision")
        for i, row in enumerate(rows)
    ]
    drafted(drafts, next_round)
    return {**update, **usage, "drafts": drafts}


def build_single_graph(
    llm: LLM,
    verifier: Verifier,
    config: SingleConfig | None = None,
    checkpointer: Any = None,
    *,
    task: Task | None = None,
) -> SingleGraph:
    """Compile the single-agent graph; `task` defaults to the registered task of each problem.

    The dependencies are bound as the default `GraphContext` of every run (`bind_context`).
    """
    context = GraphContext(llm=llm, verifier=verifier, config=config or SingleConfig(), task=task)
    d = context_default(context)  # also when run as a subgraph of a user\'s graph
    graph = StateGraph(SingleState, context_schema=GraphContext)
    graph.add_node("solve", d(solve))
    graph.add_node("verify", d(verify))
    graph.add_node("critique", d(critique))
    graph.add_node("revise", d(revise))
    graph.add_node("finalize", d(finalize))
    graph.add_edge(START, "solve")
    graph.add_edge("solve", "verify")
    graph.add_conditional_edges("verify", d(after_verify))
    graph.add_conditional_edges("critique", d(after_critique))
    graph.add_edge("revise", "verify")
    graph.add_edge("finalize", END)
    return bind_context(graph.compile(checkpointer=checkpointer, name="single"), context)
