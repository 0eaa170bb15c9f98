"""Writing an `EvalReport`: `eval.json` and the accuracy-vs-N PNG.

In scope: `write_report(report, out_dir)` (JSON plus the figure from
`plot.py`). Left out: computing anything (`evaluate.py`) and the terminal
table (`verbalrl.console.render_table`).
"""

from __future__ import annotations

import json
from pathlib import Path

from .evaluate import EvalReport

JSON_NAME = "eval.json"
PNG_NAME = "accuracy_vs_n.png"


def write_report(report: EvalReport, out_dir: str | Path, *, plot: bool = True) -> dict[str, Path]:
    """Write `eval.json` and (with `plot`) the PNG into `out_dir`; return their paths by kind."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"json": folder / JSON_NAME}
    payload = report.model_dump(mode="json")
    paths["json"].write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    if plot:
        from .plot import plot_accuracy

        paths["png"] = plot_accuracy(report, folder / PNG_NAME)
    return paths
