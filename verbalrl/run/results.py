"""The results file of a run and its summary: one JSON line per problem and method.

In scope: reading a results JSONL (a torn last line from a crash is ignored),
repairing a torn tail before appending, durable appends (flush + fsync per
line), and the per-method summary with its rich table. Left out: what goes in
a record (the runner and the baselines write them).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("verbalrl.runner")


# ----------------------------------------------------------------- results file
def read_results(path: Path) -> list[dict[str, Any]]:
    """The records in a results JSONL (a torn last line from a crash is ignored)."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
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


def append_line(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line and make it durable (flush + fsync) before going on."""
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


# ----------------------------------------------------------------- summary
def summarize(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per method: problems, accuracy, mean LLM calls / generated tokens / seconds, mean score."""
    by_method: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_method.setdefault(r["method"], []).append(r)

    def mean(values: list[float]) -> float | None:
        return round(sum(values) / len(values), 4) if values else None

    rows = []
    for method, items in by_method.items():
        judged = [r["correct"] for r in items if r.get("correct") is not None]
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
            }
        )
    return rows


def summary_table(rows: Sequence[dict[str, Any]], title: str = "results") -> Any:
    """A rich table of `summarize` rows: accuracy, mean LLM calls / generated tokens / seconds per problem."""
    from rich.table import Table

    table = Table(title=title)
    for col in ("method", "n", "acc", "calls", "tokens", "sec", "score", "no ans"):
        table.add_column(col, justify="left" if col == "method" else "right", no_wrap=True)

    def fmt(value: Any, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    for r in rows:
        table.add_row(
            r["method"],
            str(r["problems"]),
            fmt(r["accuracy"], ".1%"),
            fmt(r["mean_llm_calls"], ".1f"),
            fmt(r["mean_generated_tokens"], ".0f"),
            fmt(r["mean_seconds"], ".2f"),
            fmt(r["mean_score"], ".2f"),
            str(r["no_answer"]),
        )
    return table
