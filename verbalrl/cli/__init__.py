"""The `verbalrl` command: `app.py` wires the groups; one module per command group.

Imports go one way: app -> groups -> options -> library. Typer and rich are
imported only in this package (and the console renderer, `verbalrl.console`).
"""

from __future__ import annotations

from .app import app, main

__all__ = ["app", "main"]
