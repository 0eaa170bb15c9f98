"""Arithmetic levels, expression rendering/parsing, and worked solutions."""

from __future__ import annotations

import ast
import operator
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from verbalrl.tasks import ArithmeticTask, get_task
from verbalrl.tasks.expressions import (
    BinOp,
    Num,
    evaluate,
    explain_operation,
    parse,
    random_expression,
    render,
    solution_lines,
)

_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}


def python_value(text: str) -> int:
    """Evaluate with Python's own parser: an independent oracle for precedence and parentheses."""

    def walk(node: ast.AST) -> int:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](walk(node.left), walk(node.right))
        raise AssertionError(f"unexpected node {ast.dump(node)}")

    return walk(ast.parse(text, mode="eval"))


def expression_of(question: str) -> str:
    return question.removeprefix("What is ").removesuffix("?")


@pytest.mark.parametrize(
    ("level", "low", "high", "ops"),
    [(1, 0, 9, {"+"}), (2, 10, 99, {"+"}), ("sum30", 2, 30, {"+"}), (3, 10, 99, {"+", "-", "*"})],
)
def test_binary_levels_draw_from_their_ranges(level, low, high, ops) -> None:
    task = get_task("arithmetic", level=level)
    seen_ops = set()
    for split in ("train", "test"):
        for problem in task.problems(split, n=200, seed=0):
            a, op, b = expression_of(problem.question).split()
            seen_ops.add(op)
            assert low <= int(a) <= high and low <= int(b) <= high
            assert int(problem.answer) == python_value(expression_of(problem.question))
            assert int(problem.answer) >= 0
            assert problem.meta["level"] == level
    assert seen_ops == ops


def test_one_digit_space_is_split_exactly_and_requests_beyond_it_return_all() -> None:
    task = get_task("arithmetic", level=1)
    train = task.problems("train", n=1000, seed=0)
    test = task.problems("test", n=1000, seed=0)
    # All 100 sums a + b with a, b in 0..9, each in exactly one split.
    assert len(train) + len(test) == 100
    assert {p.question for p in train} | {p.question for p in test} == {
        f"What is {a} + {b}?" for a in range(10) for b in range(10)
    }
    assert 20 <= len(test) <= 80  # the hash partition is roughly even


def test_split_membership_does_not_depend_on_seed_or_count() -> None:
    task = get_task("arithmetic", level="sum30")
    test_any_seed = {p.question for s in range(5) for p in task.problems("test", n=80, seed=s)}
    train_any_seed = {p.question for s in range(5) for p in task.problems("train", n=240, seed=s)}
    assert not test_any_seed & train_any_seed


def test_sum30_recipe_has_room_for_the_measured_setup() -> None:
    # DESIGN.md measures 240 training and 80 test problems.
    task = get_task("arithmetic", level="sum30")
    assert len(task.problems("train", n=240, seed=0)) == 240
    assert len(task.problems("test", n=80, seed=0)) == 80


def test_level_four_is_multi_step_with_parentheses_and_correct_values() -> None:
    task = get_task("arithmetic", level=4)
    for problem in task.problems("test", n=100, seed=1):
        text = expression_of(problem.question)
        assert "(" in text and sum(text.count(op) for op in "+-*") >= 2
        assert int(problem.answer) == python_value(text)
        reference = task.reference_solution(problem)
        assert reference is not None
        assert len(reference.splitlines()) >= 4  # intro, one line per step, answer


@pytest.mark.parametrize("level", [0, 5, "sum31", "hard", 2.5, None])
def test_bad_level_is_a_validation_error_naming_level(level) -> None:
    with pytest.raises(ValidationError, match="level"):
        get_task("arithmetic", level=level)


def test_level_given_as_text_is_accepted() -> None:
    assert get_task("arithmetic", level="3").level == 3  # type: ignore[attr-defined]


def test_unknown_option_is_named() -> None:
    with pytest.raises(ValidationError, match="levle"):
        get_task("arithmetic", levle=2)


def test_reference_solution_falls_back_to_the_question_text() -> None:
    task = ArithmeticTask(level=4)
    problem = task.problems("train", n=1, seed=0)[0]
    bare = problem.model_copy(update={"meta": {}})
    assert task.reference_solution(bare) == task.reference_solution(problem)
    junk = problem.model_copy(update={"meta": {}, "question": "What is two plus two?"})
    assert task.reference_solution(junk) is None


def test_worked_solution_reduces_innermost_first() -> None:
    expr = parse("(12 + 7) * 3 - 15")
    assert solution_lines(expr)[1:] == [
        "12 + 7 = 19, so the expression becomes 19 * 3 - 15.",
        "19 * 3 = 10 * 3 + 9 * 3 = 30 + 27 = 57, so the expression becomes 57 - 15.",
        "57 - 15 = 57 - 10 - 5 = 47 - 5 = 42.",
    ]


@given(
    op=st.sampled_from(["+", "-", "*"]),
    a=st.integers(min_value=0, max_value=999),
    b=st.integers(min_value=0, max_value=999),
)
def test_every_equation_in_an_explanation_is_true(op: str, a: int, b: int) -> None:
    parts = [p.strip() for p in explain_operation(op, a, b).split("=")]
    values = [python_value(p) for p in parts]
    assert len(set(values)) == 1
    assert values[-1] == python_value(f"{a} {op} {b}")


@given(st.integers(min_value=0, max_value=2**32), st.integers(min_value=0, max_value=4))
def test_render_parse_round_trip_matches_python(seed: int, n_ops: int) -> None:
    expr = random_expression(random.Random(seed), n_ops, 0, 30)
    text = render(expr)
    assert parse(text) == expr
    assert evaluate(expr) == python_value(text)


def test_render_keeps_needed_parentheses() -> None:
    assert render(BinOp("-", Num(9), BinOp("-", Num(5), Num(2)))) == "9 - (5 - 2)"
    assert render(BinOp("*", BinOp("+", Num(1), Num(2)), Num(3))) == "(1 + 2) * 3"
    assert render(BinOp("+", Num(1), BinOp("*", Num(2), Num(3)))) == "1 + 2 * 3"


@pytest.mark.parametrize("bad", ["", "1 +", "(1 + 2", "1 + 2)", "1 / 2", "a + 1"])
def test_parse_rejects_malformed_text(bad: str) -> None:
    with pytest.raises(ValueError):
        parse(bad)
