"""Presenting an `EvalReport`: `eval.json`, the accuracy-vs-N PNG and a rich table.

In scope: `write_report(report, out_dir)` (JSON plus the figure from
`plot.py`) and `render_table(report)`, which shows accuracy with its CI per
N, the compute each method used at the largest N, and each verifier's AUC.
Left out: computing anything (`evaluate.py`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from .evaluate import EvalReport

if TYPE_CHECKING:
    from rich.table import Table

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


def _percent(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def render_table(report: EvalReport) -> Table:
    """One row per method: accuracy % [95% CI] per N, then compute and AUC at the largest N."""
    from rich.table import Table  # rich only when a table is drawn (the CLI), not on import
    from rich.text import Text

    top = max(report.ns)
    stats = report.pool
    skipped = f"; skipped N={report.skipped_ns} (pool too small)" if report.skipped_ns else ""
    table = Table(
        title=(
            f"Best-of-N accuracy (%) over {stats.problems} problems, "
            f"{stats.candidates} candidates; compute per problem at N={top}"
        ),
        caption=(
            f"per-sample accuracy {_percent(stats.per_sample_accuracy)}%; "
            f"{report.draws} draws; {report.bootstrap} bootstrap resamples{skipped}"
        ),
    )
    table.add_column("method", no_wrap=True)
    for n in report.ns:
        table.add_column(f"N={n}", justify="right")
    for col in ("LLM calls", "gen tokens", "gap closed", "AUC"):
        table.add_column(col, justify="right")
    auc = {v.name: v.auc for v in report.verifiers}
    for label in report.labels():
        cells = []
        for n in report.ns:
            r = report.result(label, n)
            cells.append(f"{_percent(r.accuracy)} [{_percent(r.ci_low)}, {_percent(r.ci_high)}]")
        last = report.result(label, top)
        verifier_auc = auc.get(last.verifier) if last.verifier else None
        table.add_row(
            Text(label),  # Text, not markup: "best_of_n[genrm]" would read as a style tag
            *cells,
            f"{last.llm_calls:.1f}",
            f"{last.generated_tokens:.0f}",
            _percent(last.gap_closed) + ("%" if last.gap_closed is not None else ""),
            "-" if verifier_auc is None else f"{verifier_auc:.3f}",
        )
    return table
