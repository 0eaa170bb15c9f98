"""Options shared by the command groups, each defined once, and how they become library objects.

In scope: the `Annotated` option types every group uses (model, dtype,
server URL, task, level, data file, number of problems, seed, JSON output),
their one parser (`task_options`: `--level 2` is an int, `--level sum30` a
name), and loading the model behind `--model` with a status line. Imports go
one way: app -> groups -> options -> library. Left out: the commands.

Names agree across commands: a data file is `--data` (`--path` is its old,
hidden spelling), the number of problems is `--problems` (`--n` / `-n` the
old spelling for `run`).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)

ModelOpt = Annotated[
    str, typer.Option("--model", "-m", help="alias, folder, .gguf, hub id, openai:NAME or vllm:NAME")
]
DtypeOpt = Annotated[str, typer.Option(help="auto | float32 | bfloat16")]
BaseUrlOpt = Annotated[str | None, typer.Option(help="server URL for openai:NAME models")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print machine-readable JSON")]
TaskOpt = Annotated[str, typer.Option("--task", help="task name (see `verbalrl tasks list`)")]
LevelOpt = Annotated[str | None, typer.Option(help="difficulty level (arithmetic: 1, 2, 3, 4, sum30)")]
DataOpt = Annotated[str | None, typer.Option("--data", help="data file or folder for gsm8k / jsonl tasks")]
SplitOpt = Annotated[str, typer.Option(help="train | test")]
SeedOpt = Annotated[int, typer.Option(help="random seed (which problems, sampling)")]


def task_options(level: str | None = None, data: str | None = None) -> dict[str, Any]:
    """The `get_task` options of `--level` and `--data` (a numeric level becomes an int)."""
    options: dict[str, Any] = {}
    if level:
        options["level"] = int(level) if level.isdigit() else level
    if data:
        options["path"] = data
    return options


def quiet_transformers() -> None:
    """Hide transformers' per-load progress bars and warnings in CLI output."""
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def load_model(model: str, base_url: str | None = None, dtype: str = "auto") -> Any:
    """Load the model behind `--model` with a status line (every command that takes --model)."""
    from ..llm.registry import load_llm, split_backend

    kind, _ = split_backend(model)
    with err_console.status(f"loading {model} ..."):
        if kind == "openai":
            return load_llm(model, base_url=base_url)
        if kind == "transformers":
            quiet_transformers()
        return load_llm(model, dtype=dtype)
