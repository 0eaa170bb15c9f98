"""Multi-agent debate: M agents draft in parallel (`Send`), then debate rounds, verifier-weighted vote.

    START ─Send×M→ draft → verify ─accept / out of rounds / budget→ finalize → END
                     ↑        └─Send×M (debate round)┘

Each agent has a persona and a temperature. In a debate round every agent
reads its own last draft and the others' (with their verifier scores when
`share_scores`) and revises. The verifier scores every draft; the answer is
the verifier-weighted vote over the latest round (`selection.WeightedVote`).
The loop accepts when that answer's best score reaches the threshold.

In scope: this graph's fan-out, its `draft` node, router and finalize
(module-level, each `(state, runtime)`), and its factory. Left out: `verify`
(shared: `nodes.py`), budgets and model calls.
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Send
from typing_extensions import TypedDict

from ..agents.debater import debater_prompt
from ..agents.solver import solver_prompt
from ..llm.base import LLM
from ..selection import Scored, WeightedVote
from ..tasks.base import Task
from ..verifier.base import Verifier
from .budget import clamp
from .config import MultiConfig
from .context import GraphContext, bind_context, context_default, task_of
from .nodes import decide, final_status, finish, problem_of, result_record, verify
from .state import DraftRecord, MultiState
from .steps import drafted, generation, new_draft, sample

MultiRuntime = Runtime[GraphContext[MultiConfig]]
MultiGraph = CompiledStateGraph[MultiState, GraphContext[Any], Any, MultiState]


class DraftTask(TypedDict):
    """What `Send` hands one agent: the problem, its index, the round, and the drafts it reads."""

    problem: dict[str, Any]
    agent: int
    round: int
    own: str
    others: list[tuple[str, float | None]]
    budget: dict[str, int]  # the compute used when the round was sent, and `n` agents sharing the rest


def latest(drafts: list[DraftRecord]) -> list[DraftRecord]:
    """The drafts of the most recent round, by agent."""
    if not drafts:
        return []
    last = max(d["round"] for d in drafts)
    return sorted((d for d in drafts if d["round"] == last), key=lambda d: d["agent"])


def vote(drafts: list[DraftRecord]) -> tuple[str | None, float | None]:
    """Verifier-weighted vote over the drafts; (answer, best score among its drafts)."""
    choice = WeightedVote().choose([Scored(d.get("answer"), d.get("score")) for d in drafts])
    return choice.answer, choice.score


def fan_out(state: MultiState, config: MultiConfig, round: int) -> list[Send]:
    """One `Send` per agent the budget allows, each with what that agent reads this round."""
    n, _ = clamp(state, config, config.n_agents, config.max_new_tokens)
    prior = latest(state.get("drafts", []))
    budget = {"llm_calls": state.get("llm_calls", 0), "generated_tokens": state.get("generated_tokens", 0)}
    sends = []
    for agent in range(n):
        own = next((d["text"] for d in prior if d["agent"] == agent), "")
        others = [
            (d["text"], d.get("score") if config.share_scores else None) for d in prior if d["agent"] != agent
        ]
        task: DraftTask = {
            "problem": state["problem"],
            "agent": agent,
            "round": round,
            "own": own,
            "others": others,
            "budget": {**budget, "n": n},
        }
        sends.append(Send("draft", task))
    return sends


def start(state: MultiState, runtime: MultiRuntime) -> list[Send]:
    return fan_out(state, runtime.context.config, 1)


def draft(state: DraftTask, runtime: MultiRuntime) -> dict[str, Any]:
    """One agent's draft (round 1) or debate reply (later rounds), in one call."""
    ctx, config = runtime.context, runtime.context.config
    problem = problem_of(state)
    task = task_of(ctx, problem)
    agent, round = state["agent"], state["round"]
    persona = config.persona(agent)
    if round == 1 or not state["others"]:
        prompt = solver_prompt(task, problem, persona=persona)
    else:
        prompt = debater_prompt(task, problem, state["own"], state["others"], persona=persona)
    # Each of the n parallel agents gets an equal share of what is left of the token budget.
    budget = state["budget"]
    _, max_new = clamp(budget, config, budget["n"], config.max_new_tokens)
    gen = generation(
        config, 1, max_new, temperature=config.agent_temperature(agent),
        salt=f"{problem.id}/agent{agent}/round{round}",
    )
    rows, usage = sample(ctx.llm, [prompt], gen)
    kind = "draft" if round == 1 else "debate"
    made = new_draft(task, rows[0][0], id=f"r{round}-a{agent}", round=round, agent=agent, kind=kind)
    drafted([made], round)
    return {**usage, "round": round, "drafts": [made], "path": ["draft"]}


def after_verify(state: MultiState, runtime: MultiRuntime) -> list[Send] | Literal["finalize"]:
    config = runtime.context.config
    _, score = vote(latest(state.get("drafts", [])))
    if decide(state, config, score) != "continue":
        return "finalize"
    sends = fan_out(state, config, state["round"] + 1)
    return sends or "finalize"


def finalize(state: MultiState, runtime: MultiRuntime) -> dict[str, Any]:
    """The verifier-weighted vote over the latest round; the status decided on its best score."""
    config = runtime.context.config
    answer, score = vote(latest(state.get("drafts", [])))
    return finish(result_record(state, config, answer, score, final_status(state, config, score)))


def build_multi_graph(
    llm: LLM,
    verifier: Verifier,
    config: MultiConfig | None = None,
    checkpointer: Any = None,
    *,
    task: Task | None = None,
) -> MultiGraph:
    """Compile the multi-agent debate graph; `task` defaults to the registered task of each problem.

    The dependencies are bound as the default `GraphContext` of every run (`bind_context`).
    """
    context = GraphContext(llm=llm, verifier=verifier, config=config or MultiConfig(), task=task)
    d = context_default(context)  # also when run as a subgraph of a user\'s graph
    graph = StateGraph(MultiState, context_schema=GraphContext)
    # A Send payload, not the graph state, is this node's input.
    graph.add_node("draft", d(draft), input_schema=DraftTask)
    graph.add_node("verify", d(verify))
    graph.add_node("finalize", d(finalize))
    graph.add_conditional_edges(START, d(start), ["draft"])
    graph.add_edge("draft", "verify")
    graph.add_conditional_edges("verify", d(after_verify), ["draft", "finalize"])
    graph.add_edge("finalize", END)
    return bind_context(graph.compile(checkpointer=checkpointer, name="multi"), context)
