"""A model load prints nothing but the answer: no weight-loading bars, no library deprecation warnings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

NOISE = ("Loading weights", "FutureWarning", "deprecated", "it/s]")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "default"}
    cmd = [sys.executable, "-m", "verbalrl.cli", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_generate_and_memory_search_print_no_loading_noise(tmp_path: Path) -> None:
    done = run("generate", "--model", "smollm2-135m-instruct", "--max-new-tokens", "4", "Hi", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert not [n for n in NOISE if n in done.stderr + done.stdout], done.stderr
    done = run("memory", "search", "What is 2 + 2?", "--path", str(tmp_path / "mem"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert not [n for n in NOISE if n in done.stderr + done.stdout], done.stderr


def test_quiet_loading_restores_the_users_progress_bar_setting() -> None:
    from transformers.utils import logging as hf_logging

    from verbalrl.quiet import quiet_loading

    hf_logging.enable_progress_bar()
    with quiet_loading():
        assert not hf_logging.is_progress_bar_enabled()
    assert hf_logging.is_progress_bar_enabled()
