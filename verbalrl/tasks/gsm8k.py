"""GSM8K grade-school math word problems, from local JSONL files or the `datasets` hub.

In scope: finding the data (explicit paths, `$VERBALRL_GSM8K_DIR`, a
`shared/data/gsm8k` folder beside or inside the repo, then
`datasets.load_dataset("openai/gsm8k", "main")` for online users), parsing
the gold answer after `####`, seed-deterministic samples, and the dataset's
own solution as the reference (calculator annotations `<<...>>` removed, the
`#### N` line rewritten as `Answer: N`). Left out: few-shot prompting.

`Problem.meta["solution"]` holds the dataset's worked solution (gold data,
like `Problem.answer`): never put `meta` into a solver's prompt.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from .answers import normalize_number
from .base import SPLITS, BaseTask, Problem, Split, task_config
from .datafiles import TaskDataError, expand_path, read_jsonl, sample_indices

_CALCULATOR = re.compile(r"<<[^>]*>>")
HF_DATASET = ("openai/gsm8k", "main")
ENV_DIR = "VERBALRL_GSM8K_DIR"


class GSM8KConfig(BaseModel):
    """Where the data is: `path` (a folder with train/test.jsonl, or one file), or per split."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Path | None = None
    train_path: Path | None = None
    test_path: Path | None = None


def repo_data_dirs() -> list[Path]:
    """Folders searched when no path is given: `<repo>/../shared/...` and `<repo>/shared/...`."""
    repo = Path(__file__).resolve().parents[2]
    return [repo.parent / "shared" / "data" / "gsm8k", repo / "shared" / "data" / "gsm8k"]


def gold_answer(solution: str) -> str:
    """The answer after the last `####`, commas removed, in canonical number form if numeric."""
    raw = solution.rsplit("####", 1)[-1].strip().replace(",", "")
    return normalize_number(raw) or raw


def clean_solution(solution: str) -> str:
    """The dataset's solution without calculator annotations, ending in `Answer: N`."""
    body, sep, _ = solution.rpartition("####")
    text = _CALCULATOR.sub("", body if sep else solution).rstrip()
    return f"{text}\nAnswer: {gold_answer(solution)}".lstrip()


def _split_files(config: GSM8KConfig) -> dict[Split, Path] | None:
    """Per-split files from the options or the environment; None means "try the defaults"."""
    files: dict[Split, Path] = {}
    if config.path is not None:
        path = expand_path(config.path)
        if path.is_dir():
            files = {split: path / f"{split}.jsonl" for split in SPLITS}
        elif path.stem in SPLITS:
            # ".../test.jsonl": that split, plus its sibling for the other split if present.
            for split in SPLITS:
                files[split] = path if split == path.stem else path.with_name(f"{split}.jsonl")
        else:
            files["test"] = path
    if config.train_path is not None:
        files["train"] = expand_path(config.train_path)
    if config.test_path is not None:
        files["test"] = expand_path(config.test_path)
    if files:
        return files
    env = os.environ.get(ENV_DIR)
    if env:
        return {split: expand_path(env) / f"{split}.jsonl" for split in SPLITS}
    for folder in repo_data_dirs():
        if (folder / "test.jsonl").is_file():
            return {split: folder / f"{split}.jsonl" for split in SPLITS}
    return None


def _load_from_hub(split: Split) -> list[dict[str, Any]]:
    """Rows of `openai/gsm8k` via `datasets` (imported lazily: an optional, online path)."""
    try:
        from datasets import load_dataset  # type: ignore[import-not-found]

        data = load_dataset(*HF_DATASET, split=split)
        return [{"question": row["question"], "answer": row["answer"]} for row in data]
    except Exception as exc:  # any failure here means "no data": say so plainly
        raise TaskDataError(
            "GSM8K data not found locally (looked at $VERBALRL_GSM8K_DIR and "
            f"{', '.join(str(p) for p in repo_data_dirs())}) and loading "
            f"{HF_DATASET[0]!r} with `datasets` failed ({type(exc).__name__}: {exc}). "
            'Pass path= to a folder with train.jsonl/test.jsonl, e.g. get_task("gsm8k", '
            'path="shared/data/gsm8k").'
        ) from exc


class GSM8KTask(BaseTask):
    """GSM8K: multi-step word problems with an integer answer."""

    name = "gsm8k"
    description = "GSM8K grade-school math word problems (numeric answer after ####)."
    answer_kind = "numeric"
    answer_format = "Give the final answer as a single number."

    def __init__(self, config: GSM8KConfig | None = None, **options: Any) -> None:
        self.config = task_config(GSM8KConfig, config, options)
        self.files = _split_files(self.config)
        explicit = self.config.path or self.config.train_path or self.config.test_path
        if explicit is not None and self.files is not None:
            # Fail at construction for a wrong explicit path, not at the first problems() call.
            if not any(p.is_file() for p in self.files.values()):
                shown = ", ".join(str(p) for p in self.files.values())
                raise TaskDataError(f"GSM8K data file(s) not found: {shown}")
        self._rows: dict[Split, list[dict[str, Any]]] = {}

    def rows(self, split: Split) -> list[dict[str, Any]]:
        """All rows of a split (loaded once)."""
        if split not in self._rows:
            if self.files is None:
                self._rows[split] = _load_from_hub(split)
            elif split not in self.files:
                raise TaskDataError(
                    f"GSM8K has no {split} split here: pass {split}_path= or a folder as path="
                )
            else:
                self._rows[split] = read_jsonl(self.files[split], ("question", "answer"))
        return self._rows[split]

    def sample_problems(self, split: Split, n: int, seed: int) -> list[Problem]:
        rows = self.rows(split)
        problems = []
        for index in sample_indices(len(rows), n, seed, salt=f"{self.name}:{split}"):
            row = rows[index]
            solution = str(row["answer"])
            problems.append(
                Problem(
                    id=f"{self.name}-{split}-{index}",
                    task=self.name,
                    split=split,
                    question=str(row["question"]),
                    answer=gold_answer(solution),
                    meta={"row": index, "solution": solution},
                )
            )
        return problems

    def reference_solution(self, problem: Problem) -> str | None:
        solution = problem.meta.get("solution")
        return clean_solution(solution) if isinstance(solution, str) else None
