"""The `verbalrl` command: real entry point, real model, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "verbalrl.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_help_lists_commands():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("models", "generate", "tasks", "serve"):
        assert command in result.stdout


def test_models_json_points_at_the_packaged_gguf():
    result = run_cli("models", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["models"]
    default = next(r for r in rows if r["alias"] == "smollm2-135m-instruct")
    assert default["resolves_to"].endswith("SmolLM2-135M-Instruct.Q4_1.gguf")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["generate", "--n", "0", "hi"], "n: Input should be greater than or equal to 1"),
        (["generate", "--temperature", "-1", "hi"], "temperature"),
        (["generate", "--model", "no-such-model", "hi"], "unknown model 'no-such-model'"),
        (["generate"], "no prompts"),
        (["tasks", "sample", "no-such-task"], "no-such-task"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(args, message):
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_generate_four_completions_as_json(smollm):  # smollm: the model is converted already
    result = run_cli(
        "generate",
        "--model",
        "smollm2-135m-instruct",
        "--n",
        "4",
        "--max-new-tokens",
        "12",
        "--seed",
        "0",
        "--json",
        "What is 2 + 3?",
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload[0]["prompt"] == "What is 2 + 3?"
    completions = payload[0]["completions"]
    assert len(completions) == 4
    assert all(c["completion_tokens"] >= 1 and c["text"] for c in completions)


def test_tasks_list_and_sample_json():
    listed = run_cli("tasks", "--json")
    assert listed.returncode == 0, listed.stderr
    names = json.loads(listed.stdout)
    assert {"last_letter", "word_sort", "arithmetic", "gsm8k", "jsonl"} <= set(names)
    sampled = run_cli("tasks", "sample", "word_sort", "--n", "2", "--json")
    assert sampled.returncode == 0, sampled.stderr
    rows = json.loads(sampled.stdout)
    assert len(rows) == 2
    for row in rows:
        words = row["question"]
        assert row["answer"].split() == sorted(row["answer"].split())
        assert all(w in words for w in row["answer"].split())


def test_help_lists_every_group():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in (
        "models", "generate", "tasks", "serve", "sample", "eval-verifier", "train-verifier",
        "train-generator", "self-train", "consolidate", "memory", "run", "solve", "tune",
    ):
        assert command in result.stdout, command


def test_importing_the_app_imports_neither_torch_nor_chromadb():
    # `verbalrl.cli.app` the attribute is the typer app; the module is in sys.modules.
    code = (
        "import importlib, sys; module = importlib.import_module('verbalrl.cli.app'); "
        "heavy = [m for m in ('torch', 'transformers', 'chromadb', 'langgraph') if m in sys.modules]; "
        "assert not heavy, heavy; import verbalrl.cli as cli; "
        "assert cli.main is module.main and cli.app is module.app"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_console_script_points_at_main():
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"]["verbalrl"] == "verbalrl.cli:main"


@pytest.mark.parametrize(
    "args",
    [["memory", "show", "exp-nope", "--path", "{tmp}/mem", "--embedder", "hash:8"], ["no-such-command"]],
)
def test_bad_input_exits_2_everywhere(tmp_path, args):
    result = run_cli(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
