"""Export and import of memory as JSONL: the backup format, independent of chromadb.

In scope: one JSON object per line, a header line first
(`{"verbalrl_memory": 1, ...}`) then `{"kind": ..., "record": {...}}` per
record; no embeddings (an import re-embeds with the store's embedder, which
is how memory moves between chromadb versions, embedding models or backends).
Import validates every line before writing anything, so a bad file changes
nothing. Works on any `RecordStore`. Left out: incremental sync between live
stores.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from .errors import MemoryImportError
from .kinds import KINDS, Kind, model_for
from .records import Concept, Experience, Reflection
from .store import RecordStore

EXPORT_VERSION = 1


def export_jsonl(memory: RecordStore, path: str | Path, task: str | None = None) -> int:
    """Write every record (or one task's) to `path`; return how many records were written."""
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    n = 0
    with tmp.open("w", encoding="utf-8") as out:
        header = {
            "verbalrl_memory": EXPORT_VERSION,
            "exported_at": datetime.now(UTC).isoformat(),
            "embedder": memory.embedder.name,
            "task": task,
        }
        out.write(json.dumps(header) + "\n")
        for kind in KINDS:
            for record in memory.iter_records(kind, task=task):
                out.write(
                    json.dumps({"kind": kind, "record": record.model_dump(mode="json")}, ensure_ascii=False)
                    + "\n"
                )
                n += 1
    tmp.replace(path)  # a crash mid-export never leaves a truncated file under the real name
    return n


def read_jsonl(source: str | Path | IO[str]) -> list[Experience | Reflection | Concept]:
    """Parse and validate an export; raise `MemoryImportError` naming the first bad line."""
    handle = open(source, encoding="utf-8", errors="replace") if isinstance(source, str | Path) else source  # noqa: SIM115
    records: list[Experience | Reflection | Concept] = []
    try:
        for lineno, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                obj: Any = json.loads(line)
            except ValueError as exc:
                raise MemoryImportError(f"line {lineno}: not JSON ({exc})") from exc
            if not isinstance(obj, dict):
                raise MemoryImportError(f"line {lineno}: expected a JSON object")
            if "verbalrl_memory" in obj:
                if obj["verbalrl_memory"] != EXPORT_VERSION:
                    raise MemoryImportError(
                        f"line {lineno}: export version {obj['verbalrl_memory']} is not supported"
                    )
                continue
            kind = obj.get("kind")
            if kind not in KINDS:
                raise MemoryImportError(f"line {lineno}: unknown kind {kind!r}")
            try:
                records.append(model_for(_kind(kind)).model_validate(obj.get("record")))
            except ValidationError as exc:
                raise MemoryImportError(f"line {lineno}: invalid {kind}: {exc}") from exc
    finally:
        if handle is not source:
            handle.close()
    return records


def _kind(value: str) -> Kind:
    return value  # type: ignore[return-value]


def import_jsonl(memory: RecordStore, path: str | Path) -> int:
    """Load an export into `memory` (ids and counts kept, upsert: importing twice is a no-op)."""
    records = read_jsonl(path)
    return memory.put_records(records)
