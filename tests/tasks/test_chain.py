"""The chain task: problems, reference solutions and the step checker on hand-written cases."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from verbalrl.tasks import ChainTask, Problem, get_task, split_steps
from verbalrl.tasks.chain import running_totals


def chain_problem(text: str = "23 + 18 - 7 + 31") -> Problem:
    """A chain problem written by hand (the question alone: the checker parses it)."""
    numbers = text.split()
    value = int(numbers[0])
    for op, n in zip(numbers[1::2], numbers[2::2], strict=True):
        value = value + int(n) if op == "+" else value - int(n)
    return Problem(id="c-1", task="chain", split="test", question=f"Compute {text}.", answer=str(value))


RIGHT = "23 + 18 = 41\n41 - 7 = 34\n34 + 31 = 65\nAnswer: 65"


def statuses(text: str, problem: Problem | None = None) -> list[str]:
    return [label.status for label in ChainTask().check_steps(problem or chain_problem(), text)]


def test_a_right_solution_is_correct_at_every_line() -> None:
    assert statuses(RIGHT) == ["correct"] * 4
    assert ChainTask().prefix_labels(chain_problem(), RIGHT) == [True] * 4


def test_an_arithmetic_slip_is_wrong_and_carried_forward_stays_wrong() -> None:
    text = "23 + 18 = 41\n41 - 7 = 35\n35 + 31 = 66\nAnswer: 66"
    assert statuses(text) == ["correct", "wrong", "wrong", "wrong"]
    assert ChainTask().prefix_labels(chain_problem(), text) == [True, False, False, False]


def test_the_wrong_operation_or_operand_is_wrong_even_with_right_arithmetic() -> None:
    assert statuses("23 + 18 = 41\n41 + 7 = 48")[1] == "wrong"  # sign flipped
    assert statuses("23 + 18 = 41\n41 - 8 = 33")[1] == "wrong"  # operand misread
    assert statuses("18 + 23 = 41") == ["wrong"]  # not the chain's order


def test_garbled_and_prose_lines_are_unparseable_and_neutral_for_the_prefix() -> None:
    text = "Let's add step by step.\n23 + 18 = 41\n#@!? 12 ((\n41 - 7 = 34\n34 + 31 = 65\nAnswer: 65"
    assert statuses(text) == ["unparseable", "correct", "unparseable", "correct", "correct", "correct"]
    assert all(ChainTask().prefix_labels(chain_problem(), text))


def test_decorated_equations_are_read() -> None:
    text = "Step 1: 23 + 18 = 41.\n**Step 2:** 41 − 7 = 34\n- 34 + 31 = 65\n**Answer: 65**"
    assert statuses(text) == ["correct"] * 4


def test_an_answer_before_the_chain_is_done_is_wrong_even_if_the_number_matches() -> None:
    assert statuses("Answer: 65") == ["wrong"]
    assert statuses("23 + 18 = 41\nAnswer: 41") == ["correct", "wrong"]


def test_extra_equations_after_the_chain_are_wrong() -> None:
    assert statuses(RIGHT.replace("Answer: 65", "65 + 1 = 66"))[-1] == "wrong"


def test_a_recovered_step_after_a_slip_counts_but_the_prefix_label_stays_false() -> None:
    text = "23 + 18 = 41\n41 - 7 = 35\n41 - 7 = 34\n34 + 31 = 65\nAnswer: 65"
    assert statuses(text) == ["correct", "wrong", "correct", "correct", "correct"]
    assert ChainTask().prefix_labels(chain_problem(), text) == [True, False, False, False, False]


@pytest.mark.parametrize("text", ["", "   \n\n", "\x00\x01", "= = =", "1 + = 3", "9" * 5000])
def test_the_checker_never_raises(text: str) -> None:
    labels = ChainTask().check_steps(chain_problem(), text)
    assert len(labels) == len(split_steps(text)) and all(label.status != "correct" for label in labels)


@pytest.mark.parametrize("level", [2, 3, 4, 5, 6])
def test_levels_set_the_chain_length_and_totals_stay_in_range(level: int) -> None:
    task = get_task("chain", level=level)
    for problem in task.problems("train", 30, seed=level):
        start, ops = problem.meta["start"], [tuple(o) for o in problem.meta["ops"]]
        assert len(ops) == level and 2 <= start <= 9 and all(2 <= n <= 9 for _, n in ops)
        assert all(0 <= t <= 999 for t in running_totals(start, ops))
        reference = task.reference_solution(problem)
        assert reference is not None and len(split_steps(reference)) == level + 1
        assert all(label.status == "correct" for label in task.check_steps(problem, reference))


def test_the_checker_reads_the_question_when_meta_is_absent() -> None:
    task = ChainTask()
    generated = task.problems("test", 1, seed=3)[0]
    bare = generated.model_copy(update={"meta": {}})
    assert task.reference_solution(bare) == task.reference_solution(generated)


@pytest.mark.parametrize("level", [1, 7, "x"])
def test_a_bad_level_names_the_field(level: object) -> None:
    with pytest.raises(ValidationError, match="level"):
        get_task("chain", level=level)


def test_max_number_widens_the_range() -> None:
    problems = get_task("chain", level=3, max_number=99).problems("train", 50, seed=0)
    assert max(max(n for _, n in p.meta["ops"]) for p in problems) > 9
    assert all(2 <= n <= 99 for p in problems for _, n in p.meta["ops"])


def test_a_finished_reply_without_the_right_answer_ends_on_a_wrong_step() -> None:
    task, problem = ChainTask(), chain_problem()
    assert task.prefix_labels(problem, "23 + 18 = 41\nI give up") == [True, True]
    assert task.prefix_labels(problem, "23 + 18 = 41\nI give up", finished=True) == [True, False]
    assert task.prefix_labels(problem, RIGHT, finished=True) == [True] * 4
