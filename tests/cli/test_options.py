"""Shared options: hidden old spellings (work, but not in --help), one parser for --level/--data."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from verbalrl.cli.options import ProblemsOpt, hidden_aliases, task_options

from .conftest import invoke


def _mentions(help_text: str, option: str) -> bool:
    """Whether `option` appears as an option name (`--n` is not `--n-drafts`)."""
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", help_text) is not None


@pytest.fixture
def toy() -> typer.Typer:
    app = typer.Typer()

    @app.command("count", cls=hidden_aliases("--n", "-n"))
    def count(problems: ProblemsOpt = 50, seed: int = 0) -> None:
        typer.echo(f"problems={problems} seed={seed}")

    @app.command("other")
    def other() -> None:
        pass

    return app


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], 50),
        (["--problems", "3"], 3),
        (["--n", "4"], 4),
        (["-n", "5"], 5),
        (["--problems", "1", "--n", "6"], 6),  # the last given wins, as for a repeated option
    ],
)
def test_an_old_spelling_fills_the_canonical_option(toy, args, expected):
    result = CliRunner().invoke(toy, ["count", *args])
    assert result.exit_code == 0, result.output
    assert f"problems={expected} seed=0" in result.output


def test_an_old_spelling_is_not_in_help_and_is_checked_like_the_option(toy):
    result = CliRunner().invoke(toy, ["count", "--help"], env={"COLUMNS": "200"})
    assert _mentions(result.output, "--problems")
    assert not _mentions(result.output, "--n") and not _mentions(result.output, "-n")
    bad = CliRunner().invoke(toy, ["count", "--n", "x"])
    assert bad.exit_code == 2 and "--n" in bad.output


def test_an_unknown_old_spelling_is_refused_when_the_command_is_written():
    with pytest.raises(ValueError, match="OLD_SPELLINGS"):
        hidden_aliases("--nope")


def test_task_options_parse_level_and_data_once():
    assert task_options("2", None) == {"level": 2}
    assert task_options("sum30", "f.jsonl") == {"level": "sum30", "path": "f.jsonl"}
    assert task_options() == {}


@pytest.mark.parametrize(
    ("command", "canonical", "hidden"),
    [
        (["run"], ["--problems", "--data"], ["--n", "-n"]),
        (["tasks", "sample"], ["--problems", "--data"], ["--n", "--path"]),
        (["sample"], ["--problems", "--data"], ["--path"]),
        (["solve"], ["--data"], ["--path"]),
        (["train-generator"], ["--problems", "--data"], []),
    ],
)
def test_help_shows_the_canonical_names_only(command, canonical, hidden):
    code, out = invoke(*command, "--help")
    assert code == 0, out
    for name in canonical:
        assert _mentions(out, name), (command, name)
    for name in hidden:
        assert not _mentions(out, name), (command, name)


def test_generate_keeps_n_as_samples_per_prompt():
    code, out = invoke("generate", "--help")
    assert code == 0 and _mentions(out, "--n") and "samples per prompt" in out
