"""The results file of a run and its summary: one JSON line per problem and method.

In scope: what a line holds (`ResultRecord`: one method on one problem;
`GraphRecord`: the graph's, with its path and checkpoint facts), reading a
results JSONL (a torn last line from a crash is ignored), repairing a torn
tail before appending, durable appends (flush + fsync per line), and the
per-method summary. Left out: computing the records (`solver.py`) and
showing the summary (`console.py`).

Readers get plain dicts (`read_results`): a results file is data, and
graph-specific fields (`stored`, `recalled`, `lessons`, `distilled`,
`memory_ids`, ...) ride along as extra keys of the records.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from ..errors import CorruptFileError, DiskFullError

log = logging.getLogger("verbalrl.runner")


# ----------------------------------------------------------------- records
class ResultRecord(BaseModel):
    """One results line: method `method` (the graph or a baseline) on one problem of run `run_id`.

    `correct` is the task checker's verdict on `answer` against `gold`;
    `seconds` is wall time, `llm_calls` / `generated_tokens` the compute spent;
    `worker` is `host:pid` of the process that computed it. Extra keys are
    kept (graph-specific fields).
    """

    model_config = ConfigDict(extra="allow")

    run_id: str
    method: str
    graph: str
    problem_id: str
    task: str
    mode: str
    answer: str | None
    score: float | None
    status: str
    rounds: int
    llm_calls: int
    generated_tokens: int
    seconds: float
    errors: list[str]
    correct: bool | None
    gold: str
    worker: str

    def to_line(self) -> dict[str, Any]:
        """The JSON object written as one line (every field, None included, then the extras)."""
        return self.model_dump(mode="json", exclude_none=False)


class GraphRecord(ResultRecord):
    """The graph's record of a problem: also whether it accepted, its drafts, the seconds spent in
    the model, whether it `resumed` from a checkpoint, and the node `path` it took."""

    accepted: bool
    drafts: int
    failed_drafts: int
    model_seconds: float
    resumed: bool
    path: list[str]


# ----------------------------------------------------------------- results file
def read_results(path: Path) -> list[dict[str, Any]]:
    """The records in a results JSONL. A torn last line (a crash during a write) is ignored;
    any other line that is not a JSON record raises `CorruptFileError` naming it."""
    if not path.is_file():
        return []
    data = path.read_bytes()
    lines = data.split(b"\n")
    torn = lines.pop() if lines else b""  # after the last newline: empty, or a torn write
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line.decode("utf-8"))
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
        except (ValueError, UnicodeDecodeError) as err:
            raise CorruptFileError(
                f"results file {path}, line {number}, is not a JSON record ({err}): the file is damaged. "
                "Restore it from a backup, or delete that line (its problem is then run again on "
                "--resume); nothing was changed"
            ) from None
        records.append(record)
    if torn.strip():
        log.warning("%s: a half-written last line is ignored", path)
    return records


def repair_tail(path: Path) -> None:
    """Cut a half-written last line (a crash during a write) so appends start on a fresh line."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if data.endswith(b"\n"):
        return
    cut = data.rfind(b"\n") + 1
    with path.open("r+b") as fh:
        fh.truncate(cut)
    log.warning("%s: dropped a half-written last line", path)


_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


@contextmanager
def disk_full_stops(folder: Path, output: Path, resume_hint: str) -> Iterator[None]:
    """Turn "no space left" while a run writes (results, checkpoints, summary) into `DiskFullError`.

    What is already written stays valid: results lines are fsynced one by one (a torn last
    line is cut on resume) and SQLite rolls back the transaction that did not fit.
    """
    try:
        yield
    except (OSError, sqlite3.OperationalError) as err:
        full = isinstance(err, OSError) and err.errno in _FULL
        full = full or "disk is full" in str(err) or "disk I/O error" in str(err)
        if not full:
            raise
        raise DiskFullError(
            f"no space left on the disk of {folder} while the run was writing ({err}). Finished problems "
            f"are in {output}; free some space, then finish the run with: {resume_hint}"
        ) from err


def append_line(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line and make it durable (flush + fsync) before going on."""
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


# ----------------------------------------------------------------- summary
def summarize(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per method: problems, accuracy, mean LLM calls / generated tokens / seconds, mean score.

    A reflective method also gets `exemplars` (answers that passed the exemplar gate) and
    `gate_precision` (the share of them the checker says are right).
    """
    by_method: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_method.setdefault(r["method"], []).append(r)

    def mean(values: list[float]) -> float | None:
        return round(sum(values) / len(values), 4) if values else None

    rows = []
    for method, items in by_method.items():
        judged = [r["correct"] for r in items if r.get("correct") is not None]
        # The exemplar gate's precision: of the answers the reflective graph made demonstrations,
        # the share the checker (after the fact) says are right. None for other methods.
        gated = [r for r in items if r.get("exemplar_stored") and r.get("correct") is not None]
        gate = {"exemplars": len(gated), "gate_precision": mean([float(r["correct"]) for r in gated])}
        rows.append(
            {
                "method": method,
                "mode": items[0].get("mode"),
                "problems": len(items),
                "accuracy": mean([float(c) for c in judged]),
                "mean_llm_calls": mean([r["llm_calls"] for r in items]),
                "mean_generated_tokens": mean([r["generated_tokens"] for r in items]),
                "mean_seconds": mean([r["seconds"] for r in items]),
                "mean_score": mean([r["score"] for r in items if r.get("score") is not None]),
                "accepted": mean([float(r["accepted"]) for r in items if "accepted" in r]),
                "no_answer": sum(1 for r in items if r.get("answer") is None),
                **(gate if any("exemplar_stored" in r for r in items) else {}),
            }
        )
    return rows
