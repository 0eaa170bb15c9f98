"""GSM8K: locating the data, gold answers, reference solutions, and clear failures."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from verbalrl.errors import VerbalRLError
from verbalrl.tasks import GSM8KTask, TaskDataError, get_task
from verbalrl.tasks import gsm8k as gsm8k_module
from verbalrl.tasks.gsm8k import clean_solution, gold_answer

# Same location as conftest.GSM8K_DIR (conftest is not importable under importlib mode).
GSM8K_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "gsm8k"
needs_gsm8k = pytest.mark.skipif(
    not (GSM8K_DIR / "test.jsonl").is_file(),
    reason=f"GSM8K data not found at {GSM8K_DIR} (shared data folder absent)",
)

SOLUTION = (
    "He buys 2 * 3 = <<2*3=6>>6 apples.\nSo he pays 6 * $250 = $<<6*250=1500>>1,500.\n#### 1,500"
)


def test_gold_answer_and_clean_solution() -> None:
    assert gold_answer(SOLUTION) == "1500"
    assert gold_answer("x\n#### -3.50") == "-3.5"
    assert clean_solution(SOLUTION) == (
        "He buys 2 * 3 = 6 apples.\nSo he pays 6 * $250 = $1,500.\nAnswer: 1500"
    )


@needs_gsm8k
@pytest.mark.parametrize(("split", "size"), [("train", 7473), ("test", 1319)])
def test_every_reference_solution_checks_correct(split: str, size: int) -> None:
    task = get_task("gsm8k", path=GSM8K_DIR)
    problems = task.problems(split, n=100_000, seed=0)  # more than exist: all of them, no crash
    assert len(problems) == size
    assert len({p.id for p in problems}) == size
    for problem in problems:
        reference = task.reference_solution(problem)
        assert reference is not None and "<<" not in reference and "####" not in reference
        assert task.check(problem, task.extract_answer(reference)), problem.id
        assert not task.check(problem, str(int(problem.answer) + 1))


@needs_gsm8k
def test_known_first_problem() -> None:
    task = get_task("gsm8k", path=GSM8K_DIR / "test.jsonl")
    janet = next(p for p in task.problems("test", n=2000) if p.id == "gsm8k-test-0")
    assert janet.question.startswith("Janet")
    assert janet.answer == "18"
    assert task.check(janet, task.extract_answer("She makes $18 every day.\nAnswer: $18.00"))
    assert task.extract_answer("She sells 9 eggs for 2 dollars each, making 18") == "18"


@needs_gsm8k
def test_default_location_is_found_without_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VERBALRL_GSM8K_DIR", raising=False)
    monkeypatch.setattr(gsm8k_module, "repo_data_dirs", lambda: [Path("/nonexistent"), GSM8K_DIR])
    task = GSM8KTask()
    assert task.files == {"train": GSM8K_DIR / "train.jsonl", "test": GSM8K_DIR / "test.jsonl"}
    assert len(task.problems("train", n=5)) == 5


def test_env_var_overrides_the_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "test.jsonl").write_text(
        '{"question": "What is 1 + 1?", "answer": "1 + 1 = <<1+1=2>>2\\n#### 2"}\n'
    )
    monkeypatch.setenv("VERBALRL_GSM8K_DIR", str(tmp_path))
    problems = GSM8KTask().problems("test", n=5)
    assert [p.answer for p in problems] == ["2"]
    with pytest.raises(TaskDataError, match="train.jsonl"):
        GSM8KTask().problems("train", n=1)


def test_no_local_data_and_no_datasets_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VERBALRL_GSM8K_DIR", raising=False)
    monkeypatch.setattr(gsm8k_module, "repo_data_dirs", lambda: [Path("/nonexistent")])
    monkeypatch.setitem(sys.modules, "datasets", None)  # makes `import datasets` fail offline
    task = GSM8KTask()
    with pytest.raises(VerbalRLError, match="path="):
        task.problems("test", n=1)


def test_missing_explicit_path_fails_at_construction(tmp_path: Path) -> None:
    with pytest.raises(TaskDataError, match="not found"):
        get_task("gsm8k", path=tmp_path / "nope")


def test_single_file_with_other_name_is_test_only(tmp_path: Path) -> None:
    data = tmp_path / "mine.jsonl"
    data.write_text('{"question": "Q?", "answer": "#### 1,000"}\n')
    task = get_task("gsm8k", path=data)
    assert task.problems("test", n=3)[0].answer == "1000"
    with pytest.raises(TaskDataError, match="train_path="):
        task.problems("train", n=1)
