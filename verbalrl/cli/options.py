"""Options shared by the command groups, each defined once, and how they become library objects.

In scope: the `Annotated` option types every group uses (model, dtype,
CPU threads, server URL, task, level, data file, number of problems, seed, JSON output,
and the fine-tuning flags, whose defaults are read from `SFTConfig` so each
default lives once), their one parser (`task_options`: `--level 2` is an
int, `--level sum30` a name), loading the model behind `--model` with a
status line (`load_model`), old option spellings that still work but are not
shown (`hidden_aliases`), and the output two groups share (JSON, a training
summary). Imports go one way: app -> groups -> options -> library.
Left out: the commands, and the app and its error formatter (`app.py`).

Names agree across commands: a data file is `--data` (`--path` is its old,
hidden spelling), the number of problems is `--problems` (`--n` / `-n` the
old spelling for `run` and `tasks sample`).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperCommand

from ..errors import VerbalRLError
from ..training.sft_config import SFTConfig

console = Console()
err_console = Console(stderr=True)

# ----------------------------------------------------------------- models
ModelOpt = Annotated[
    str, typer.Option("--model", "-m", help="alias, folder, .gguf, hub id, openai:NAME or vllm:NAME")
]
DtypeOpt = Annotated[str, typer.Option(help="auto | float32 | bfloat16")]
BaseUrlOpt = Annotated[str | None, typer.Option(help="server URL for openai:NAME models")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print machine-readable JSON")]


def apply_threads(ctx: typer.Context, param: typer.CallbackParam, value: str | None) -> str | None:
    """Check `--threads` / `$VERBALRL_THREADS` while parsing; the model load applies it.

    The count goes into `$VERBALRL_THREADS`, which `verbalrl.threads.configure_threads`
    reads when a model loads (and child processes inherit); "auto" clears it.
    """
    from ..threads import ENV_VAR, parse_threads

    source = ctx.get_parameter_source(param.name) if param.name else None
    from_env = getattr(source, "name", None) == "ENVIRONMENT"  # click's ParameterSource (typer vendors click)
    n = parse_threads(value, f"${ENV_VAR}" if from_env else "--threads")
    if n is None:
        os.environ.pop(ENV_VAR, None)
    else:
        os.environ[ENV_VAR] = str(n)
    return value


ThreadsOpt = Annotated[
    str | None,
    typer.Option(
        "--threads",
        envvar="VERBALRL_THREADS",
        callback=apply_threads,
        help="torch CPU threads: a number, or auto (default: the cores free when the model loads)",
    ),
]

# ----------------------------------------------------------------- tasks and problems
TaskOpt = Annotated[str, typer.Option("--task", help="task name (see `verbalrl tasks list`)")]
LevelOpt = Annotated[str | None, typer.Option(help="difficulty level (arithmetic: 1, 2, 3, 4, sum30)")]
DataOpt = Annotated[str | None, typer.Option("--data", help="data file or folder for gsm8k / jsonl tasks")]
SplitOpt = Annotated[str, typer.Option(help="train | test")]
SeedOpt = Annotated[int, typer.Option(help="random seed (which problems, sampling)")]
ProblemsOpt = Annotated[int, typer.Option("--problems", help="number of problems")]
PoolOpt = Annotated[Path, typer.Option("--pool", help="labelled candidate pool (from `verbalrl sample`)")]


TaskOptionOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--task-option",
        help="KEY=VALUE option of the task (repeatable), e.g. --task-option test_max_words=2",
    ),
]


def task_options(
    level: str | None = None, data: str | None = None, extra: list[str] | None = None
) -> dict[str, Any]:
    """The `get_task` options of `--level`, `--data` and `--task-option KEY=VALUE` (numbers become ints)."""
    options: dict[str, Any] = {}
    if level:
        options["level"] = int(level) if level.isdigit() else level
    if data:
        options["path"] = data
    for item in extra or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise VerbalRLError(f"--task-option takes KEY=VALUE, got {item!r}")
        options[key.strip()] = int(value) if value.strip().isdigit() else value.strip()
    return options


def given_options(ctx: typer.Context, names: tuple[str, ...]) -> list[str]:
    """The options among `names` given on the command line (or by environment), as `--flag`s."""
    given = []
    for param in ctx.command.params:
        source = ctx.get_parameter_source(param.name) if param.name else None
        # by name: typer vendors click, so its ParameterSource is not click's
        if param.name in names and getattr(source, "name", "DEFAULT") != "DEFAULT":
            given.append(param.opts[0] if param.opts else param.name)
    return given


# ----------------------------------------------------------------- fine-tuning (SFTConfig)
SFT_DEFAULTS = SFTConfig()  # the training flags' defaults: written once, in SFTConfig

BaseModelOpt = Annotated[str, typer.Option(help="model to fine-tune")]
MethodOpt = Annotated[str, typer.Option(help="lora | full")]
EpochsOpt = Annotated[float, typer.Option(help="passes over the training examples")]
LrOpt = Annotated[float, typer.Option("--lr", help="learning rate")]
BatchSizeOpt = Annotated[int, typer.Option(help="examples per optimiser step")]
LoraROpt = Annotated[int, typer.Option(help="LoRA rank (alpha is twice the rank)")]
ResumeOpt = Annotated[bool, typer.Option(help="continue from the last checkpoint in --out")]


def sft_config(config_class: type[SFTConfig] = SFTConfig, **values: Any) -> SFTConfig:
    """A config from the training flags; `lora_alpha` follows `lora_r` (twice it)."""
    if values.get("lora_r") is not None:
        values["lora_alpha"] = 2 * values["lora_r"]
    return config_class(**{k: v for k, v in values.items() if v is not None})


# ----------------------------------------------------------------- old spellings
OLD_SPELLINGS = {"--path": "--data", "--n": "--problems", "-n": "--problems"}


@cache
def hidden_aliases(*aliases: str) -> type[TyperCommand]:
    """A command class where each old spelling in `aliases` still works but `--help` omits it.

    Use as `@app.command("run", cls=hidden_aliases("--n", "-n"))`. For each
    alias, a copy of the canonical option (`OLD_SPELLINGS[alias]`) is added
    with only the old names and `hidden=True`. Both copies share the
    parameter's name, so the parser stores either spelling in the same slot
    and the command receives one value (the last given wins, as when one
    option is repeated).
    """
    unknown = [a for a in aliases if a not in OLD_SPELLINGS]
    if unknown:
        raise ValueError(f"no canonical option for {unknown}: add them to OLD_SPELLINGS")

    class HiddenAliasCommand(TyperCommand):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            copies = []
            for param in self.params:
                names = [a for a in aliases if OLD_SPELLINGS[a] in getattr(param, "opts", ())]
                if names:
                    alias = copy.copy(param)
                    alias.opts, alias.secondary_opts, alias.hidden = names, [], True  # type: ignore[attr-defined]
                    copies.append(alias)
            self.params.extend(copies)

    return HiddenAliasCommand


# ----------------------------------------------------------------- models
def quiet_transformers() -> None:
    """Hide transformers' per-load progress bars and warnings in CLI output."""
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def load_model(
    model: str, base_url: str | None = None, dtype: str = "auto", *, retry_wait: float | None = None
) -> Any:
    """Load the model behind `--model` with a status line (every command that takes --model).

    Any backend registered with `verbalrl.llm.registry.register_backend`
    works: `--model fake:x` after `register_backend("fake", loader)`.
    `retry_wait`: for an `openai:` model, seconds to wait for an unreachable server.
    """
    from ..llm.registry import load_llm, split_backend

    kind, _ = split_backend(model)
    with err_console.status(f"loading {model} ..."):
        if kind == "openai":
            waiting: dict[str, Any] = {} if retry_wait is None else {"retry_wait": retry_wait}
            return load_llm(model, base_url=base_url, **waiting)
        if kind == "transformers":
            quiet_transformers()
        return load_llm(model, dtype=dtype)


