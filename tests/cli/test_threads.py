"""`--threads` / `$VERBALRL_THREADS` on the commands that run models: parsed, checked, applied."""

from __future__ import annotations

import os

import pytest

from verbalrl.llm.fake import FakeLLM
from verbalrl.testing import registered_backend
from verbalrl.threads import ENV_VAR

from .conftest import invoke

MODEL_COMMANDS = [["generate"], ["run"], ["solve"], ["sample"], ["eval-verifier"], ["train-verifier"],
                  ["train-generator"], ["serve"]]  # fmt: skip


@pytest.fixture
def seen(monkeypatch):
    """A fake backend that records `$VERBALRL_THREADS` as the model loads; the variable is restored."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    values: list[str | None] = []

    def load(model, **options):
        values.append(os.environ.get(ENV_VAR))
        return FakeLLM(["4"], name=model)

    with registered_backend("fake", load):
        yield values


@pytest.mark.parametrize("command", MODEL_COMMANDS)
def test_every_model_command_takes_threads(command):
    code, out = invoke(*command, "--help")
    assert code == 0 and "--threads" in out and "VERBALRL_THREADS" in out, (command, out)


def test_threads_reaches_the_model_load(seen):
    code, out = invoke("generate", "--model", "fake:toy", "--threads", "3", "hi")
    assert code == 0, out
    assert seen == ["3"]


def test_auto_clears_an_inherited_env_var(seen, monkeypatch):
    monkeypatch.setenv(ENV_VAR, "3")
    code, out = invoke("generate", "--model", "fake:toy", "--threads", "auto", "hi")
    assert code == 0, out
    assert seen == [None]


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--threads", "0"], {}, "--threads must be a positive number of threads or 'auto', got '0'"),
        (["--threads", "lots"], {}, "--threads must be a positive number of threads or 'auto', got 'lots'"),
        ([], {ENV_VAR: "-1"}, "$VERBALRL_THREADS must be a positive number of threads or 'auto', got '-1'"),
    ],
)
def test_bad_thread_counts_exit_2_naming_where_they_came_from(seen, monkeypatch, args, env, message):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    code, out = invoke("generate", "--model", "fake:toy", *args, "hi")
    assert code == 2, out
    assert out == f"error: {message}\n"
    assert seen == []  # refused before any model loaded


def test_threads_sets_torch_for_a_real_model(tiny_llama_dir, monkeypatch):
    import torch

    monkeypatch.delenv(ENV_VAR, raising=False)
    before = torch.get_num_threads()
    target = 1 if before > 1 else 2
    try:
        code, out = invoke("generate", "--model", tiny_llama_dir, "--threads", target, "--max-new-tokens", 2,
                           "--dtype", "float32", "hi")  # fmt: skip
        assert code == 0, out
        assert torch.get_num_threads() == target
    finally:
        torch.set_num_threads(before)
