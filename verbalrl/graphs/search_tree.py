"""The search tree of step search as plain data: nodes, scoring, beam/DVTS selection, UCT, backup.

In scope: making nodes (`root_node`, `child_node`: a child is its parent's
solution plus one step), when a node is finished (an answer line, the model
stopped, or too deep), applying step scores (`with_scores`: value and
pruning), ranking with deterministic ties (higher value first, then the
earlier-created node), beam selection (`select_beam`: the best open children,
duplicates dropped), DVTS selection (`select_dvts`: per subtree its best
child), and MCTS (`uct`, `select_leaf`, `backup`). Nothing here calls a
model or imports LangGraph; the graph (`search.py`) sends the model calls
and keeps the tree in its state, a list of `NodeRecord`s.

Left out: prompts, budgets, model and verifier calls (`search.py`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from ..tasks.answers import find_answer_segment, split_steps
from ..verifier.process import Aggregation, aggregate
from .state import NodeRecord

ROOT = "n0"


def node_index(node_id: str) -> int:
    """The creation order of a node (`n7` -> 7): what breaks ties."""
    return int(node_id[1:])


def root_node() -> NodeRecord:
    """The empty solution; open, never scored."""
    return {
        "id": ROOT, "parent": None, "round": 0, "depth": 0, "kind": "root", "step": "", "text": "",
        "subtree": 0, "scores": None, "value": None, "status": "open", "tokens": 0, "visits": 0,
        "value_sum": 0.0, "refined": False,
    }  # fmt: skip


def has_answer(step: str) -> bool:
    """Whether `step` marks a final answer (`Answer:`, `####`, `\\boxed{}`, "the answer is")."""
    return bool(step.strip()) and find_answer_segment(step) is not None


def join_steps(prefix: str, step: str) -> str:
    """A solution text from the one before and a new step (blank lines dropped, lines stripped)."""
    return "\n".join([*split_steps(prefix), *split_steps(step)])


def child_node(
    node_id: str,
    parent: NodeRecord,
    step: str,
    *,
    round: int,
    tokens: int,
    kind: str = "step",
    subtree: int | None = None,
    max_depth: int | None = None,
) -> NodeRecord:
    """A new, unscored node: `parent`'s solution plus `step` (for `refine`: `step` is a whole new text).

    It is finished when the step has an answer, when the model returned nothing
    (the parent's solution is complete as it is) or at `max_depth` steps.
    """
    base = "" if kind == "refine" else parent["text"]
    text = join_steps(base, step)
    depth = len(split_steps(text))
    stopped = not step.strip()
    finished = stopped or has_answer(step) or (max_depth is not None and depth >= max_depth)
    return {
        "id": node_id, "parent": parent["id"], "round": round, "depth": depth, "kind": kind,
        "step": "\n".join(split_steps(step)), "text": text,
        "subtree": parent["subtree"] if subtree is None else subtree,
        "scores": None, "value": None, "status": "finished" if finished else "open", "tokens": tokens,
        "visits": 0, "value_sum": 0.0, "refined": False,
    }  # fmt: skip


def with_scores(
    node: NodeRecord, scores: Sequence[float], how: Aggregation, prune_below: float
) -> NodeRecord:
    """`node` with its step scores and value; an open node valued at or below `prune_below` is pruned."""
    value = aggregate(scores, how)
    status = node["status"]
    if status == "open" and value <= prune_below:
        status = "pruned"
    return {**node, "scores": [float(s) for s in scores], "value": value, "status": status}


def rank_key(node: Mapping[str, object]) -> tuple[float, int]:
    """Sort key: higher value first, then the earlier-created node (deterministic ties)."""
    value = node.get("value")
    return (-(float(value) if isinstance(value, int | float) else -math.inf), node_index(str(node["id"])))


def ranked(nodes: Iterable[NodeRecord]) -> list[NodeRecord]:
    return sorted(nodes, key=rank_key)


def select_beam(children: Iterable[NodeRecord], width: int) -> list[str]:
    """Beam search: ids of the `width` best open children (a repeat of a better one's text is dropped)."""
    kept: list[str] = []
    seen: set[str] = set()
    for node in ranked(c for c in children if c["status"] == "open"):
        if node["text"] in seen:
            continue
        seen.add(node["text"])
        kept.append(node["id"])
        if len(kept) == width:
            break
    return kept


def select_dvts(children: Iterable[NodeRecord]) -> list[str]:
    """DVTS: per subtree, its best child by value; the subtree goes on from it when it is open.

    A best child that is finished ends its subtree (its solution is a candidate); a
    pruned best child means every child of the subtree was pruned: a dead end.
    Ids are returned best first.
    """
    best: dict[int, NodeRecord] = {}
    for node in ranked(children):
        best.setdefault(node["subtree"], node)
    return [n["id"] for n in ranked(best.values()) if n["status"] == "open"]


# ----------------------------------------------------------------- MCTS
def children_of(nodes: Iterable[NodeRecord]) -> dict[str, list[NodeRecord]]:
    """parent id -> its children in creation order."""
    out: dict[str, list[NodeRecord]] = {}
    for node in sorted(nodes, key=lambda n: node_index(n["id"])):
        if node["parent"] is not None:
            out.setdefault(node["parent"], []).append(node)
    return out


def uct(child: NodeRecord, parent_visits: int, exploration: float) -> float:
    """Mean value plus the exploration bonus; an unvisited child comes first (infinity)."""
    if child["visits"] == 0:
        return math.inf
    mean = child["value_sum"] / child["visits"]
    return mean + exploration * math.sqrt(math.log(max(parent_visits, 1)) / child["visits"])


def exhausted(node_id: str, by_id: Mapping[str, NodeRecord], kids: Mapping[str, list[NodeRecord]]) -> bool:
    """Nothing left to search below: finished or pruned, or every child exhausted."""
    node = by_id[node_id]
    if node["status"] != "open":
        return True
    below = kids.get(node_id, [])
    return bool(below) and all(exhausted(c["id"], by_id, kids) for c in below)


def select_leaf(nodes: Sequence[NodeRecord], exploration: float) -> str | None:
    """MCTS selection: from the root, the child with the highest UCT until an unexpanded open node.

    Exhausted subtrees are skipped; ties go to the earlier-created child. None when
    the whole tree is exhausted.
    """
    by_id = {n["id"]: n for n in nodes}
    kids = children_of(nodes)
    if ROOT not in by_id or exhausted(ROOT, by_id, kids):
        return None
    current = by_id[ROOT]
    while kids.get(current["id"]):
        options = [c for c in kids[current["id"]] if not exhausted(c["id"], by_id, kids)]
        current = max(options, key=lambda c: (uct(c, current["visits"], exploration), -node_index(c["id"])))
    return current["id"]


def backup(
    nodes: Sequence[NodeRecord], new: Sequence[NodeRecord], values: Sequence[float]
) -> list[NodeRecord]:
    """MCTS backpropagation: each new child counts as one visit with its value, added to it and to
    every ancestor. Returns the changed records (the new children and their ancestors)."""
    by_id = {n["id"]: n for n in nodes}
    changed: dict[str, NodeRecord] = {}
    for child, value in zip(new, values, strict=True):
        node_id: str | None = child["id"]
        while node_id is not None:
            node = changed.get(node_id) or by_id[node_id]
            changed[node_id] = {**node, "visits": node["visits"] + 1, "value_sum": node["value_sum"] + value}
            node_id = node["parent"]
    return [changed[k] for k in sorted(changed, key=node_index)]


def path_to(nodes: Sequence[NodeRecord], node_id: str) -> list[str]:
    """The ids from the root down to `node_id`."""
    by_id = {n["id"]: n for n in nodes}
    path: list[str] = []
    current: str | None = node_id
    while current is not None:
        path.append(current)
        current = by_id[current]["parent"]
    return path[::-1]
