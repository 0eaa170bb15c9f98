"""`jsonl`: any user file of question/answer pairs, checked as numbers or exact text.

In scope: options (`path` or `train_path`/`test_path`, the key names, the
checker), loading with line-numbered errors at construction, and
seed-deterministic samples. A single `path` is the test split (asking for
train then says to pass `train_path=`), so a test file never leaks into
training data. A gold answer containing `####` (GSM8K style) is read after
it. With `solution_key`, the file's worked solutions become reference
solutions. Left out: splitting one file into train/test (do it in the file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .answers import normalize_number
from .base import BaseTask, Problem, Split, task_config
from .datafiles import TaskDataError, read_jsonl_lines, sample_indices


class JSONLConfig(BaseModel):
    """Options of a JSONL task; a bad value raises a `ValidationError` naming the field."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Path | None = Field(None, description="one file: the test split")
    train_path: Path | None = None
    test_path: Path | None = None
    question_key: str = Field("question", min_length=1)
    answer_key: str = Field("answer", min_length=1)
    solution_key: str | None = Field(None, description="optional worked-solution field")
    id_key: str | None = Field(None, description="optional field with a stable row id")
    checker: Literal["numeric", "exact"] = "numeric"
    name: str = Field("jsonl", min_length=1, description="task name put on problems")
    description: str = "Question/answer pairs from a JSONL file."

    @model_validator(mode="after")
    def _one_source_per_split(self) -> JSONLConfig:
        if self.path is None and self.train_path is None and self.test_path is None:
            raise ValueError("give path= (a JSONL file) or train_path=/test_path=")
        if self.path is not None and self.test_path is not None:
            raise ValueError("give either path= or test_path=, not both (path is the test split)")
        return self


def _gold(value: Any) -> str:
    text = str(value).strip()
    return text.rsplit("####", 1)[-1].strip() if "####" in text else text


class JSONLTask(BaseTask):
    """Question/answer pairs from JSONL files, checked numerically or by normalised text."""

    def __init__(self, config: JSONLConfig | None = None, **options: Any) -> None:
        self.config = task_config(JSONLConfig, config, options)
        self.name = self.config.name
        self.description = self.config.description
        self.answer_kind = "numeric" if self.config.checker == "numeric" else "text"
        self.answer_format = (
            "Give the final answer as a single number."
            if self.answer_kind == "numeric"
            else "Give only the final answer on the answer line."
        )
        files: dict[Split, Path] = {}
        if self.config.train_path is not None:
            files["train"] = self.config.train_path
        test = self.config.test_path or self.config.path
        if test is not None:
            files["test"] = test
        # Loaded now so a bad file fails at construction with its line number.
        self._problems: dict[Split, list[Problem]] = {
            split: self._load(split, path) for split, path in files.items()
        }

    def _load(self, split: Split, path: Path) -> list[Problem]:
        cfg = self.config
        keys = [cfg.question_key, cfg.answer_key]
        rows = read_jsonl_lines(path, keys)
        problems = []
        for index, (line_no, row) in enumerate(rows):
            question = str(row[cfg.question_key]).strip()
            answer = _gold(row[cfg.answer_key])
            if not question:
                raise TaskDataError(f"{path}, line {line_no}: {cfg.question_key!r} is empty")
            if cfg.checker == "numeric":
                canonical = normalize_number(answer)
                if canonical is None:
                    raise TaskDataError(
                        f"{path}, line {line_no}: {cfg.answer_key!r} is {answer!r}, not a "
                        "number; use checker='exact' for text answers"
                    )
                answer = canonical
            meta: dict[str, Any] = {"line": line_no, "source": str(path)}
            if cfg.solution_key is not None and isinstance(row.get(cfg.solution_key), str):
                meta["solution"] = row[cfg.solution_key]
            row_id = row.get(cfg.id_key) if cfg.id_key is not None else None
            problems.append(
                Problem(
                    id=f"{self.name}-{split}-{row_id if row_id is not None else index}",
                    task=self.name,
                    split=split,
                    question=question,
                    answer=answer,
                    meta=meta,
                )
            )
        return problems

    def sample_problems(self, split: Split, n: int, seed: int) -> list[Problem]:
        if split not in self._problems:
            raise TaskDataError(
                f"task {self.name!r} has no {split} split: pass {split}_path= with a JSONL file"
            )
        pool = self._problems[split]
        return [pool[i] for i in sample_indices(len(pool), n, seed, salt=f"{self.name}:{split}")]

    def reference_solution(self, problem: Problem) -> str | None:
        solution = problem.meta.get("solution")
        if not isinstance(solution, str):
            return None
        body = solution.rsplit("####", 1)[0].rstrip() if "####" in solution else solution.rstrip()
        return f"{body}\nAnswer: {problem.answer}".lstrip()
