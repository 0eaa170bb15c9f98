"""The search tree's pure logic: nodes, finishing, pruning, beam/DVTS selection, UCT and backup."""

from __future__ import annotations

import math

import pytest

from verbalrl.graphs.search_tree import (
    backup,
    child_node,
    children_of,
    exhausted,
    path_to,
    root_node,
    select_beam,
    select_dvts,
    select_leaf,
    uct,
    with_scores,
)
from verbalrl.graphs.state import NodeRecord


def node(i: int, parent: NodeRecord, step: str, value: float | None = None, **fields) -> NodeRecord:
    made = child_node(f"n{i}", parent, step, round=1, tokens=3)
    if value is not None:
        made = with_scores(made, [value], "last", 0.0)
    return {**made, **fields}  # type: ignore[typeddict-item]


def test_a_child_extends_its_parent_and_finishes_on_an_answer_an_empty_step_or_max_depth() -> None:
    root = root_node()
    a = child_node("n1", root, "23 + 18 = 41", round=1, tokens=7)
    assert (a["text"], a["depth"], a["status"], a["parent"]) == ("23 + 18 = 41", 1, "open", "n0")
    b = child_node("n2", a, "  41 - 7 = 34  ", round=2, tokens=7)
    assert b["text"] == "23 + 18 = 41\n41 - 7 = 34" and b["step"] == "41 - 7 = 34" and b["depth"] == 2
    assert child_node("n3", b, "Answer: 34", round=3, tokens=3)["status"] == "finished"
    stopped = child_node("n4", b, "", round=3, tokens=1)  # the model added nothing: complete as it is
    assert stopped["status"] == "finished" and stopped["text"] == b["text"]
    assert child_node("n5", b, "34 + 1 = 35", round=3, tokens=5, max_depth=3)["status"] == "finished"
    assert child_node("n6", b, "34 + 1 = 35", round=3, tokens=5, max_depth=4)["status"] == "open"
    refined = child_node("n7", a, "1 + 1 = 2\nAnswer: 2", round=3, tokens=5, kind="refine")
    assert refined["text"] == "1 + 1 = 2\nAnswer: 2" and refined["status"] == "finished"


def test_scores_set_the_value_by_aggregation_and_prune_open_nodes_at_or_below_the_floor() -> None:
    a = child_node("n1", root_node(), "x", round=1, tokens=1)
    assert with_scores(a, [0.9, 0.4], "last", 0.0)["value"] == pytest.approx(0.4)
    assert with_scores(a, [0.9, 0.5], "prod", 0.0)["value"] == pytest.approx(0.45)
    assert with_scores(a, [0.3, 0.9], "min", 0.0)["value"] == pytest.approx(0.3)
    assert with_scores(a, [1.0, 0.0], "last", 0.0)["status"] == "pruned"
    assert with_scores(a, [0.2], "last", 0.2)["status"] == "pruned"
    assert with_scores(a, [0.21], "last", 0.2)["status"] == "open"
    done = child_node("n2", root_node(), "Answer: 3", round=1, tokens=1)
    assert with_scores(done, [0.0], "last", 0.0)["status"] == "finished"  # a candidate, even at 0


def test_beam_keeps_the_best_open_children_ties_to_the_earlier_and_drops_duplicates() -> None:
    root = root_node()
    children = [
        node(1, root, "a", 0.5),
        node(2, root, "b", 0.9),
        node(3, root, "c", 0.5),
        node(4, root, "b", 0.9),  # the same text as n2
        node(5, root, "Answer: 1", 0.99),  # finished: leaves the beam
        node(6, root, "d", 0.0),  # pruned
    ]
    assert select_beam(children, 2) == ["n2", "n1"]
    assert select_beam(children, 3) == ["n2", "n1", "n3"]
    assert select_beam(children, 10) == ["n2", "n1", "n3"]
    assert select_beam([children[5]], 2) == []  # a dead end


def test_dvts_goes_on_from_each_subtrees_best_child_and_ends_subtrees_whose_best_is_finished() -> None:
    root = root_node()
    children = [
        node(1, root, "a", 0.4, subtree=0),
        node(2, root, "b", 0.8, subtree=0),
        node(3, root, "Answer: 5", 0.9, subtree=1),  # best of subtree 1 is finished: subtree 1 ends
        node(4, root, "c", 0.7, subtree=1),
        node(5, root, "d", 0.6, subtree=2),
        node(6, root, "e", 0.6, subtree=2),  # tie: the earlier child wins
        node(7, root, "f", 0.0, subtree=3),  # every child pruned: subtree 3 is a dead end
    ]
    assert select_dvts(children) == ["n2", "n5"]


def test_uct_prefers_unvisited_children_then_mean_plus_exploration() -> None:
    root = root_node()
    fresh = node(1, root, "a", 0.5)
    assert uct(fresh, 4, 1.0) == math.inf
    seen = {**fresh, "visits": 2, "value_sum": 1.2}
    assert uct(seen, 4, 1.0) == pytest.approx(0.6 + math.sqrt(math.log(4) / 2))
    assert uct(seen, 4, 0.0) == pytest.approx(0.6)


def test_mcts_backup_select_leaf_and_exhaustion() -> None:
    root = root_node()
    a, b = node(1, root, "a", 0.2), node(2, root, "b", 0.6)
    tree = [root, a, b]
    tree = merge(tree, backup(tree, [a, b], [0.2, 0.6]))
    by_id = {n["id"]: n for n in tree}
    assert (by_id["n0"]["visits"], by_id["n0"]["value_sum"]) == (2, pytest.approx(0.8))
    assert (by_id["n1"]["visits"], by_id["n2"]["visits"]) == (1, 1)
    # c = 0: the higher mean wins; c large: both bonuses are equal (one visit each), so the mean still decides
    assert select_leaf(tree, 0.0) == "n2"
    c, d = node(3, by_id["n2"], "c", 0.1), node(4, by_id["n2"], "Answer: 9", 0.9)
    tree = merge([*tree, c, d], backup([*tree, c, d], [c, d], [0.1, 0.9]))
    by_id = {n["id"]: n for n in tree}
    assert (by_id["n0"]["visits"], by_id["n2"]["visits"]) == (4, 3)
    assert by_id["n2"]["value_sum"] == pytest.approx(1.6) and by_id["n0"]["value_sum"] == pytest.approx(1.8)
    # n2's mean 0.533 beats n1's 0.2 without exploration; below n2, n4 is finished, so n3 is the leaf
    assert select_leaf(tree, 0.0) == "n3"
    # with a big exploration constant the less visited n1 wins
    assert select_leaf(tree, 10.0) == "n1"
    assert path_to(tree, "n3") == ["n0", "n2", "n3"]
    # everything finished or pruned: nothing left
    closed = [{**n, "status": "pruned"} if n["id"] in ("n1", "n3") else n for n in tree]
    assert exhausted("n0", {n["id"]: n for n in closed}, children_of(closed))
    assert select_leaf(closed, 1.0) is None


def test_mcts_ties_go_to_the_earlier_child() -> None:
    root = root_node()
    a, b = node(1, root, "a", 0.5), node(2, root, "b", 0.5)
    tree = merge([root, a, b], backup([root, a, b], [a, b], [0.5, 0.5]))
    assert select_leaf(tree, 1.0) == "n1"
    assert select_leaf([root], 1.0) == "n0"  # nothing expanded yet: the root


def merge(nodes: list[NodeRecord], changed: list[NodeRecord]) -> list[NodeRecord]:
    by_id = {n["id"]: n for n in nodes} | {n["id"]: n for n in changed}
    return list(by_id.values())
