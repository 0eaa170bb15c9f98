"""The stream analysis: summary rows, cold against warm, paired differences, the rolling curve, the PNG."""

from __future__ import annotations

from pathlib import Path

import pytest

from verbalrl.evaluation.learning import (
    after,
    cold_warm,
    paired_difference,
    plot_learning_curves,
    read_stream,
    rolling_accuracy,
    stream_rows,
)
from verbalrl.run.results import append_line


def records(flags: list[bool], method: str, gated: list[bool] | None = None) -> list[dict]:
    """Two families taken in turn; `flags[i]` is whether position i was solved."""
    out = []
    for i, ok in enumerate(flags):
        r = {"method": method, "problem_id": f"p{i}", "position": i, "index": i // 2, "family": "ab"[i % 2],
             "correct": ok, "llm_calls": 2 + i % 2, "generated_tokens": 10}  # fmt: skip
        if gated is not None:
            r["exemplar_stored"] = gated[i]
        out.append(r)
    return out


def test_stream_rows_split_by_family_segment_and_report_the_gate() -> None:
    flags = [False, False, False, True, True, True]  # a: F F T ; b: F T T
    gated = [True, False, False, True, True, False]  # gated answers: F, T, T -> precision 2/3
    rows = stream_rows({"m": records(flags, "m", gated), "base": records([True] * 6, "base")})
    mine = rows[0]
    assert mine["accuracy"] == pytest.approx(0.5)
    assert mine["families"] == {"a": pytest.approx(1 / 3), "b": pytest.approx(2 / 3)}
    assert mine["segments"] == [0.0, 0.5, 1.0]
    assert mine["llm_calls"] == pytest.approx(2.5) and mine["generated_tokens"] == 10
    assert mine["exemplars"] == 3 and mine["gate_precision"] == pytest.approx(2 / 3)
    assert "exemplars" not in rows[1] and rows[1]["accuracy"] == 1.0


def test_cold_warm_and_after_use_each_familys_own_count() -> None:
    items = records([False, False, True, True, True, False, True, True], "m")  # index 0 0 1 1 2 2 3 3
    cold, warm = cold_warm(items, cold=2)
    assert cold == pytest.approx(0.5) and warm == pytest.approx(0.75)
    assert [r["position"] for r in after(items, 3)] == [6, 7]


def test_paired_difference_pairs_by_problem() -> None:
    a = records([True, True, False, True], "a")
    b = list(reversed(records([False, True, False, False], "b")))  # order must not matter
    mean, low, high = paired_difference(a, b)
    assert mean == pytest.approx(0.5) and low <= mean <= high
    assert paired_difference(a, a) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="share no problem"):
        paired_difference(a, [{**r, "problem_id": "x" + r["problem_id"]} for r in b])


def test_rolling_accuracy_starts_at_the_first_full_window() -> None:
    curve = rolling_accuracy(records([False, False, True, True, True], "m"), window=2)
    assert curve == [(1, 0.0), (2, 0.5), (3, 1.0), (4, 1.0)]
    assert rolling_accuracy(records([True], "m"), window=30) == [(0, 1.0)]


def test_read_stream_orders_by_position_and_the_plot_is_a_png(tmp_path: Path) -> None:
    for r in reversed(records([True, False, True, True], "m")):
        append_line(tmp_path / "m.jsonl", r)
    loaded = read_stream(tmp_path, ["m", "missing"])
    assert list(loaded) == ["m"] and [r["position"] for r in loaded["m"]] == [0, 1, 2, 3]
    png = plot_learning_curves(loaded, tmp_path / "curve.png", window=2)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
