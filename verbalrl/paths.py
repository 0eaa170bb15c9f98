"""Where verbalrl keeps files: `$VERBALRL_HOME`, default `~/.cache/verbalrl`.

In scope: resolving the home folder (model cache, memory and runs live under it).
Nothing here creates files.
"""

from __future__ import annotations

import os
from pathlib import Path


def verbalrl_home() -> Path:
    """The root folder for caches, memory and runs (`$VERBALRL_HOME`)."""
    env = os.environ.get("VERBALRL_HOME")
    base = Path(env).expanduser() if env else Path.home() / ".cache" / "verbalrl"
    return base
