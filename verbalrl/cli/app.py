"""The `verbalrl` command: the typer app, its one error path, and the groups mounted on it.

In scope: `app`, `main` (the console script and `python -m verbalrl.cli`),
turning an error a user can cause into one line and exit code 2 (`format_error`;
the same for every group, `verbalrl memory` included), and mounting the
groups: `models` (`models`, `generate`), `tasks`, `serve`, `verifier`
(`sample`, `eval-verifier`, `train-verifier`), `generator`
(`train-generator`), `memory` and `run` (`run`, `solve`). Left out: the
commands (one module per group) and the options they share (`options.py`).
Imports go one way: app -> groups -> options -> library; the groups import
heavy libraries (torch, chromadb) inside their commands, so importing this
module and `verbalrl --help` stay light.
"""

from __future__ import annotations

from typing import Any

import typer
from pydantic import ValidationError
from rich.text import Text
from typer.core import TyperGroup

from ..errors import VerbalRLError
from . import generator, memory, models, process, run, serve, tasks, verifier
from .options import err_console

USER_ERRORS = (VerbalRLError, ValidationError, ValueError)


def format_error(exc: Exception) -> str:
    """The one line shown for an error a user caused (a `ValidationError` names its fields)."""
    if isinstance(exc, ValidationError):
        parts = [f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return "invalid value: " + "; ".join(parts)
    return str(exc)


class _Group(TyperGroup):
    """The top-level group: an error a user caused, in any sub-command, exits 2 with one line."""

    def invoke(self, ctx: Any) -> Any:  # a click Context (typer vendors click)
        try:
            return super().invoke(ctx)
        except USER_ERRORS as exc:
            # soft_wrap: the message stays one line however narrow the terminal.
            err_console.print(Text("error: ", style="red") + format_error(exc), soft_wrap=True)
            raise typer.Exit(2) from exc


app = typer.Typer(
    name="verbalrl",
    cls=_Group,
    help="Reasoning agents that learn by verbal reinforcement (GenRM verifiers + memory).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for _group in (models, tasks, serve, verifier, process, generator, memory, run):
    _group.register(app)


def main() -> None:
    """Console entry point (`verbalrl`): click handles --help, usage errors and Ctrl-C itself."""
    app()


if __name__ == "__main__":
    main()
