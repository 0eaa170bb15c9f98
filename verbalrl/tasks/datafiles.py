"""Reading question/answer files for dataset-backed tasks, with errors that say what to fix.

In scope: `TaskDataError`, reading a JSONL file into dict rows (blank lines
skipped; a malformed line is reported by its 1-based line number), checking
required keys, and a seed-deterministic sample of row indices. Left out: what
the rows mean (see `gsm8k.py`, `jsonl_task.py`).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from verbalrl.errors import VerbalRLError


class TaskDataError(VerbalRLError):
    """A task's data file is missing, unreadable, malformed, or lacks a required key."""


def expand_path(path: str | Path) -> Path:
    """`path` with a leading `~` expanded; a `~user` that does not exist is a `TaskDataError`."""
    try:
        return Path(path).expanduser()
    except RuntimeError as exc:  # pathlib's "Could not determine home directory."
        raise TaskDataError(f"data path {str(path)!r}: cannot expand '~' ({exc})") from exc


def read_jsonl(path: str | Path, required_keys: Iterable[str] = ()) -> list[dict[str, Any]]:
    """All JSON objects of a JSONL file; `TaskDataError` naming the file and line on a problem."""
    return [row for _, row in read_jsonl_lines(path, required_keys)]


def read_jsonl_lines(
    path: str | Path, required_keys: Iterable[str] = ()
) -> list[tuple[int, dict[str, Any]]]:
    """Like `read_jsonl`, with each row's 1-based line number (for later error messages)."""
    path = expand_path(path)
    if not path.is_file():
        hint = " (it is a folder)" if path.is_dir() else ""
        raise TaskDataError(f"data file not found: {path}{hint}")
    keys = list(required_keys)
    rows: list[tuple[int, dict[str, Any]]] = []
    try:
        with path.open(encoding="utf-8") as handle:
            for line_no, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                rows.append((line_no, _parse_line(path, line_no, line, keys)))
    except UnicodeDecodeError as exc:
        raise TaskDataError(f"{path}: not UTF-8 text ({exc})") from exc
    except OSError as exc:
        raise TaskDataError(f"cannot read {path}: {exc}") from exc
    if not rows:
        raise TaskDataError(f"{path} has no rows")
    return rows


def _parse_line(path: Path, line_no: int, line: str, keys: list[str]) -> dict[str, Any]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise TaskDataError(
            f"{path}, line {line_no}: not valid JSON ({exc.msg}, column {exc.colno})"
        ) from exc
    if not isinstance(row, dict):
        raise TaskDataError(
            f"{path}, line {line_no}: expected a JSON object, got {type(row).__name__}"
        )
    missing = [k for k in keys if k not in row]
    if missing:
        raise TaskDataError(
            f"{path}, line {line_no}: missing key(s) {missing}; the line has keys {sorted(row)}"
        )
    return row


def sample_indices(total: int, n: int, seed: int, salt: str) -> list[int]:
    """`min(n, total)` distinct indices in a seed-shuffled order (same seed, same sample)."""
    order = list(range(total))
    random.Random(f"{salt}:{seed}").shuffle(order)
    return order[:n]
