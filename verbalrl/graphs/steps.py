"""The steps the three graphs share: sampling within budget, verifying, deciding, the result.

In scope: turning a node's model calls into drafts plus a compute update
(LLM calls = sequences generated or scored, as the verifier's `Usage` counts
them; generated tokens from `Completion.completion_tokens` and `Usage`),
clamping a request to what is left of the budget, scoring unscored drafts
with the verifier (a verifier error is recorded and stops the loop, never
crashes it), the accept/stop decision, and the result record. Left out: the
graph wiring (one file per graph).

Nothing here reads `Problem.answer`: decisions use verifier scores only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from ..agents.base import parse_draft
from ..llm.base import LLM, Completion, GenerationConfig, Prompt
from ..selection import BestOfN, Scored, score_candidates
from ..tasks.base import Problem, Task
from ..verifier.base import Verifier
from .config import GraphConfig
from .state import Draft

Decision = Literal["accept", "continue", "max_rounds", "budget", "verifier_error"]


def problem_of(state: Mapping[str, Any]) -> Problem:
    return Problem.model_validate(state["problem"])


def resolve_task(task: Task | None, problem: Problem) -> Task:
    """The task given to the factory, else the registered task named by the problem."""
    if task is not None:
        return task
    from ..tasks.registry import get_task

    return get_task(problem.task)


def calls_left(state: Mapping[str, Any], config: GraphConfig) -> int | None:
    if config.max_llm_calls is None:
        return None
    return max(0, config.max_llm_calls - state.get("llm_calls", 0))


def tokens_left(state: Mapping[str, Any], config: GraphConfig) -> int | None:
    if config.max_tokens is None:
        return None
    return max(0, config.max_tokens - state.get("generated_tokens", 0))


def budget_exhausted(state: Mapping[str, Any], config: GraphConfig) -> bool:
    """True when either per-problem budget is used up."""
    return calls_left(state, config) == 0 or tokens_left(state, config) == 0


def clamp(state: Mapping[str, Any], config: GraphConfig, want: int, max_new_tokens: int) -> tuple[int, int]:
    """(sequences, max_new_tokens per sequence) that fit what is left of both budgets."""
    calls = calls_left(state, config)
    n = want if calls is None else min(want, calls)
    tokens = tokens_left(state, config)
    if tokens is not None and n > 0:
        max_new_tokens = max(1, min(max_new_tokens, tokens // n)) if tokens >= n else 1
        n = min(n, tokens)
    return n, max_new_tokens


def derive_seed(seed: int | None, salt: str) -> int | None:
    """A call's seed from the run's base `seed` and what the call is (problem id, step, round).

    A fixed seed for every call would give every problem the same random stream, so samples would
    be correlated across problems; a derived one keeps problems independent and reruns identical.
    """
    if seed is None or not salt:
        return seed
    digest = hashlib.blake2b(f"{seed}/{salt}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little")


def generation(
    config: GraphConfig,
    n: int,
    max_new_tokens: int,
    temperature: float | None = None,
    *,
    salt: str = "",
) -> GenerationConfig:
    """Sampling settings of one call; `salt` names the call (e.g. `f"{problem.id}/solve"`) for its seed."""
    return GenerationConfig(
        n=n,
        temperature=config.temperature if temperature is None else temperature,
        top_p=config.top_p,
        max_new_tokens=max_new_tokens,
        seed=derive_seed(config.seed, salt),
    )


def sample(
    llm: LLM, prompts: Sequence[Prompt], gen: GenerationConfig
) -> tuple[list[list[Completion]], dict[str, Any]]:
    """Generate; return the completions and the compute update (calls, generated tokens)."""
    rows = llm.generate(list(prompts), gen)
    calls = sum(len(row) for row in rows)
    tokens = sum(c.completion_tokens for row in rows for c in row)
    return rows, {"llm_calls": calls, "generated_tokens": tokens}


def new_draft(task: Task, completion: Completion, *, id: str, round: int, agent: int, kind: str) -> Draft:
    """A draft record from one completion; no answer in it makes a failed draft (score 0)."""
    parsed = parse_draft(task, completion.text)
    return {
        "id": id,
        "round": round,
        "agent": agent,
        "kind": kind,
        "text": parsed.text,
        "answer": parsed.answer,
        "ok": parsed.ok,
        "error": parsed.error,
        "score": None if parsed.ok else 0.0,
        "tokens": completion.completion_tokens,
    }


def verify_update(verifier: Verifier, problem: Problem, drafts: Sequence[Draft]) -> dict[str, Any]:
    """Score every unscored draft in one verifier call; the update for the state.

    A verifier exception is caught (`score_candidates`): the drafts stay
    unscored, the error is recorded, and `verifier_failed` makes the router
    stop with what it has.
    """
    todo = [d for d in drafts if d.get("score") is None]
    if not todo:
        return {}
    scoring = score_candidates(verifier, problem, [d["text"] for d in todo])
    if scoring.error is not None:
        return {"errors": [scoring.error], "verifier_failed": True}
    scored = []
    for draft, score, detail in zip(todo, scoring.scores, scoring.details, strict=False):
        item = {**draft, "score": score}
        rationales = detail.get("rationales") if isinstance(detail, dict) else None
        if isinstance(rationales, list) and rationales and isinstance(rationales[0], str):
            item["rationale"] = rationales[0]
        scored.append(item)
    usage = scoring.usage
    return {
        "drafts": scored,
        "llm_calls": int(usage.llm_calls) if usage else 0,
        "generated_tokens": int(usage.generated_tokens) if usage else 0,
    }


def best_draft(drafts: Sequence[Draft]) -> Draft | None:
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


def result_record(
    state: Mapping[str, Any], config: GraphConfig, answer: str | None, score: float | None, status: str
) -> dict[str, Any]:
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


def graph_options(config: GraphConfig) -> dict[str, Any]:
    """Run options for `invoke`/`stream`: enough recursion for `max_rounds` rounds of any graph."""
    return {"recursion_limit": 8 * config.max_rounds + 20}
