"""Graph state: TypedDicts with reducers in the type, and the plain-data records they hold.

In scope: the state of each graph (only strings, numbers, lists and dicts, so
any checkpointer persists it), the `upsert` reducer (drafts are re-sent with
their scores filled in and replace themselves by id), and `max` for the round
counter written by parallel branches. Left out: the nodes.

A draft is a dict: id, round, agent, kind, text, answer, ok, error, score
(None until verified; 0.0 for a draft without an answer, which is never sent
to the verifier), tokens and, from a GenRM-CoT verifier, a rationale.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

Draft = dict[str, Any]


def upsert(left: list[dict[str, Any]], right: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge by `id`: a record with a known id replaces it in place, a new one is appended."""
    if not right:
        return left
    out = list(left)
    index = {item["id"]: i for i, item in enumerate(out)}
    for item in right:
        i = index.get(item["id"])
        if i is None:
            index[item["id"]] = len(out)
            out.append(item)
        else:
            out[i] = item
    return out


def take_max(left: int, right: int) -> int:
    """The larger round number (parallel branches all write the round they drafted in)."""
    return max(left or 0, right or 0)


class BaseState(TypedDict, total=False):
    """What every graph keeps: the problem, drafts, compute used, the node path and the result."""

    problem: dict[str, Any]  # Problem.model_dump(); prompts only ever see agents.blind(problem)
    round: Annotated[int, take_max]
    drafts: Annotated[list[Draft], upsert]
    llm_calls: Annotated[int, operator.add]
    generated_tokens: Annotated[int, operator.add]
    path: Annotated[list[str], operator.add]
    errors: Annotated[list[str], operator.add]
    verifier_failed: bool
    result: dict[str, Any]


class SingleState(BaseState, total=False):
    critiques: Annotated[list[dict[str, Any]], operator.add]


class MultiState(BaseState, total=False):
    pass


class ReflectiveState(BaseState, total=False):
    memory_context: str
    recalled: int
    lessons: Annotated[list[str], operator.add]
    stored: Annotated[list[str], operator.add]
    distilled: Annotated[int, operator.add]


def initial_state(problem: Any) -> dict[str, Any]:
    """The input of any graph for one problem (a `Problem` or its dict)."""
    data = problem.model_dump(mode="json") if hasattr(problem, "model_dump") else dict(problem)
    return {"problem": data, "round": 0, "drafts": [], "llm_calls": 0, "generated_tokens": 0, "path": []}
