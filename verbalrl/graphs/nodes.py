"""The nodes and decisions the three graphs share: verify, the accept/stop decision, finalize.

In scope: `verify` (score every unscored draft in one guarded verifier call:
a verifier error is recorded and stops the loop, never crashes it), picking
the best draft (`selection.BestOfN`), `decide` (accept on the verifier's
score; else stop on a verifier error, out of rounds or out of budget), the
result record, and `finalize` (Best-of-N over every draft: the single graph's;
the multi and reflective graphs finish with their own choice through `finish`).
Left out: the graph-specific nodes (one file per graph), budgets (`budget.py`)
and model calls (`steps.py`).

Nodes here take `(state, runtime)` like every node: the verifier and the config
come from `runtime.context` (a `GraphContext`). Nothing here reads
`Problem.answer`: decisions use verifier scores only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from langgraph.runtime import Runtime

from ..selection import BestOfN, Scored, score_candidates
from ..tasks.base import Problem
from .budget import budget_exhausted
from .config import GraphConfig
from .context import GraphContext
from .events import draft_summary, emit
from .state import BaseState, DraftRecord, ResultRecord

Decision = Literal["accept", "continue", "max_rounds", "budget", "verifier_error"]


def problem_of(state: Mapping[str, Any]) -> Problem:
    return Problem.model_validate(state["problem"])


def verify(state: BaseState, runtime: Runtime[GraphContext[Any]]) -> dict[str, Any]:
    """Score every unscored draft in one verifier call; the update carries the scored drafts.

    A verifier exception is caught (`score_candidates`): the drafts stay
    unscored, the error is recorded, and `verifier_failed` makes the router
    stop with what it has. A GenRM-CoT verifier's first rationale is kept on
    the draft (the single graph may use it as the critique).
    """
    update: dict[str, Any] = {"path": ["verify"]}
    todo = [d for d in state.get("drafts", []) if d.get("score") is None]
    if not todo:
        return update
    scoring = score_candidates(runtime.context.verifier, problem_of(state), [d["text"] for d in todo])
    if scoring.error is not None:
        return {**update, "errors": [scoring.error], "verifier_failed": True}
    scored: list[DraftRecord] = []
    for draft, score, detail in zip(todo, scoring.scores, scoring.details, strict=False):
        item: DraftRecord = {**draft, "score": score}
        rationales = detail.get("rationales") if isinstance(detail, dict) else None
        if isinstance(rationales, list) and rationales and isinstance(rationales[0], str):
            item["rationale"] = rationales[0]
        scored.append(item)
    threshold = runtime.context.config.threshold
    emit(
        "scores",
        drafts=draft_summary(scored),
        accepted=[d["id"] for d in scored if d["score"] >= threshold],
        threshold=threshold,
    )
    usage = scoring.usage
    return {
        **update,
        "drafts": scored,
        "llm_calls": int(usage.llm_calls) if usage else 0,
        "generated_tokens": int(usage.generated_tokens) if usage else 0,
    }


def best_draft(drafts: Sequence[DraftRecord]) -> DraftRecord | None:
    """The highest-scoring draft with an answer (ties: the earliest); None when none has one."""
    scored = [Scored(d.get("answer") if d.get("ok") else None, d.get("score")) for d in drafts]
    choice = BestOfN().choose(scored)
    return drafts[choice.index] if choice.index is not None else None


def decide(state: Mapping[str, Any], config: GraphConfig, score: float | None) -> Decision:
    """Accept on the verifier's score; else stop on a verifier error, out of rounds or out of budget."""
    if state.get("verifier_failed"):
        return "verifier_error"
    if score is not None and score >= config.threshold:
        return "accept"
    if state.get("round", 0) >= config.max_rounds:
        return "max_rounds"
    if budget_exhausted(state, config):
        return "budget"
    return "continue"


def final_status(state: Mapping[str, Any], config: GraphConfig, score: float | None) -> str:
    """`decide` at the end of a run; "continue" there means a step had no budget left to draft."""
    status = decide(state, config, score)
    return "budget" if status == "continue" else status


def result_record(
    state: Mapping[str, Any], config: GraphConfig, answer: str | None, score: float | None, status: str
) -> ResultRecord:
    """The finished problem's record; the runner adds correctness and seconds."""
    drafts = state.get("drafts", [])
    return {
        "answer": answer,
        "score": score,
        "status": status,
        "accepted": status == "accept",
        "rounds": state.get("round", 0),
        "drafts": len(drafts),
        "failed_drafts": sum(1 for d in drafts if not d.get("ok")),
        "llm_calls": state.get("llm_calls", 0),
        "generated_tokens": state.get("generated_tokens", 0),
        "mode": config.mode,
        "errors": list(state.get("errors", [])),
    }


def finish(record: ResultRecord) -> dict[str, Any]:
    """The update of a graph's finalize node: its path entry and the result."""
    emit("result", answer=record["answer"], score=record["score"], status=record["status"])
    return {"path": ["finalize"], "result": record}


def finalize(state: BaseState, runtime: Runtime[GraphContext[Any]]) -> dict[str, Any]:
    """Best-of-N over every draft of every round; the status decided on that draft's score."""
    config = runtime.context.config
    best = best_draft(state.get("drafts", []))
    score = best["score"] if best else None
    answer = best["answer"] if best else None
    return finish(result_record(state, config, answer, score, final_status(state, config, score)))
