"""`verbalrl memory ...` through typer's CliRunner on the main app, on a real store.

Bad input exits 2 with one line, through the main app's one error path, as every command does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from verbalrl.cli import app
from verbalrl.memory import ChromaMemory, Experience

runner = CliRunner()


def _seed(tmp_path: Path, exp: Callable[..., Experience]) -> tuple[Path, str]:
    folder = tmp_path / "mem"
    with ChromaMemory(folder, embedder="hash:64") as memory:
        ids = memory.add_experiences(
            [
                exp("What is 17 + 25?", "42"),
                exp("What is 9 * 9?", "18", outcome="failure", reflection="9*9 is 81."),
                exp("Sort: b a", "a b", task="sorting", verified=False),
            ]
        )
    return folder, ids[0]


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["memory", *args])
    return result.exit_code, result.output


def test_stats_search_show(tmp_path: Path, exp: Callable[..., Experience]) -> None:
    folder, first = _seed(tmp_path, exp)
    common = ["--path", str(folder), "--embedder", "hash:64"]
    code, out = _run("stats", *common, "--json")
    assert code == 0, out
    info = json.loads(out)
    assert info["experiences"] == 3 and info["reflections"] == 1
    assert info["by_task"]["arith"] == {"exemplar": 1, "failure": 1, "unverified": 0}
    assert info["by_task"]["sorting"]["unverified"] == 1
    code, out = _run("stats", *common)
    assert code == 0 and "experiences 3" in out and "sorting" in out

    code, out = _run("search", "What is 17 + 25?", "--task", "arith", *common)
    assert code == 0 and "```quoted-data\nProblem: What is 17 + 25?\nSolution: 42" in out
    code, out = _run("search", "What is 17 + 25?", "--task", "arith", "--exclude-problem", "--json", *common)
    data = json.loads(out)
    assert [r["experience"]["problem"] for r in data["exemplars"]] == []
    assert data["failures"][0]["experience"]["reflection"] == "9*9 is 81."

    code, out = _run("show", first, *common, "--json")
    assert code == 0 and json.loads(out)["solution"] == "42"
    code, out = _run("show", "exp-nope", *common)
    assert code == 2 and "no record" in out


def test_export_import_prune(tmp_path: Path, exp: Callable[..., Experience]) -> None:
    folder, _ = _seed(tmp_path, exp)
    file = tmp_path / "out.jsonl"
    code, out = _run("export", str(file), "--path", str(folder), "--embedder", "hash:64")
    assert code == 0 and "exported 4 records" in out
    target = tmp_path / "copy"
    code, out = _run("import", str(file), "--path", str(target), "--embedder", "hash:64")
    assert code == 0 and "imported 4 records" in out
    code, out = _run("stats", "--path", str(target), "--embedder", "hash:64", "--json")
    assert json.loads(out)["experiences"] == 3
    code, out = _run("prune", "--max-per-task", "1", "--path", str(target), "--embedder", "hash:64", "--json")
    assert code == 0 and json.loads(out)["experience"] == 1  # arith had 2, cap 1
    code, out = _run("import", str(tmp_path / "missing.jsonl"), "--path", str(target))
    assert code == 2 and "does not exist" in out


def test_clear_errors_for_a_held_or_mismatched_folder(tmp_path: Path, exp: Callable[..., Experience]) -> None:
    folder, _ = _seed(tmp_path, exp)
    with ChromaMemory(folder, embedder="hash:64"):
        code, out = _run("stats", "--path", str(folder), "--embedder", "hash:64")
    assert code == 2 and "in use by another writer" in out
    code, out = _run("stats", "--path", str(folder))  # default embedder: mismatch, model not loaded
    assert code == 2 and "hash:64" in out
