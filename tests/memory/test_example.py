"""The memory example runs and shows the lesson carrying over (it asserts that itself)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "memory_lesson.py"


@pytest.mark.slow
def test_memory_lesson_example(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(EXAMPLE), "--path", str(tmp_path / "m")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "first problem solved: False; later similar problem solved: True" in out.stdout
    assert "Lesson: To take p% of x" in out.stdout
