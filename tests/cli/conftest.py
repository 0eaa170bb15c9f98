"""Helpers for the CLI tests: the main app under typer's runner, and its help text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from verbalrl.cli import app


def invoke(*args: object) -> tuple[int, str]:
    """Run `verbalrl ARGS` in this process; (exit code, stdout and stderr together)."""
    result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})
    return result.exit_code, result.output


@pytest.fixture
def qa_file(tmp_path: Path) -> Path:
    """A jsonl task file of three question/answer pairs."""
    path = tmp_path / "qa.jsonl"
    rows = [{"question": f"What is {i} + {i}?", "answer": str(2 * i)} for i in range(1, 4)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path