# ----------------------------------------------------------------- output
def print_json(obj: Any) -> None:
    """`obj` as indented JSON on stdout (non-ASCII kept, anything else as its str)."""
    typer.echo(json.dumps(obj, indent=2, ensure_ascii=False, default=str))


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send a trainer's progress and loss logs to stderr, so stdout stays clean for --json."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def read_pools(paths: list[Path]) -> list[Any]:
    """The records of every `--pool` file, in order; an empty one is a clear error."""
    from ..evaluation.pool import read_pool

    records = []
    for path in paths:
        part = read_pool(path)
        if not part:
            raise VerbalRLError(f"pool {path} is empty")
        records += part
    return records


def print_training(result: Any, json_out: bool) -> None:
    """What a training run did (a `TrainResult`): one line, or JSON with --json."""
    summary = {
        "output_dir": str(result.output_dir),
        "examples": result.examples,
        "dropped": result.dropped,
        "steps": result.steps,
        "first_loss": result.loss_history[0][1] if result.loss_history else None,
        "last_loss": result.loss_history[-1][1] if result.loss_history else None,
        "seconds": round(result.seconds, 1),
    }
    if json_out:
        print_json(summary)
        return
    console.print(
        f"trained on {summary['examples']} examples ({summary['dropped']} dropped), "
        f"{summary['steps']} steps, loss {summary['first_loss']} -> {summary['last_loss']}, "
        f"{summary['seconds']} s; saved to {summary['output_dir']}"
    )
