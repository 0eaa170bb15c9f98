"""The paper's figure: Best-of-N accuracy against N, one line per method, with CI bands.

In scope: `plot_accuracy(report, path)` writing a PNG with matplotlib's Agg
backend (no display needed). Left out: the JSON and the table (`report.py`).
matplotlib is imported here only, inside the function, so evaluating without
it installed still works; a missing matplotlib raises an `ImportError` with
the install hint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .evaluate import EvalReport

# Baselines are drawn distinctly so the verifier lines stand out against them.
_BASELINE_STYLE: dict[str, dict[str, Any]] = {
    "first_sample": {"linestyle": ":", "color": "0.45"},
    "self_consistency": {"linestyle": "--", "color": "tab:gray"},
    "pass@n": {"linestyle": "-.", "color": "black"},
}


def figure(path: str | Path, size: tuple[float, float]) -> tuple[Any, Any, Any, Path]:
    """(pyplot, figure, axes, target path with its folder made) for a PNG; matplotlib on Agg."""
    try:
        import matplotlib
    except ImportError as exc:  # an optional dependency: say how to get it
        raise ImportError("plotting needs matplotlib: pip install matplotlib") from exc
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=size, dpi=120)
    return plt, fig, ax, target


def plot_accuracy(report: EvalReport, path: str | Path, title: str | None = None) -> Path:
    """Write accuracy vs N (log2 x-axis, percent y-axis, 95% CI bands) to `path` as PNG."""
    plt, fig, ax, target = figure(path, (7, 4.5))
    try:
        for label in report.labels():
            rows = sorted((r for r in report.results if r.label == label), key=lambda r: r.n)
            xs = [r.n for r in rows]
            style: dict[str, Any] = dict(_BASELINE_STYLE.get(label, {}))
            line = ax.plot(
                xs, [100 * r.accuracy for r in rows], marker="o", markersize=3, label=label, **style
            )[0]
            ax.fill_between(
                xs,
                [100 * r.ci_low for r in rows],
                [100 * r.ci_high for r in rows],
                color=line.get_color(),
                linewidth=0,
                # baselines' bands fainter, so verifier bands stay readable
                alpha=0.06 if label in _BASELINE_STYLE else 0.15,
            )
        if len(report.ns) > 1:
            ax.set_xscale("log", base=2)
        ax.set_xticks(report.ns, [str(n) for n in report.ns])
        ax.set_xlabel("N (candidates per problem)")
        ax.set_ylabel("accuracy (%)")
        ax.set_title(title or f"Best-of-N over {report.pool.problems} problems (95% CI)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
        fig.tight_layout()
        fig.savefig(target, format="png")
    finally:
        plt.close(fig)
    return target
