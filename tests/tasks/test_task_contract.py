"""The `Task` contract, checked on every built-in task and configuration (see conftest)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verbalrl.tasks import Problem, Task
from verbalrl.tasks.answers import normalize_number


def _wrong(problem: Problem) -> str:
    """A plausible answer that differs from the gold one."""
    number = normalize_number(problem.answer)
    if number is not None:
        return f"{number}1"  # "17" -> "171": a different number
    words = problem.answer.split()
    if len(set(words)) > 1:
        return " ".join(reversed(words))
    return problem.answer + "q"


def test_task_satisfies_protocol(case) -> None:
    assert isinstance(case.task, Task)
    assert case.task.name and case.task.description


def test_problems_are_deterministic_per_seed(case) -> None:
    for split in case.splits:
        first = case.task.problems(split, n=12, seed=7)
        assert first == case.task.problems(split, n=12, seed=7)
        assert all(p.split == split and p.task == case.task.name for p in first)
        assert len({p.id for p in first}) == len(first)
        assert len({p.question for p in first}) == len(first)


def test_a_smaller_request_is_a_prefix_of_a_larger_one(case) -> None:
    # Lets a run grow from n=50 to n=200 and keep (and resume) the first 50.
    split = case.splits[-1]
    assert case.task.problems(split, n=5, seed=3) == case.task.problems(split, n=12, seed=3)[:5]


def test_a_fresh_instance_gives_the_same_problems(case) -> None:
    assert case.make().problems(case.splits[-1], n=8, seed=2) == case.task.problems(
        case.splits[-1], n=8, seed=2
    )


def test_different_seeds_give_different_samples(case) -> None:
    split = case.splits[-1]
    a = [p.question for p in case.task.problems(split, n=4, seed=0)]
    b = [p.question for p in case.task.problems(split, n=4, seed=1)]
    assert a != b


def test_train_and_test_are_disjoint(two_split_case) -> None:
    task = two_split_case.task
    train = {p.question for p in task.problems("train", n=300, seed=0)}
    test = {p.question for p in task.problems("test", n=300, seed=0)}
    assert train and test
    assert not train & test


def test_reference_solution_is_extracted_and_checked_correct(case) -> None:
    task = case.task
    for split in case.splits:
        for problem in task.problems(split, n=60, seed=3):
            reference = task.reference_solution(problem)
            if case.name.startswith("jsonl"):
                assert reference is None  # these files have no solution_key
                continue
            assert reference is not None, problem
            assert reference.rstrip().splitlines()[-1].startswith("Answer: ")
            assert task.check(problem, task.extract_answer(reference)), (problem, reference)


def test_gold_answer_checks_and_wrong_answers_do_not(case) -> None:
    task = case.task
    for problem in task.problems(case.splits[-1], n=30, seed=5):
        assert task.check(problem, problem.answer)
        assert task.check(problem, f"  {problem.answer.upper()}  ")  # case/space never matter
        assert task.check(
            problem, task.extract_answer(f"Some reasoning.\nAnswer: {problem.answer}")
        )
        assert not task.check(problem, None)
        assert not task.check(problem, "")
        wrong = _wrong(problem)
        assert not task.check(problem, wrong), (problem.answer, wrong)
        assert not task.check(problem, task.extract_answer(f"Answer: {wrong}"))


def test_prompt_never_depends_on_the_gold_answer(case) -> None:
    task = case.task
    for problem in task.problems(case.splits[-1], n=30, seed=11):
        messages = task.prompt(problem)
        assert messages and messages[-1]["role"] == "user"
        assert all(set(m) == {"role", "content"} for m in messages)
        assert problem.question in messages[-1]["content"]
        assert "Answer: <answer>" in messages[0]["content"]
        text = "\n".join(m["content"] for m in messages)
        assert f"Answer: {problem.answer}" not in text
        # Stronger: the prompt is identical when the answer and task data are replaced.
        blinded = problem.model_copy(update={"answer": "0", "meta": {}})
        assert task.prompt(blinded) == messages


_TRICKY = st.lists(
    st.sampled_from(
        [
            "Answer:",
            "answer is",
            "####",
            "\\boxed{",
            "}",
            "{",
            "\n",
            " ",
            "-",
            ",",
            ".",
            "/",
            "$",
            "1",
            "42",
            "1,234",
            "0.5",
            "*",
            "abc",
            "t n e",
            ":",
            "\\frac{1}{2}",
            "−",
            "%",
        ]
    ),
    max_size=30,
).map("".join)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.one_of(st.text(), _TRICKY))
def test_extract_answer_never_raises(case, text: str) -> None:
    answer = case.task.extract_answer(text)
    assert answer is None or isinstance(answer, str)
    problem = case.task.problems(case.splits[-1], n=1, seed=0)[0]
    assert isinstance(case.task.check(problem, answer), bool)
