"""Did the agent learn over the stream? Accuracy by family, by segment, cold against warm, paired intervals.

    from verbalrl.evaluation.learning import read_stream, stream_rows, cold_warm, rolling_accuracy

    records = read_stream("runs/stream", ["best_of_4", "reflective_memory"])
    for row in stream_rows(records):
        print(row["method"], row["accuracy"])

Reads the per-method JSONL files `verbalrl.run.stream.run_stream` writes (a
record holds `position` in the stream, `index` in its family, `family`,
`correct`, `llm_calls`, `generated_tokens`, and for the reflective graph
`exemplar_stored`). In scope: the summary rows (accuracy overall, per family
and per third of the stream, compute per problem, the exemplar gate's
precision), accuracy on each family's first `k` problems against the rest
(`cold_warm`), a rolling learning curve, paired bootstrap intervals of a
difference between methods, and the learning-curve PNG. Left out: running
the stream (`verbalrl.run.stream`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .metrics import bootstrap_ci

Records = dict[str, list[dict[str, Any]]]


def read_stream(folder: str | Path, names: Sequence[str]) -> Records:
    """Each method's records, by position (a method whose file is missing is left out)."""
    from ..run.results import read_results

    out: Records = {}
    for name in names:
        path = Path(folder) / f"{name}.jsonl"
        if path.exists():
            out[name] = sorted(read_results(path), key=lambda r: r["position"])
    return out


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _accuracy(
    records: Sequence[dict[str, Any]], keep: Callable[[dict[str, Any]], bool] | None = None
) -> float | None:
    return _mean([float(bool(r["correct"])) for r in records if keep is None or keep(r)])


def stream_rows(records: Records, segments: int = 3) -> list[dict[str, Any]]:
    """One summary row per method (see the module docstring); `segments` equal parts of the stream."""
    rows = []
    for method, items in records.items():
        if not items:
            continue
        n = max(r["position"] for r in items) + 1
        families = sorted({r["family"] for r in items})
        gated = [r for r in items if r.get("exemplar_stored")]
        row: dict[str, Any] = {
            "method": method,
            "problems": len(items),
            "accuracy": _accuracy(items),
            "families": {f: _accuracy([r for r in items if r["family"] == f]) for f in families},
            "segments": [
                _accuracy([r for r in items if s * n <= segments * r["position"] < (s + 1) * n])
                for s in range(segments)
            ],
            "llm_calls": _mean([r["llm_calls"] for r in items]),
            "generated_tokens": _mean([r["generated_tokens"] for r in items]),
        }
        if any("exemplar_stored" in r for r in items):
            row["exemplars"] = len(gated)
            row["gate_precision"] = _accuracy(gated)
        rows.append(row)
    return rows


def cold_warm(items: Sequence[dict[str, Any]], cold: int = 5) -> tuple[float | None, float | None]:
    """Accuracy on each family's first `cold` problems (pooled) and on the ones after them."""
    return (
        _accuracy(items, lambda r: r["index"] < cold),
        _accuracy(items, lambda r: r["index"] >= cold),
    )


def after(items: Sequence[dict[str, Any]], first: int) -> list[dict[str, Any]]:
    """The records after each family's first `first` problems."""
    return [r for r in items if r["index"] >= first]


def paired_difference(
    a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]], n_resamples: int = 2000
) -> tuple[float, float, float]:
    """Mean accuracy of `a` minus `b` over the problems both solved, with its paired 95 % interval."""
    mine = {r["problem_id"]: float(bool(r["correct"])) for r in a}
    theirs = {r["problem_id"]: float(bool(r["correct"])) for r in b}
    shared = [pid for pid in mine if pid in theirs]
    if not shared:
        raise ValueError("the two methods share no problem")
    diffs = [mine[p] - theirs[p] for p in shared]
    low, high = bootstrap_ci(diffs, n_resamples=n_resamples, seed=0)
    return sum(diffs) / len(diffs), low, high


def rolling_accuracy(items: Sequence[dict[str, Any]], window: int = 30) -> list[tuple[int, float]]:
    """(position, accuracy over the last `window` problems up to it), from the first full window."""
    ordered = sorted(items, key=lambda r: r["position"])
    flags = [float(bool(r["correct"])) for r in ordered]
    window = max(1, min(window, len(flags)))
    return [
        (ordered[i]["position"], sum(flags[i + 1 - window : i + 1]) / window)
        for i in range(window - 1, len(flags))
    ]


def plot_learning_curves(records: Records, path: str | Path, window: int = 30, title: str = "") -> Path:
    """Rolling accuracy against position in the stream, one line per method, as a PNG."""
    from .plot import figure

    plt, fig, ax, target = figure(path, (8, 4.5))
    try:
        for method, items in records.items():
            curve = rolling_accuracy(items, window)
            dashed = {"linestyle": "--"} if not any("exemplar_stored" in r for r in items) else {}
            ax.plot([p + 1 for p, _ in curve], [100 * a for _, a in curve], label=method, **dashed)
        ax.set_xlabel("position in the stream (problems)")
        ax.set_ylabel(f"accuracy over the last {window} problems (%)")
        ax.set_title(title or "Learning over the stream")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(target)
    finally:
        plt.close(fig)
    return target
