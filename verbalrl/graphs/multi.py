"""Multi-agent debate: M agents draft in parallel (`Send`), then debate rounds, verifier-weighted vote.

    START ─Send×M→ draft → verify ─accept / out of rounds / budget→ finalize → END
                     ↑        └─Send×M (debate round)┘

Each agent has a persona and a temperature. In a debate round every agent
reads its own last draft and the others' (with their verifier scores when
`share_scores`) and revises. The verifier scores every draft; the answer is
the verifier-weighted vote over the latest round (`selection.weighted_vote`).
The loop accepts when that answer's best score reaches the threshold.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from ..agents.debater import debater_prompt
from ..agents.solver import solver_prompt
from ..llm.base import LLM
from ..selection import Scored, WeightedVote
from ..tasks.base import Task
from ..verifier.base import Verifier
from .config import MultiConfig
from .state import Draft, MultiState
from .steps import (
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


class DraftTask(TypedDict):
    """What `Send` hands one agent: the problem, its index, the round, and the drafts it reads."""

    problem: dict[str, Any]
    agent: int
    round: int
    own: str
    others: list[tuple[str, float | None]]
    budget: dict[str, int]


def latest(drafts: list[Draft]) -> list[Draft]:
    """The drafts of the most recent round, by agent."""
    if not drafts:
        return []
    last = max(d["round"] for d in drafts)
    return sorted((d for d in drafts if d["round"] == last), key=lambda d: d["agent"])


def vote(drafts: list[Draft]) -> tuple[str | None, float | None]:
    """Verifier-weighted vote over the drafts; (answer, best score among its drafts)."""
    choice = WeightedVote().choose([Scored(d.get("answer"), d.get("score")) for d in drafts])
    return choice.answer, choice.score


def build_multi_graph(
    llm: LLM,
    verifier: Verifier,
    config: MultiConfig | None = None,
    checkpointer: Any = None,
    *,
    task: Task | None = None,
) -> Any:
    """Compile the multi-agent debate graph; `task` defaults to the registered task of each problem."""
    config = config or MultiConfig()

    def fan_out(state: MultiState, round: int) -> list[Send]:
        n, _ = clamp(state, config, config.n_agents, config.max_new_tokens)
        prior = latest(state.get("drafts", []))
        sends = []
        for agent in range(n):
            own = next((d["text"] for d in prior if d["agent"] == agent), "")
            others = [
                (d["text"], d.get("score") if config.share_scores else None)
                for d in prior
                if d["agent"] != agent
            ]
            sends.append(
                Send(
                    "draft",
                    {
                        "problem": state["problem"],
                        "agent": agent,
                        "round": round,
                        "own": own,
                        "others": others,
                        "budget": {
                            "llm_calls": state.get("llm_calls", 0),
                            "generated_tokens": state.get("generated_tokens", 0),
                            "n": n,
                        },
                    },
                )
            )
        return sends

    def start(state: MultiState) -> list[Send]:
        return fan_out(state, 1)

    def draft(state: DraftTask) -> dict[str, Any]:
        problem = problem_of(state)
        the_task = resolve_task(task, problem)
        agent, round = state["agent"], state["round"]
        persona = config.persona(agent)
        if round == 1 or not state["others"]:
            prompt = solver_prompt(the_task, problem, persona=persona)
        else:
            prompt = debater_prompt(the_task, problem, state["own"], state["others"], persona=persona)
        # Each of the n parallel agents gets an equal share of what is left of the token budget.
        budget = state["budget"]
        _, max_new = clamp(budget, config, budget["n"], config.max_new_tokens)
        gen = generation(
            config, 1, max_new, temperature=config.agent_temperature(agent),
            salt=f"{problem.id}/agent{agent}/round{round}",
        )
        rows, usage = sample(llm, [prompt], gen)
        kind = "draft" if round == 1 else "debate"
        made = new_draft(the_task, rows[0][0], id=f"r{round}-a{agent}", round=round, agent=agent, kind=kind)
        return {**usage, "round": round, "drafts": [made], "path": ["draft"]}

    def verify(state: MultiState) -> dict[str, Any]:
        return {"path": ["verify"], **verify_update(verifier, problem_of(state), state.get("drafts", []))}

    def after_verify(state: MultiState) -> list[Send] | Literal["finalize"]:
        _, score = vote(latest(state.get("drafts", [])))
        if decide(state, config, score) != "continue":
            return "finalize"
        sends = fan_out(state, state["round"] + 1)
        return sends or "finalize"

    def finalize(state: MultiState) -> dict[str, Any]:
        answer, score = vote(latest(state.get("drafts", [])))
        status = decide(state, config, score)
        if status == "continue":
            status = "budget"
        return {"path": ["finalize"], "result": result_record(state, config, answer, score, status)}

    graph = StateGraph(MultiState)
    # A Send payload, not the graph state, is this node's input.
    graph.add_node("draft", draft, input_schema=DraftTask)
    graph.add_node("verify", verify)
    graph.add_node("finalize", finalize)
    graph.add_conditional_edges(START, start, ["draft"])
    graph.add_edge("draft", "verify")
    graph.add_conditional_edges("verify", after_verify, ["draft", "finalize"])
    graph.add_edge("finalize", END)
    return graph.compile(checkpointer=checkpointer, name="multi")
