"""Verifier-guided step search: beam search, diverse verifier tree search (DVTS) and MCTS.

    START → expand → score ─(mcts + rollout)→ rollout → select
                       └─────────────────────────────→ select ─continue→ expand
                              select ─weak leaf (mcts + refine_below)→ refine → score
                              select ─done / dead end / rounds / budget / verifier error→ finalize → END

A solution grows one step (one line) at a time: `expand` continues the
partial solutions of the frontier with one batched model call (the prompt
ends with the solution so far as an assistant turn: prefill, `expansions`
samples each, whose first non-blank line is the step); `score` sends every new child to
the process verifier in one `score_steps` call (each child's step scores are
read in one pass); `select` decides what to expand next:

- `beam`: the `beams` best open children by value (the first step samples
  `beams * expansions` children of the empty solution, each later step
  `expansions` per beam).
- `dvts` (diverse verifier tree search, as in Hugging Face's search-and-learn):
  `beams // expansions` independent subtrees, each greedy: `expansions`
  children per step, continued from its best one; a subtree ends when its best
  child is finished.
- `mcts`: UCT selection of an unexpanded leaf, expansion by `expansions`
  sampled steps, the PRM value of each new child (with `rollout`, the best
  new child's value is the aggregated score of a rollout to the end), then
  backup. With `refine_below`, a selected leaf valued below it is critiqued
  and revised once instead (LLaMA-Berry's self-refine), the revision being a
  new sibling.

A finished solution (an answer line, or the model added nothing, or
`max_depth` steps) leaves the search and becomes a candidate (a draft scored
by its aggregated step scores); the answer is the best candidate. Nothing
here reads the gold answer: the process verifier decides (the oracle
`CheckerStepVerifier` reads it, for experiments only). The tree lives in the
state (`nodes`), so a checkpointed run resumes mid-search.

In scope: the nodes, routers and factory. Left out: the tree logic
(`search_tree.py`), budgets (`budget.py`), the verifier (`verifier/process.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from ..agents.base import parse_draft
from ..agents.critic import critic_prompt, parse_critique
from ..agents.reviser import reviser_prompt
from ..agents.solver import solver_prompt
from ..errors import VerbalRLError
from ..llm.base import LLM, Prompt
from ..tasks.base import Problem, Task
from ..verifier.process import ProcessVerifier, StepScores
from .budget import budget_exhausted, calls_left, clamp, graph_options
from .config import SearchConfig
from .context import GraphContext, bind_context, context_default, task_of
from .events import emit
from .nodes import best_draft, finish, problem_of, result_record
from .search_tree import (
    ROOT,
    backup,
    child_node,
    ranked,
    root_node,
    select_beam,
    select_dvts,
    select_leaf,
    with_scores,
)
from .state import DraftRecord, NodeRecord, SearchState
from .steps import generation, sample

log = logging.getLogger(__name__)

SearchRuntime = Runtime[GraphContext[SearchConfig]]
SearchGraph = CompiledStateGraph[SearchState, GraphContext[Any], Any, SearchState]

NEEDS_PROCESS_VERIFIER = (
    "the search graph needs a process verifier, one that scores every step (score_steps): "
    "--verifier prm:PATH, or step-checker (an oracle that reads the gold answer: experiments only)"
)


class _ClockedProcess:
    """A process verifier whose calls are timed on the clock of the proxy that wrapped it."""

    def __init__(self, inner: ProcessVerifier, clock: Any) -> None:
        self.inner, self.clock, self.name = inner, clock, inner.name

    def score_steps(self, problem: Problem, candidates: Sequence[str]) -> StepScores:
        self.clock.enter()
        try:
            return self.inner.score_steps(problem, candidates)
        finally:
            self.clock.leave()


def process_verifier(verifier: Any) -> ProcessVerifier:
    """`verifier` as a `ProcessVerifier`; a proxy (the runner's timing wrapper) is looked through.

    Raises `VerbalRLError` when it cannot score steps.
    """
    if isinstance(verifier, ProcessVerifier):
        return verifier
    inner = getattr(verifier, "verifier", None)
    if inner is not None and isinstance(inner, ProcessVerifier):
        clock = getattr(verifier, "clock", None)
        return _ClockedProcess(inner, clock) if clock is not None else inner
    raise VerbalRLError(
        NEEDS_PROCESS_VERIFIER + f" (got {getattr(verifier, 'name', type(verifier).__name__)})"
    )


def check_search_model(llm: LLM) -> None:
    """The search continues partial solutions: the model must support prefill."""
    if not llm.capabilities.prefill:
        raise VerbalRLError(
            f"the search graph continues partial solutions (prefill), which model {llm.name!r} cannot do"
        )


def node_prompt(base: list[dict[str, str]], node: NodeRecord) -> Prompt:
    """The solver prompt, continued after the node's solution so far (its next line)."""
    if not node["text"]:
        return [dict(m) for m in base]
    return [*(dict(m) for m in base), {"role": "assistant", "content": node["text"] + "\n"}]


def fit(state: SearchState, config: SearchConfig, prompts: int, n: int, max_new: int) -> tuple[int, int, int]:
    """(prompts, samples each, max_new_tokens) that fit what is left of both budgets; best prompts first."""
    calls = calls_left(state, config)
    if calls is not None and prompts * n > calls:
        prompts, n = (calls // n, n) if calls >= n else (min(1, calls), calls)
    if prompts == 0 or n == 0:
        return 0, 0, max_new
    total, max_new = clamp(state, config, prompts * n, max_new)
    if total < prompts * n:  # fewer tokens left than sequences
        prompts, n = (total // n, n) if total >= n else (min(1, total), total)
    return prompts, n, max_new


def _next_id(state: SearchState, extra: int = 0) -> int:
    return len(state.get("nodes", [])) + extra


def expand(state: SearchState, runtime: SearchRuntime) -> dict[str, Any]:
    """Sample the next step of every frontier node in one call; the first call makes the root too."""
    ctx, config = runtime.context, runtime.context.config
    check_search_model(ctx.llm)
    problem = problem_of(state)
    task = task_of(ctx, problem)
    nodes = state.get("nodes", [])
    new_nodes: list[NodeRecord] = []
    if not nodes:
        new_nodes.append(root_node())
    by_id = {n["id"]: n for n in [*nodes, *new_nodes]}
    frontier = [by_id[i] for i in state.get("frontier") or [ROOT]]
    round_ = state.get("round", 0) + 1
    first = frontier[0]["id"] == ROOT and config.strategy != "mcts"
    # The first step of beam/DVTS samples the whole width from the empty solution.
    width = config.expansions * (config.beams if config.strategy == "beam" else config.subtrees)
    want = width if first else config.expansions
    k, n, max_new = fit(state, config, len(frontier), want, config.step_max_new_tokens)
    update: dict[str, Any] = {"round": round_, "path": ["expand"]}
    if k == 0:
        return {**update, "nodes": new_nodes}
    frontier = frontier[:k]
    base = solver_prompt(task, problem)
    # No stop string: small models often open a step with a blank line, and a "\n" stop would return
    # an empty step (indistinguishable from the model ending); the tokens after the line are counted.
    gen = generation(config, n, max_new, salt=f"{problem.id}/search/{round_}")
    rows, usage = sample(ctx.llm, [node_prompt(base, node) for node in frontier], gen)
    next_id = len(nodes) + len(new_nodes)
    for parent, row in zip(frontier, rows, strict=True):
        for i, completion in enumerate(row):
            subtree = i // config.expansions if first and config.strategy == "dvts" else None
            new_nodes.append(
                child_node(
                    f"n{next_id}", parent, first_line(completion.text), round=round_,
                    tokens=completion.completion_tokens, subtree=subtree, max_depth=config.max_depth,
                )
            )  # fmt: skip
            next_id += 1
    emit("expanded", round=round_, parents=[p["id"] for p in frontier], children=_summary(new_nodes))
    return {**update, **usage, "nodes": new_nodes}


def first_line(text: str) -> str:
    """The step in a sampled continuation: its first non-blank line ("" when it is all blank)."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _summary(nodes: Sequence[NodeRecord]) -> list[dict[str, Any]]:
    keys = ("id", "parent", "step", "value", "status")
    return [{k: n.get(k) for k in keys} for n in nodes if n["id"] != ROOT]


def candidate(task: Task, node: NodeRecord, *, kind: str | None = None, id: str | None = None) -> DraftRecord:
    """A finished solution as a draft, scored by its aggregated step scores (0 without an answer)."""
    parsed = parse_draft(task, node["text"])
    value = node["value"] if node["value"] is not None else 0.0
    return {
        "id": id or node["id"], "round": node["round"], "agent": node["subtree"],
        "kind": kind or node["kind"],
        "text": parsed.text, "answer": parsed.answer, "ok": parsed.ok, "error": parsed.error,
        "score": value if parsed.ok else 0.0, "tokens": node["tokens"],
    }  # fmt: skip


def score_texts(
    state: SearchState, runtime: SearchRuntime, texts: list[str]
) -> tuple[list[list[float]] | None, dict[str, Any]]:
    """Step scores of `texts` in one process-verifier call, and the state update of its compute.

    A verifier error is caught: None, the error recorded and `verifier_failed` set.
    """
    verifier = process_verifier(runtime.context.verifier)
    problem = problem_of(state)
    try:
        result = verifier.score_steps(problem, texts)
        if len(result.scores) != len(texts):
            raise ValueError(f"{len(result.scores)} step-score lists for {len(texts)} candidates")
    except Exception as exc:  # a verifier failure stops the search with what it has
        return None, {"errors": [f"verifier: {type(exc).__name__}: {exc}"], "verifier_failed": True}
    usage = result.usage
    return [list(s) for s in result.scores], {
        "llm_calls": int(usage.llm_calls),
        "generated_tokens": int(usage.generated_tokens),
        "verifier_calls": len(texts),
    }


def score(state: SearchState, runtime: SearchRuntime) -> dict[str, Any]:
    """Score every unscored node in one call; a node the model ended (no new step) keeps its parent's
    scores without a call. Finished nodes become candidates (drafts)."""
    ctx, config = runtime.context, runtime.context.config
    task = task_of(ctx, problem_of(state))
    nodes = state.get("nodes", [])
    by_id = {n["id"]: n for n in nodes}
    todo = [n for n in nodes if n["scores"] is None and n["id"] != ROOT]
    update: dict[str, Any] = {"path": ["score"]}
    asks = [n for n in todo if n["step"] and n["text"]]
    scores: dict[str, list[float]] = {}
    if asks:
        got, usage = score_texts(state, runtime, [n["text"] for n in asks])
        update.update(usage)
        if got is None:
            return update
        scores = {n["id"]: s for n, s in zip(asks, got, strict=True)}
    scored: list[NodeRecord] = []
    for node in todo:
        parent = by_id.get(node["parent"] or "")
        inherited = (parent["scores"] if parent is not None else None) or []
        got_scores = scores.get(node["id"], list(inherited))
        scored.append(with_scores(node, got_scores, config.aggregation, config.prune_below))
    drafts = [candidate(task, n) for n in scored if n["status"] == "finished"]
    emit("scored", round=state.get("round", 0), children=_summary(scored))
    return {**update, "nodes": scored, "drafts": drafts}


def after_score(state: SearchState, runtime: SearchRuntime) -> Literal["rollout", "select"]:
    config = runtime.context.config
    wants = config.strategy == "mcts" and config.rollout and not state.get("verifier_failed")
    return "rollout" if wants else "select"


def rollout(state: SearchState, runtime: SearchRuntime) -> dict[str, Any]:
    """MCTS: the best open child of this round, continued to the end in one call and scored; the
    rollout is a candidate, and the child's value becomes the rollout's aggregated score."""
    ctx, config = runtime.context, runtime.context.config
    problem = problem_of(state)
    task = task_of(ctx, problem)
    round_ = state.get("round", 0)
    fresh = [n for n in state.get("nodes", []) if n["round"] == round_ and n["status"] == "open"]
    update: dict[str, Any] = {"path": ["rollout"]}
    if not fresh:
        return update
    best = ranked(fresh)[0]
    k, n, max_new = fit(state, config, 1, 1, config.max_new_tokens)
    if k == 0:
        return update
    gen = generation(config, 1, max_new, salt=f"{problem.id}/rollout/{round_}")
    rows, usage = sample(ctx.llm, [node_prompt(solver_prompt(task, problem), best)], gen)
    completion = rows[0][0]
    end = child_node(
        f"rollout-{best['id']}", best, completion.text, round=round_, tokens=completion.completion_tokens,
        kind="rollout",
    )  # fmt: skip
    got, scoring = score_texts({**state, **usage}, runtime, [end["text"]])  # type: ignore[typeddict-item]
    update.update(
        {
            "llm_calls": usage["llm_calls"] + scoring.get("llm_calls", 0),
            "generated_tokens": usage["generated_tokens"] + scoring.get("generated_tokens", 0),
        }
    )
    update.update({k: v for k, v in scoring.items() if k not in ("llm_calls", "generated_tokens")})
    if got is None:
        return update
    end = with_scores(end, got[0], config.aggregation, config.prune_below)
    # The rollout is a candidate, not a tree node (the leaf stays open to be expanded).
    leaf: NodeRecord = {**best, "value": end["value"]}
    return {**update, "nodes": [leaf], "drafts": [candidate(task, end, kind="rollout")]}


def select(state: SearchState, runtime: SearchRuntime) -> dict[str, Any]:
    """Choose what to expand next (see the module doc) and say why the search stops, if it does."""
    config = runtime.context.config
    nodes = state.get("nodes", [])
    round_ = state.get("round", 0)
    fresh = [n for n in nodes if n["round"] == round_ and n["id"] != ROOT]
    update: dict[str, Any] = {"path": ["select"], "refine_id": None}
    if config.strategy == "mcts":
        new = [n for n in fresh if n["visits"] == 0 and n["value"] is not None]
        changed = backup(nodes, new, [float(n["value"] or 0.0) for n in new]) if new else []
        merged = {n["id"]: n for n in nodes} | {n["id"]: n for n in changed}
        tree = list(merged.values())
        leaf = select_leaf(tree, config.exploration)
        frontier = [leaf] if leaf is not None else []
        if leaf is not None and leaf != ROOT and config.refine_below is not None:
            node = merged[leaf]
            if not node["refined"] and (node["value"] or 0.0) < config.refine_below:
                update["refine_id"], frontier = leaf, []
        update["nodes"] = changed
    elif config.strategy == "dvts":
        frontier = select_dvts(fresh)
    else:
        frontier = select_beam(fresh, config.beams)
    update["frontier"] = frontier
    after = {**state, **update, "nodes": nodes}
    update["stopped"] = stop_reason(after, config)
    emit("selected", round=round_, frontier=frontier, refine=update["refine_id"], stopped=update["stopped"])
    return update


def stop_reason(state: Any, config: SearchConfig) -> str | None:
    """Why the search ends now, or None to go on."""
    if state.get("verifier_failed"):
        return "verifier_error"
    if not state.get("frontier") and not state.get("refine_id"):
        answered = any(d.get("ok") for d in state.get("drafts", []))
        return "done" if answered else "dead_end"
    if state.get("round", 0) >= config.max_rounds:
        return "max_rounds"
    if budget_exhausted(state, config):
        return "budget"
    return None


def after_select(state: SearchState, runtime: SearchRuntime) -> Literal["expand", "refine", "finalize"]:
    if state.get("stopped"):
        return "finalize"
    return "refine" if state.get("refine_id") else "expand"


def refine(state: SearchState, runtime: SearchRuntime) -> dict[str, Any]:
    """MCTS self-refine: critique the weak leaf's partial solution, revise it (two calls); the revision
    is a new sibling of the leaf, scored next. The leaf is marked so it is refined only once."""
    ctx, config = runtime.context, runtime.context.config
    problem = problem_of(state)
    task = task_of(ctx, problem)
    by_id = {n["id"]: n for n in state.get("nodes", [])}
    leaf = by_id[str(state["refine_id"])]
    round_ = state.get("round", 0) + 1
    marked: NodeRecord = {**leaf, "refined": True}
    update: dict[str, Any] = {"round": round_, "path": ["refine"], "refine_id": None, "frontier": []}
    k, _, max_new = fit(state, config, 1, 2, config.critic_max_new_tokens)
    if k == 0:
        return {**update, "nodes": [marked]}
    gen = generation(config, 1, max_new, salt=f"{problem.id}/critique/{round_}")
    rows, used = sample(ctx.llm, [critic_prompt(problem, leaf["text"], leaf["value"])], gen)
    critique = parse_critique(rows[0][0].text)
    spent = {
        **state,
        "llm_calls": state.get("llm_calls", 0) + used["llm_calls"],
        "generated_tokens": state.get("generated_tokens", 0) + used["generated_tokens"],
    }
    k, _, max_new = fit(spent, config, 1, 1, config.max_new_tokens)  # type: ignore[arg-type]
    if k == 0:
        return {**update, **used, "nodes": [marked]}
    gen = generation(config, 1, max_new, salt=f"{problem.id}/revise/{round_}")
    rows, revised = sample(ctx.llm, [reviser_prompt(task, problem, leaf["text"], critique.text)], gen)
    parent = by_id[leaf["parent"] or ROOT]
    completion = rows[0][0]
    sibling = child_node(
        f"n{_next_id(state)}", parent, completion.text, round=round_, tokens=completion.completion_tokens,
        kind="refine", max_depth=config.max_depth,
    )  # fmt: skip
    if not sibling["text"]:
        sibling = {**sibling, "status": "pruned", "scores": [], "value": 0.0}
    usage = {k: used[k] + revised[k] for k in ("llm_calls", "generated_tokens")}
    return {**update, **usage, "nodes": [marked, sibling]}


def finalize(state: SearchState, runtime: SearchRuntime) -> dict[str, Any]:
    """The best candidate by aggregated step score; status accept (score reaches the threshold) or why
    the search stopped."""
    config = runtime.context.config
    best = best_draft(state.get("drafts", []))
    score_ = best["score"] if best else None
    answer = best["answer"] if best else None
    if state.get("verifier_failed"):
        status = "verifier_error"
    elif score_ is not None and score_ >= config.threshold:
        status = "accept"
    else:
        status = state.get("stopped") or ("budget" if budget_exhausted(state, config) else "max_rounds")
    record = result_record(state, config, answer, score_, status)
    record["verifier_calls"] = state.get("verifier_calls", 0)
    record["nodes"] = len(state.get("nodes", []))
    return finish(record)


def build_search_graph(
    llm: LLM,
    verifier: Any,
    config: SearchConfig | None = None,
    checkpointer: Any = None,
    *,
    task: Task | None = None,
) -> SearchGraph:
    """Compile the search graph; `verifier` must score steps (a `ProcessVerifier`, e.g. a PRM)."""
    process_verifier(verifier)
    check_search_model(llm)
    context = GraphContext(llm=llm, verifier=verifier, config=config or SearchConfig(), task=task)
    d = context_default(context)
    graph = StateGraph(SearchState, context_schema=GraphContext)
    graph.add_node("expand", d(expand))
    graph.add_node("score", d(score))
    graph.add_node("rollout", d(rollout))
    graph.add_node("select", d(select))
    graph.add_node("refine", d(refine))
    graph.add_node("finalize", d(finalize))
    graph.add_edge(START, "expand")
    graph.add_edge("expand", "score")
    graph.add_conditional_edges("score", d(after_score))
    graph.add_edge("rollout", "select")
    graph.add_conditional_edges("select", d(after_select))
    graph.add_edge("refine", "score")
    graph.add_edge("finalize", END)
    compiled = bind_context(graph.compile(checkpointer=checkpointer, name="search"), context)
    # A search takes 3-4 steps per round, more than LangGraph's default limit of 25 allows for a few
    # rounds: a caller that passes no `graph_options` still gets enough (its own limit wins).
    return compiled.with_config(recursion_limit=graph_options(context.config)["recursion_limit"])
