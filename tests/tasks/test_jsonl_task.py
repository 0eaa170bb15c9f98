"""The `jsonl` task: user files, checkers, and errors that point at the offending line."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from verbalrl.tasks import JSONLTask, TaskDataError, get_task


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_numeric_file_with_custom_keys_and_solutions(tmp_path: Path) -> None:
    data = write(
        tmp_path / "qa.jsonl",
        '{"id": "a1", "prompt": "How many legs do 3 cats have?", "target": 12, '
        '"work": "Each cat has 4 legs, 3 * 4 = 12.\\n#### 12"}\n'
        "\n"  # blank lines are skipped
        '{"id": "a2", "prompt": "What is half of 3?", "target": "1.50"}\n',
    )
    task = get_task(
        "jsonl",
        path=data,
        question_key="prompt",
        answer_key="target",
        solution_key="work",
        id_key="id",
        name="legs",
    )
    problems = task.problems("test", n=10)
    assert sorted(p.id for p in problems) == ["legs-test-a1", "legs-test-a2"]
    by_id = {p.id: p for p in problems}
    cats, half = by_id["legs-test-a1"], by_id["legs-test-a2"]
    assert half.answer == "1.5" and half.meta["line"] == 3
    assert task.check(half, task.extract_answer("Half of 3 is 3/2.\nAnswer: 3/2"))
    assert task.check(cats, "12.0") and not task.check(cats, "13")
    reference = task.reference_solution(cats)
    assert reference == "Each cat has 4 legs, 3 * 4 = 12.\nAnswer: 12"
    assert task.reference_solution(half) is None


def test_exact_checker_normalises_case_space_and_punctuation(tmp_path: Path) -> None:
    data = write(tmp_path / "caps.jsonl", '{"question": "Capital of France?", "answer": "Paris"}\n')
    task = JSONLTask(path=data, checker="exact")
    problem = task.problems()[0]
    assert task.check(problem, task.extract_answer("It is Paris.\n**Answer:** paris."))
    assert not task.check(problem, task.extract_answer("Answer: Lyon"))
    assert task.extract_answer("Paris, I think") is None  # no marked answer, no guessing


def test_single_path_is_the_test_split_only(tmp_path: Path) -> None:
    data = write(tmp_path / "qa.jsonl", '{"question": "1+1?", "answer": "2"}\n')
    with pytest.raises(TaskDataError, match="train_path="):
        get_task("jsonl", path=data).problems("train", n=1)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(TaskDataError, match="not found.*missing.jsonl"):
        get_task("jsonl", path=tmp_path / "missing.jsonl")


def test_malformed_line_is_reported_by_number(tmp_path: Path) -> None:
    data = write(
        tmp_path / "bad.jsonl",
        '{"question": "a", "answer": "1"}\n\n{"question": "b", "answer": \n',
    )
    with pytest.raises(TaskDataError, match="line 3: not valid JSON"):
        get_task("jsonl", path=data)


def test_missing_key_is_reported_with_the_keys_present(tmp_path: Path) -> None:
    data = write(
        tmp_path / "keys.jsonl", '{"question": "a", "answer": "1"}\n{"q": "b", "a": "2"}\n'
    )
    with pytest.raises(TaskDataError, match=r"line 2: missing key\(s\) \['question', 'answer'\]"):
        get_task("jsonl", path=data)


def test_non_object_line_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(TaskDataError, match="line 1: expected a JSON object"):
        get_task("jsonl", path=write(tmp_path / "list.jsonl", "[1, 2]\n"))
    with pytest.raises(TaskDataError, match="no rows"):
        get_task("jsonl", path=write(tmp_path / "empty.jsonl", "\n\n"))


def test_non_numeric_answer_with_numeric_checker_says_what_to_do(tmp_path: Path) -> None:
    data = write(tmp_path / "text.jsonl", '{"question": "Capital?", "answer": "Paris"}\n')
    with pytest.raises(TaskDataError, match="line 1.*checker='exact'"):
        get_task("jsonl", path=data, checker="numeric")


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({}, "path"),
        ({"path": "a.jsonl", "test_path": "b.jsonl"}, "test_path"),
        ({"path": "a.jsonl", "checker": "fuzzy"}, "checker"),
        ({"path": "a.jsonl", "question_key": ""}, "question_key"),
        ({"path": "a.jsonl", "colour": "red"}, "colour"),
    ],
)
def test_bad_options_name_the_field(options: dict[str, str], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        get_task("jsonl", **options)
