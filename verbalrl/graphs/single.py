"""Single agent: solve (N drafts, one batched call) → verify → accept, or critique → revise → verify.

    START → solve → verify ─accept / out of rounds / budget / verifier error→ finalize → END
                      ↑  └─continue→ critique → revise ┘

The router decides with verifier scores only. Each round critiques and
revises the `revise_top` best drafts so far; a GenRM-CoT rationale serves as
the critique when `critique_from_verifier` is on (no critic call). The answer
is the best-scoring draft over all rounds (Best-of-N).
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.graph import END, START, StateGraph

from ..agents.critic import critic_prompt, critique_from_rationale, parse_critique
from ..agents.reviser import reviser_prompt
from ..agents.solver import solver_prompt
from ..llm.base import LLM
from ..tasks.base import Task
from ..verifier.base import Verifier
from .config import SingleConfig
from .state import SingleState
from .steps import (
    best_draft,
    clamp,
    decide,
    generation,
    new_draft,
    problem_of,
    resolve_task,
    result_record,
    sample,
    verify_update,
)


def build_single_graph(
    llm: LLM,
    verifier: Verifier,
    config: SingleConfig | None = None,
    checkpointer: Any = None,
    *,
    task: Task | None = None,
) -> Any:
    """Compile the single-agent graph; `task` defaults to the registered task of each problem."""
    config = config or SingleConfig()

    def solve(state: SingleState) -> dict[str, Any]:
        problem = problem_of(state)
        the_task = resolve_task(task, problem)
        n, max_new = clamp(state, config, config.n_drafts, config.max_new_tokens)
        update: dict[str, Any] = {"round": 1, "path": ["solve"]}
        if n == 0:
            return update
        gen = generation(config, n, max_new, salt=f"{problem.id}/solve")
        rows, usage = sample(llm, [solver_prompt(the_task, problem)], gen)
        drafts = [
            new_draft(the_task, c, id=f"r1-{i}", round=1, agent=0, kind="draft")
            for i, c in enumerate(rows[0])
        ]
        return {**update, **usage, "drafts": drafts}

    def verify(state: SingleState) -> dict[str, Any]:
        return {"path": ["verify"], **verify_update(verifier, problem_of(state), state.get("drafts", []))}

    def after_verify(state: SingleState) -> Literal["critique", "finalize"]:
        best = best_draft(state.get("drafts", []))
        decision = decide(state, config, best["score"] if best else None)
        return "critique" if decision == "continue" else "finalize"

    def critique(state: SingleState) -> dict[str, Any]:
        problem = problem_of(state)
        ranked = sorted(
            (d for d in state.get("drafts", []) if d.get("score") is not None),
            key=lambda d: (d.get("ok", False), d["score"]),
            reverse=True,
        )[: config.revise_top]
        critiques: list[dict[str, Any]] = []
        asks = []
        for d in ranked:
            if config.critique_from_verifier and d.get("rationale"):
                c = critique_from_rationale(d["rationale"])
                critiques.append({"draft_id": d["id"], "round": state["round"], **c.model_dump()})
            else:
                asks.append(d)
        update: dict[str, Any] = {"path": ["critique"]}
        n, max_new = clamp(state, config, len(asks), config.critic_max_new_tokens)
        asks = asks[:n]
        if asks:
            prompts = [critic_prompt(problem, d["text"], d["score"]) for d in asks]
            gen = generation(config, 1, max_new, salt=f"{problem.id}/critique/{state['round']}")
            rows, usage = sample(llm, prompts, gen)
            update.update(usage)
            for d, row in zip(asks, rows, strict=True):
                c = parse_critique(row[0].text)
                critiques.append({"draft_id": d["id"], "round": state["round"], **c.model_dump()})
        return {**update, "critiques": critiques}

    def after_critique(state: SingleState) -> Literal["revise", "finalize"]:
        mine = [c for c in state.get("critiques", []) if c["round"] == state["round"]]
        return "revise" if mine and clamp(state, config, 1, 1)[0] > 0 else "finalize"

    def revise(state: SingleState) -> dict[str, Any]:
        problem = problem_of(state)
        the_task = resolve_task(task, problem)
        by_id = {d["id"]: d for d in state.get("drafts", [])}
        mine = [c for c in state.get("critiques", []) if c["round"] == state["round"]]
        next_round = state["round"] + 1
        n, max_new = clamp(state, config, len(mine), config.max_new_tokens)
        update: dict[str, Any] = {"round": next_round, "path": ["revise"]}
        mine = mine[:n]
        if not mine:
            return update
        prompts = [reviser_prompt(the_task, problem, by_id[c["draft_id"]]["text"], c["text"]) for c in mine]
        gen = generation(config, 1, max_new, salt=f"{problem.id}/revise/{next_round}")
        rows, usage = sample(llm, prompts, gen)
        drafts = [
            new_draft(the_task, row[0], id=f"r{next_round}-{i}", round=next_round, agent=0, kind="revision")
            for i, row in enumerate(rows)
        ]
        return {**update, **usage, "drafts": drafts}

    def finalize(state: SingleState) -> dict[str, Any]:
        best = best_draft(state.get("drafts", []))
        score = best["score"] if best else None
        status = decide(state, config, score)
        if status == "continue":  # a revise step had no budget left for any draft
            status = "budget"
        answer = best["answer"] if best else None
        return {"path": ["finalize"], "result": result_record(state, config, answer, score, status)}

    graph = StateGraph(SingleState)
    graph.add_node("solve", solve)
    graph.add_node("verify", verify)
    graph.add_node("critique", critique)
    graph.add_node("revise", revise)
    graph.add_node("finalize", finalize)
    graph.add_edge(START, "solve")
    graph.add_edge("solve", "verify")
    graph.add_conditional_edges("verify", after_verify)
    graph.add_conditional_edges("critique", after_critique)
    graph.add_edge("revise", "verify")
    graph.add_edge("finalize", END)
    return graph.compile(checkpointer=checkpointer, name="single")
