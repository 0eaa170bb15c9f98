"""The thread policy (`verbalrl.threads`): parsing, the free-core choice, and what reaches torch.

Speed is the business of `benchmarks/busy_machine.py`; these tests check that
the settings are parsed, validated and applied: in this process, in a fresh
interpreter (libgomp's wait policy can only be seen from one), and via the CLI.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from verbalrl import threads
from verbalrl.errors import VerbalRLError
from verbalrl.threads import ENV_VAR, choose_threads, configure_threads, parse_threads

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("value", "expected"), [(None, None), ("", None), ("auto", None), (" AUTO ", None),
                                                 ("1", 1), (" 3 ", 3), (2, 2)])  # fmt: skip
def test_parse_threads_accepts_counts_and_auto(value, expected):
    assert parse_threads(value) == expected


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5", 0])
def test_parse_threads_names_the_source_and_the_value(value):
    with pytest.raises(VerbalRLError, match=rf"--threads must be .* got {value!r}"):
        parse_threads(value, "--threads")


def test_env_var_wins_over_the_free_cores(monkeypatch):
    monkeypatch.setattr(threads, "free_cores", lambda window=0.08: pytest.fail("measured despite the env"))
    monkeypatch.setenv(ENV_VAR, "3")
    assert choose_threads() == 3
    assert choose_threads(1) == 1  # an explicit argument wins over the env


def test_bad_env_var_is_an_error_naming_it(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "many")
    with pytest.raises(VerbalRLError, match=r"VERBALRL_THREADS must be .* got 'many'"):
        choose_threads()


@pytest.mark.parametrize(("free", "cores", "expected"), [(0.0, 2, 1), (0.3, 2, 1), (1.2, 2, 1), (1.6, 2, 2),
                                                         (2.0, 2, 2), (7.9, 4, 4), (3.4, 8, 3)])  # fmt: skip
def test_auto_uses_the_free_cores_rounded_within_the_allowed(monkeypatch, free, cores, expected):
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setattr(threads, "free_cores", lambda window=0.08: free)
    monkeypatch.setattr(threads, "allowed_cores", lambda: cores)
    assert choose_threads() == expected


def test_free_cores_is_a_share_of_the_allowed_cores():
    free = threads.free_cores(window=0.05)
    assert 0.0 <= free <= threads.allowed_cores() <= (os.cpu_count() or 1)


def test_configure_threads_sets_torch_and_keeps_the_first_auto_choice(monkeypatch):
    import torch

    before = torch.get_num_threads()
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setattr(threads, "_chosen", None)
    monkeypatch.setattr(threads, "free_cores", lambda window=0.08: 1.0)
    try:
        assert configure_threads() == 1
        assert torch.get_num_threads() == 1
        monkeypatch.setattr(threads, "free_cores", lambda window=0.08: pytest.fail("measured twice"))
        assert configure_threads() == 1  # a later load keeps the process's choice
        assert configure_threads(2) == 2 and torch.get_num_threads() == 2  # an explicit count applies
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize(
    ("env", "spincount_env", "spins"),
    [
        ({}, "3000", "3000"),  # torch alone would spin 300000 times (the collapse on a busy machine)
        ({"OMP_WAIT_POLICY": "active"}, None, "30000000000"),
        ({"OMP_WAIT_POLICY": "passive"}, None, "0"),
        ({"GOMP_SPINCOUNT": "100"}, "100", "100"),
    ],
)
def test_wait_policy_reaches_libgomp_unless_the_user_chose_one(env, spincount_env, spins):
    """libgomp prints what it read when torch loaded it (OMP_DISPLAY_ENV): verbalrl sets it before."""
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", ENV_VAR)}
    code = "import verbalrl.llm.transformers_backend, os; print(os.environ.get('GOMP_SPINCOUNT'))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, **env, "OMP_DISPLAY_ENV": "VERBOSE", "PYTHONPATH": str(REPO)},
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    assert out.stdout.strip() == str(spincount_env)
    assert f"GOMP_SPINCOUNT = '{spins}'" in out.stderr


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="torch starts with one thread anyway")
def test_model_load_applies_the_env_var_in_a_fresh_process(tiny_llama_dir):
    code = (
        "import sys, torch; from verbalrl.llm.transformers_backend import TransformersLLM; "
        "n = torch.get_num_threads(); TransformersLLM.load(sys.argv[1], dtype='float32'); "
        "print(n, torch.get_num_threads())"
    )
    env = {**os.environ, ENV_VAR: "1", "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code, str(tiny_llama_dir)], env=env,
                         capture_output=True, text=True, check=True, timeout=120)  # fmt: skip
    before, after = out.stdout.split()
    assert int(before) > 1 and after == "1"
