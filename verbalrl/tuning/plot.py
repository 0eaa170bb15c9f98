"""The Pareto front of a tune as a PNG: accuracy on the dev split against compute per problem.

In scope: `plot_pareto(result, path)`: every finished trial as a point
(pruned ones hollow, at their partial accuracy), the front as a step line,
the budget as a vertical line and the chosen trial marked. matplotlib on the
Agg backend (`evaluation.plot.figure`). Left out: computing the front (`pareto.py`).
"""

from __future__ import annotations

from pathlib import Path

from ..evaluation.plot import figure
from .study import TuneResult


def plot_pareto(result: TuneResult, path: str | Path, title: str | None = None) -> Path:
    """Write the plot of `result` to `path` (PNG); returns the path."""
    objective = result.settings.objective
    plt, fig, ax, target = figure(path, (6.4, 4.2))
    complete = [r for r in result.results if r.complete and r.accuracy is not None]
    pruned = [r for r in result.results if r.state == "pruned" and r.accuracy is not None]
    ax.scatter([r.cost(objective) for r in complete], [r.accuracy for r in complete], color="tab:blue",
               alpha=0.6, label="trials")  # fmt: skip
    if pruned:
        ax.scatter([r.cost(objective) for r in pruned], [r.accuracy for r in pruned], facecolors="none",
                   edgecolors="tab:gray", label="pruned (first dev chunk)")  # fmt: skip
    if result.front:
        xs = [r.cost(objective) for r in result.front]
        ys = [r.accuracy for r in result.front]
        ax.step(xs, ys, where="post", color="tab:red", label="Pareto front")
        ax.scatter(xs, ys, color="tab:red", zorder=3)
    if result.budget_calls is not None and objective == "calls":
        ax.axvline(result.budget_calls, color="0.4", linestyle="--", label=f"budget {result.budget_calls:g}")
    if result.chosen is not None:
        ax.scatter([result.chosen.cost(objective)], [result.chosen.accuracy], marker="*", s=220,
                   color="gold", edgecolors="black", zorder=4, label=f"chosen (trial {result.chosen.number})")
    ax.set_xlabel("LLM calls per problem" if objective == "calls" else "generated tokens per problem")
    ax.set_ylabel(f"dev accuracy ({result.settings.scoring})")
    ax.set_ylim(-0.03, 1.03)
    ax.set_title(title or f"{result.settings.base.task}: {len(result.finished())} trials")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(target)
    plt.close(fig)
    return target
