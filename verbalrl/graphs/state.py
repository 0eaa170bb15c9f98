"""Graph state: TypedDicts with reducers in the type, and the plain-data records they hold.

In scope: the records (`DraftRecord`, `CritiqueRecord`, `LessonRecord`,
`ResultRecord`), the state of each graph, the `upsert` reducer (drafts are
re-sent with their scores filled in and replace themselves by id), and
`take_max` for the round counter written by parallel branches. Left out: the
nodes, and the dependencies (model, verifier, memory: `context.py`).

Why TypedDicts and not pydantic models: the state must stay plain JSON-able
dicts, so any checkpointer persists it and readers (the runner, the CLI's
live view) use `d["score"]` and `d.get("answer")`. Why `typing_extensions`:
pydantic, which LangGraph uses for `get_input_jsonschema()`, refuses
`typing.TypedDict` on Python < 3.12.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, NotRequired

from typing_extensions import TypedDict


class DraftRecord(TypedDict):
    """One candidate solution. `score` is None until verified, 0.0 for a draft without an answer
    (never sent to the verifier); `rationale` comes from a GenRM-CoT verifier."""

    id: str  # r<round>-<i> (single, reflective) or r<round>-a<agent> (multi)
    round: int
    agent: int
    kind: str  # draft | revision | debate
    text: str
    answer: str | None
    ok: bool
    error: str | None
    score: float | None
    tokens: int
    rationale: NotRequired[str]


class CritiqueRecord(TypedDict):
    """A critique of one draft in one round; `source` is "critic" (an LLM call) or "verifier"."""

    draft_id: str
    round: int
    text: str
    ok: bool
    source: str


class LessonRecord(TypedDict):
    """The lesson the reflect node drew from one trial (the trial it belongs to, kept explicit)."""

    trial: int
    text: str
    ok: bool


class DemonstrationRecord(TypedDict):
    """A verified exemplar recalled for this problem, shown to the solver as a few-shot turn pair."""

    question: str
    solution: str


class ResultRecord(TypedDict):
    """A finished problem; the runner adds correctness and seconds. `stored` to `exemplar_stored`:
    reflective only; the last two: search only."""

    answer: str | None
    score: float | None
    status: str  # accept | max_rounds | budget | verifier_error (| error, written by the runner)
    accepted: bool
    rounds: int
    drafts: int
    failed_drafts: int
    llm_calls: int
    generated_tokens: int
    mode: str
    errors: list[str]
    stored: NotRequired[int]
    recalled: NotRequired[int]
    lessons: NotRequired[int]
    distilled: NotRequired[int]
    demonstrations: NotRequired[int]
    exemplar_stored: NotRequired[bool]
    verifier_calls: NotRequired[int]  # search: candidates the process verifier scored
    nodes: NotRequired[int]  # search: tree nodes created


class NodeRecord(TypedDict):
    """A node of the search tree: a partial (or finished) solution, one step longer than its parent.

    `text` is the whole solution so far (`step` is what this node added); `scores`
    are the process verifier's step scores of `text` (None until scored) and `value`
    their aggregate. `status`: open (may be expanded), finished (an answer line, or
    the model stopped: a candidate answer), pruned (scored at or below `prune_below`).
    `visits` / `value_sum`: MCTS statistics; `subtree`: the DVTS subtree (else 0).
    """

    id: str  # n<k>: k-th node created; n0 is the root (the empty solution)
    parent: str | None
    round: int  # the search iteration that created it (0: the root)
    depth: int  # steps in `text`
    kind: str  # root | step | rollout | refine
    step: str
    text: str
    subtree: int
    scores: list[float] | None
    value: float | None
    status: str
    tokens: int
    visits: int
    value_sum: float
    refined: bool


def upsert(left: list[DraftRecord], right: list[DraftRecord]) -> list[DraftRecord]:
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
    drafts: Annotated[list[DraftRecord], upsert]
    llm_calls: Annotated[int, operator.add]
    generated_tokens: Annotated[int, operator.add]
    path: Annotated[list[str], operator.add]
    errors: Annotated[list[str], operator.add]
    verifier_failed: bool
    result: ResultRecord


class SingleState(BaseState, total=False):
    critiques: Annotated[list[CritiqueRecord], operator.add]


class MultiState(BaseState, total=False):
    pass


class ReflectiveState(BaseState, total=False):
    memory_context: str
    demonstrations: list[DemonstrationRecord]  # recalled exemplars as turns (exemplar_style="turns")
    recalled: int
    exemplar_stored: bool  # this problem's accepted answer passed the gate: a future demonstration
    # The lesson texts in order: what the solver's retry prompt and the CLI's live view read.
    lessons: Annotated[list[str], operator.add]
    # The same lessons with the trial each belongs to: what store_failure picks its lesson by.
    reflections: Annotated[list[LessonRecord], operator.add]
    stored: Annotated[list[str], operator.add]  # memory ids written (the runner reports them)
    stored_now: bool  # the last store step wrote an experience: the distill step after it may run
    distilled: Annotated[int, operator.add]


class SearchState(BaseState, total=False):
    nodes: Annotated[list[NodeRecord], upsert]  # the whole tree, replaced by id when updated
    frontier: list[str]  # ids to expand next: the beams, the DVTS subtrees' leaves, the MCTS leaf
    refine_id: str | None  # mcts: the selected node to self-refine instead of expanding
    stopped: str | None  # why the search ends (set by select): done | dead_end | max_rounds | budget
    verifier_calls: Annotated[int, operator.add]  # candidates sent to the process verifier


def initial_state(problem: Any) -> dict[str, Any]:
    """The input of any graph for one problem (a `Problem` or its dict)."""
    data = problem.model_dump(mode="json") if hasattr(problem, "model_dump") else dict(problem)
    return {"problem": data, "round": 0, "drafts": [], "llm_calls": 0, "generated_tokens": 0, "path": []}
