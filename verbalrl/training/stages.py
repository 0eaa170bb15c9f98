"""Resumable stages of a long training run: one marker file per finished stage, written atomically.

In scope: `StageDir`, a folder whose finished stages are recorded as
`stages/<name>.json` (the stage's result, written by an atomic replace, so a
marker is whole or absent), a count of how often each stage was started
(`attempts.json`: a stage that was killed and redone shows 2), and
`write_json` / `write_lines`, the atomic writes every output of a stage uses.
A finished stage is never run again; an unfinished one runs again from the
start, or from its Trainer checkpoint (`last_checkpoint`). Left out: what the
stages do (`self_train.py`).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any


def write_json(path: Path, obj: Any) -> Path:
    """`obj` as indented JSON in `path`, replaced atomically (a crash leaves the old file whole)."""
    return write_lines(path, [json.dumps(obj, indent=2, ensure_ascii=False, default=str)])


def write_lines(path: Path, lines: Iterable[str]) -> Path:
    """Text lines in `path` (one per item), replaced atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for line in lines:
                fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def last_checkpoint(folder: Path) -> Path | None:
    """The newest `checkpoints/checkpoint-N` a Trainer left in `folder`, or None."""
    found = [p for p in (folder / "checkpoints").glob("checkpoint-*") if p.name.split("-")[-1].isdigit()]
    return max(found, key=lambda p: int(p.name.split("-")[-1]), default=None)


class StageDir:
    """A folder of stages: `run(name, fn)` runs `fn` once, ever, and returns its recorded result."""

    def __init__(self, path: Path, say: Callable[[str], None] | None = None) -> None:
        self.path = Path(path)
        self.say = say or (lambda _text: None)

    def marker(self, name: str) -> Path:
        return self.path / "stages" / f"{name}.json"

    def done(self, name: str) -> bool:
        return self.marker(name).is_file()

    def result(self, name: str) -> dict[str, Any]:
        """A finished stage's result (`KeyError` if it has not finished)."""
        if not self.done(name):
            raise KeyError(f"stage {name!r} of {self.path} has not finished")
        return dict(read_json(self.marker(name)))

    def attempts(self) -> dict[str, int]:
        path = self.path / "attempts.json"
        return dict(read_json(path)) if path.is_file() else {}

    def run(self, name: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """`fn()`'s result, recorded; a stage that already finished is read back, not run again."""
        if self.done(name):
            self.say(f"{name}: done before, skipped")
            return self.result(name)
        attempts = self.attempts()
        attempts[name] = attempts.get(name, 0) + 1
        write_json(self.path / "attempts.json", attempts)
        self.say(f"{name} ..." if attempts[name] == 1 else f"{name} (attempt {attempts[name]}) ...")
        start = time.perf_counter()
        result = {**fn(), "seconds": round(time.perf_counter() - start, 2)}
        write_json(self.marker(name), result)
        self.say(f"{name}: {summary(result)}")
        return result


def summary(result: dict[str, Any]) -> str:
    """A stage's result on one line: its scalar fields, not its long lists."""
    parts = [
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in result.items()
        if isinstance(v, str | int | float | None) and k != "seconds"
    ]
    return ", ".join(parts) + f" ({result.get('seconds', 0):.1f} s)"
