"""JSONL export/import: the version-independent backup."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from verbalrl.memory import (
    ChromaMemory,
    Concept,
    Experience,
    MemoryImportError,
    export_jsonl,
    import_jsonl,
)


def _fill(memory: ChromaMemory, exp: Callable[..., Experience]) -> None:
    memory.add_experiences(
        [
            exp("What is 17 + 25?", "42", score=0.9),
            exp("What is 17 + 25 ?", "42", score=0.5),  # merges: count 2
            exp("What is 9 * 9?", "18", outcome="failure", reflection="9*9 is 81, not 9+9."),
            exp("Sort: b a", "a b", task="sorting", provenance={"model": "smollm2", "run": "r1"}),
        ]
    )
    memory.replace_concepts("arith", [Concept(text="Carry the tens.", task="arith", strength=3)])


def _snapshot(memory: ChromaMemory) -> dict[str, list[str]]:
    return {
        kind: sorted(r.model_dump_json() for r in memory.iter_records(kind))  # type: ignore[arg-type]
        for kind in ("experience", "reflection", "concept")
    }


def test_export_then_import_restores_every_record(
    make_memory: Callable[..., ChromaMemory], exp: Callable[..., Experience], tmp_path: Path
) -> None:
    source = make_memory(path=tmp_path / "a")
    _fill(source, exp)
    file = tmp_path / "backup.jsonl"
    assert export_jsonl(source, file) == 5
    lines = [json.loads(line) for line in file.read_text().splitlines()]
    assert lines[0]["verbalrl_memory"] == 1
    assert "embedding" not in file.read_text()
    target = make_memory(path=tmp_path / "b")
    assert import_jsonl(target, file) == 5
    assert _snapshot(target) == _snapshot(source)
    import_jsonl(target, file)  # twice: still the same
    assert _snapshot(target) == _snapshot(source)
    # The restored store works: recall finds the merged exemplar with its count.
    ctx = target.recall("What is 17 + 25?", task="arith", k=1)
    assert ctx.exemplars[0].experience.count == 2
    assert len(list(source.iter_records("experience", task="sorting"))) == 1


def test_export_of_one_task(
    make_memory: Callable[..., ChromaMemory], exp: Callable[..., Experience], tmp_path: Path
) -> None:
    memory = make_memory()
    _fill(memory, exp)
    assert export_jsonl(memory, tmp_path / "s.jsonl", task="sorting") == 1


def test_a_bad_line_is_named_and_nothing_is_written(
    make_memory: Callable[..., ChromaMemory], exp: Callable[..., Experience], tmp_path: Path
) -> None:
    source = make_memory(path=tmp_path / "a")
    _fill(source, exp)
    file = tmp_path / "backup.jsonl"
    export_jsonl(source, file)
    lines = file.read_text().splitlines()
    broken = tmp_path / "broken.jsonl"
    broken.write_text("\n".join(lines[:3] + ['{"kind": "experience", "record": {"task": "t"}}'] + lines[3:]))
    target = make_memory(path=tmp_path / "b")
    with pytest.raises(MemoryImportError, match="line 4: invalid experience"):
        import_jsonl(target, broken)
    assert target.count() == 0
    broken.write_text(lines[0] + "\nnot json\n")
    with pytest.raises(MemoryImportError, match="line 2: not JSON"):
        import_jsonl(target, broken)
