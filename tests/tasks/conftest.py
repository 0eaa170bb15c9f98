"""Fixtures for the task tests: every built-in task (and configuration) as one parameter."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from verbalrl.tasks import Task, get_task

# The shared data folder sits next to the repo: <repo>/../shared/data/gsm8k.
GSM8K_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "gsm8k"
HAVE_GSM8K = (GSM8K_DIR / "test.jsonl").is_file() and (GSM8K_DIR / "train.jsonl").is_file()


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def qa_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small numeric and text JSONL files with disjoint train/test questions."""
    root = tmp_path_factory.mktemp("qa")
    numeric = {
        split: write_jsonl(
            root / f"num_{split}.jsonl",
            [
                {"question": f"{split} question {i}: what is {i} times 3?", "answer": f"{i * 3:,}"}
                for i in range(start, start + 40)
            ],
        )
        for split, start in (("train", 0), ("test", 1000))
    }
    capitals = [("France", "Paris"), ("Japan", "Tokyo"), ("Peru", "Lima"), ("Kenya", "Nairobi")]
    text = write_jsonl(
        root / "capitals.jsonl",
        [{"q": f"What is the capital of {c}?", "a": a} for c, a in capitals],
    )
    return {"num_train": numeric["train"], "num_test": numeric["test"], "text": text}


TASK_CASES: dict[str, Callable[[dict[str, Path]], Task]] = {
    "last_letter": lambda files: get_task("last_letter"),
    "word_sort": lambda files: get_task("word_sort"),
    "arithmetic-1": lambda files: get_task("arithmetic", level=1),
    "arithmetic-2": lambda files: get_task("arithmetic", level=2),
    "arithmetic-sum30": lambda files: get_task("arithmetic", level="sum30"),
    "arithmetic-3": lambda files: get_task("arithmetic", level=3),
    "arithmetic-4": lambda files: get_task("arithmetic", level=4),
    "chain-2": lambda files: get_task("chain", level=2),
    "chain-5": lambda files: get_task("chain", level=5),
    "gsm8k": lambda files: get_task("gsm8k", path=GSM8K_DIR),
    "jsonl-numeric": lambda files: get_task(
        "jsonl", train_path=files["num_train"], test_path=files["num_test"], checker="numeric"
    ),
    "jsonl-exact": lambda files: get_task(
        "jsonl", path=files["text"], question_key="q", answer_key="a", checker="exact"
    ),
}
# The single-file jsonl case is test-only by design.
TEST_ONLY = {"jsonl-exact"}


@dataclass(frozen=True)
class TaskCase:
    name: str
    task: Task
    splits: tuple[str, ...]
    make: Callable[[], Task]  # builds a fresh instance with the same options


def _build(name: str, files: dict[str, Path]) -> TaskCase:
    if name == "gsm8k" and not HAVE_GSM8K:
        pytest.skip(f"GSM8K data not found at {GSM8K_DIR} (shared data folder absent)")
    splits = ("test",) if name in TEST_ONLY else ("train", "test")
    return TaskCase(name, TASK_CASES[name](files), splits, lambda: TASK_CASES[name](files))


@pytest.fixture(params=list(TASK_CASES))
def case(request: pytest.FixtureRequest, qa_files: dict[str, Path]) -> TaskCase:
    return _build(request.param, qa_files)


@pytest.fixture(params=[name for name in TASK_CASES if name not in TEST_ONLY])
def two_split_case(request: pytest.FixtureRequest, qa_files: dict[str, Path]) -> TaskCase:
    return _build(request.param, qa_files)
