"""Where verbalrl keeps files: `$VERBALRL_HOME`, default `~/.cache/verbalrl`.

In scope: resolving the home folder and its sub-folders (model cache,
memory, runs). Nothing here creates files other than the folders asked for.
"""

from __future__ import annotations

import os
from pathlib import Path


def verbalrl_home() -> Path:
    """The root folder for caches, memory and runs (`$VERBALRL_HOME`)."""
    env = os.environ.get("VERBALRL_HOME")
    base = Path(env).expanduser() if env else Path.home() / ".cache" / "verbalrl"
    return base


def home_subdir(name: str) -> Path:
    """`$VERBALRL_HOME/<name>`, created if missing."""
    path = verbalrl_home() / name
    path.mkdir(parents=True, exist_ok=True)
    return path
