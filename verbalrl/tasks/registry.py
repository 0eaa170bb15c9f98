"""Task lookup by name: the built-in tasks plus any a user registers.

In scope: `get_task(name, **options)`, `available_tasks()` and
`register_task(name, factory, description)`. Names are case-insensitive and
"-" equals "_" ("last-letter" finds `last_letter`). Options go to the
task's factory, which validates them (a bad one raises a pydantic
`ValidationError` naming the field). Left out: the tasks themselves.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from verbalrl.errors import TaskNotFoundError

from .arithmetic import ArithmeticTask
from .base import Task
from .chain import ChainTask
from .gsm8k import GSM8KTask
from .jsonl_task import JSONLTask
from .last_letter import LastLetterTask
from .word_sort import WordSortTask

_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class _Entry:
    factory: Callable[..., Task]
    description: str


_REGISTRY: dict[str, _Entry] = {}


def _canonical(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def register_task(
    name: str, factory: Callable[..., Task], description: str, *, replace: bool = False
) -> None:
    """Make `get_task(name, **options)` call `factory(**options)`.

    `name` must be lowercase letters, digits and "_" (starting with a letter);
    registering a taken name raises `ValueError` unless `replace=True`.
    """
    key = _canonical(name)
    if not _NAME.fullmatch(key):
        raise ValueError(
            f"task name {name!r} is invalid: use lowercase letters, digits and '_', "
            "starting with a letter"
        )
    if not callable(factory):
        raise ValueError(f"factory for task {name!r} must be callable, got {factory!r}")
    if key in _REGISTRY and not replace:
        raise ValueError(f"task {key!r} is already registered; pass replace=True to override it")
    _REGISTRY[key] = _Entry(factory, " ".join(description.split()))


def available_tasks() -> dict[str, str]:
    """Registered task names (sorted) with their one-line descriptions."""
    return {name: _REGISTRY[name].description for name in sorted(_REGISTRY)}


def get_task(name: str, /, **options: Any) -> Task:
    """Build the task registered as `name`; `TaskNotFoundError` lists the known names."""
    key = _canonical(name) if isinstance(name, str) else ""
    entry = _REGISTRY.get(key)
    if entry is None:
        known = sorted(_REGISTRY)
        close = difflib.get_close_matches(key, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise TaskNotFoundError(f"unknown task {name!r}.{hint} Known tasks: {', '.join(known)}.")
    return entry.factory(**options)


register_task("last_letter", LastLetterTask, LastLetterTask.description)
register_task("word_sort", WordSortTask, WordSortTask.description)
register_task("arithmetic", ArithmeticTask, ArithmeticTask.description)
register_task("gsm8k", GSM8KTask, GSM8KTask.description)
register_task("chain", ChainTask, ChainTask.description)
register_task(
    "jsonl",
    JSONLTask,
    "Your own JSONL question/answer file: path=..., checker='numeric' or 'exact'.",
)
