"""Integer arithmetic expressions: build, render, parse, evaluate, and explain step by step.

In scope: `+`, `-`, `*` over non-negative integer literals with parentheses;
a renderer that writes only the parentheses the tree needs (and always those
around a right operand of equal precedence, so reading left to right follows
the tree); a parser that inverts it; and worked-solution text that reduces
one operation per line, innermost first. Left out: division (keeps answers
integral) and the problem families themselves (see `arithmetic.py`).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import TypeAlias

PRECEDENCE: dict[str, int] = {"+": 1, "-": 1, "*": 2}
OPERATORS: tuple[str, ...] = ("+", "-", "*")


@dataclass(frozen=True)
class Num:
    value: int


@dataclass(frozen=True)
class BinOp:
    op: str
    left: Expr
    right: Expr


Expr: TypeAlias = Num | BinOp


def apply(op: str, a: int, b: int) -> int:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    raise ValueError(f"unknown operator {op!r}; expected one of {OPERATORS}")


def evaluate(expr: Expr) -> int:
    if isinstance(expr, Num):
        return expr.value
    return apply(expr.op, evaluate(expr.left), evaluate(expr.right))


def render(expr: Expr) -> str:
    """Infix text with minimal parentheses, e.g. "(12 + 7) * 3 - 15"."""
    if isinstance(expr, Num):
        return str(expr.value)
    prec = PRECEDENCE[expr.op]
    left = render(expr.left)
    if isinstance(expr.left, BinOp) and PRECEDENCE[expr.left.op] < prec:
        left = f"({left})"
    right = render(expr.right)
    # Why <=: "a - (b - c)" needs them, and "a + (b + c)" keeps the tree's order readable.
    if isinstance(expr.right, BinOp) and PRECEDENCE[expr.right.op] <= prec:
        right = f"({right})"
    return f"{left} {expr.op} {right}"


_TOKEN = re.compile(r"\s*(\d+|[-+*()])")


def parse(text: str) -> Expr:
    """Parse what `render` writes (left-associative, `*` binds tighter); ValueError if malformed."""
    tokens: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ValueError(f"unexpected character {text[pos]!r} at {pos} in {text!r}")
        tokens.append(match.group(1))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    expr, rest = _parse_sum(tokens)
    if rest:
        raise ValueError(f"unexpected {rest[0]!r} in {text!r}")
    return expr


def _parse_sum(tokens: list[str]) -> tuple[Expr, list[str]]:
    expr, tokens = _parse_product(tokens)
    while tokens and tokens[0] in ("+", "-"):
        op = tokens[0]
        right, tokens = _parse_product(tokens[1:])
        expr = BinOp(op, expr, right)
    return expr, tokens


def _parse_product(tokens: list[str]) -> tuple[Expr, list[str]]:
    expr, tokens = _parse_atom(tokens)
    while tokens and tokens[0] == "*":
        right, tokens = _parse_atom(tokens[1:])
        expr = BinOp("*", expr, right)
    return expr, tokens


def _parse_atom(tokens: list[str]) -> tuple[Expr, list[str]]:
    if not tokens:
        raise ValueError("expression ends too early")
    head = tokens[0]
    if head.isdigit():
        return Num(int(head)), tokens[1:]
    if head == "(":
        expr, rest = _parse_sum(tokens[1:])
        if not rest or rest[0] != ")":
            raise ValueError("missing closing parenthesis")
        return expr, rest[1:]
    raise ValueError(f"unexpected {head!r}")


def random_expression(rng: random.Random, n_ops: int, low: int, high: int) -> Expr:
    """A random tree with `n_ops` operators and literals in [low, high]."""
    if n_ops == 0:
        return Num(rng.randint(low, high))
    left_ops = rng.randint(0, n_ops - 1)
    return BinOp(
        rng.choice(OPERATORS),
        random_expression(rng, left_ops, low, high),
        random_expression(rng, n_ops - 1 - left_ops, low, high),
    )


def intermediate_values(expr: Expr) -> list[int]:
    """The value of every operator node (used to reject negative or huge intermediates)."""
    if isinstance(expr, Num):
        return []
    return [
        *intermediate_values(expr.left),
        *intermediate_values(expr.right),
        evaluate(expr),
    ]


def explain_operation(op: str, a: int, b: int) -> str:
    """One line computing `a op b` the way a person would by hand, e.g. "47 + 38 = 77 + 8 = 85"."""
    result = apply(op, a, b)
    head = f"{a} {op} {b}"
    if op in ("+", "-") and b >= 10 and b % 10 and a >= 0:
        tens, ones = b - b % 10, b % 10
        partial = apply(op, a, tens)
        return f"{head} = {a} {op} {tens} {op} {ones} = {partial} {op} {ones} = {result}"
    if op == "*" and a >= 10 and b >= 10 and b % 10:
        tens, ones = b - b % 10, b % 10
        return f"{head} = {a} * {tens} + {a} * {ones} = {a * tens} + {a * ones} = {result}"
    if op == "*" and a >= 10 and 1 < b < 10 and a % 10:
        tens, ones = a - a % 10, a % 10
        return f"{head} = {tens} * {b} + {ones} * {b} = {tens * b} + {ones * b} = {result}"
    return f"{head} = {result}"


def reduce_once(expr: Expr) -> tuple[Expr, tuple[str, int, int]] | None:
    """Evaluate the first operation whose operands are both numbers (innermost, leftmost).

    Returns the smaller tree and the (op, a, b) evaluated, or None for a number.
    """
    if isinstance(expr, Num):
        return None
    if isinstance(expr.left, Num) and isinstance(expr.right, Num):
        step = (expr.op, expr.left.value, expr.right.value)
        return Num(apply(*step)), step
    if isinstance(expr.left, BinOp):
        reduced = reduce_once(expr.left)
        if reduced is not None:
            return BinOp(expr.op, reduced[0], expr.right), reduced[1]
    reduced = reduce_once(expr.right)
    if reduced is None:  # unreachable for a BinOp with a BinOp child; kept for totality
        return None
    return BinOp(expr.op, expr.left, reduced[0]), reduced[1]


def solution_lines(expr: Expr) -> list[str]:
    """Worked solution: one evaluated operation per line, ending with the value (no Answer line)."""
    if isinstance(expr, Num):
        return [f"The value is {expr.value}."]
    lines: list[str] = []
    current: Expr = expr
    multi = isinstance(expr.left, BinOp) or isinstance(expr.right, BinOp)
    if multi:
        lines.append(
            f"Evaluate {render(expr)}: parentheses first, then multiplication, "
            "then addition and subtraction from left to right."
        )
    while isinstance(current, BinOp):
        reduced = reduce_once(current)
        if reduced is None:
            break
        current, (op, a, b) = reduced
        line = explain_operation(op, a, b)
        if multi and isinstance(current, BinOp):
            line += f", so the expression becomes {render(current)}."
        elif multi:
            line += "."
        lines.append(line)
    return lines
