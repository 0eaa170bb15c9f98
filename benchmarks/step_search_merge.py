"""One table and one plot from several `step_search.py` runs on the same problems.

`step_search.py` runs one set of strategies and budgets at a time; this reads
their `results.json` files (the same pool and problems: checked), keeps each
method's first result, prints a Markdown table (accuracy with its 95 % CI,
tokens, policy and verifier calls per problem, seconds) and draws accuracy
against generated tokens for all of them.

    python benchmarks/step_search_merge.py runs/bench4-beam/results.json \
        runs/bench4-dm/results.json --out runs/bench4/accuracy_vs_tokens.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from step_search import plot  # type: ignore[import-not-found]


def merge(paths: list[Path]) -> list[dict[str, Any]]:
    """Each method's first result over the runs; the runs must share pool and problem count."""
    merged: dict[str, dict[str, Any]] = {}
    seen: set[tuple[str, int]] = set()
    for path in paths:
        data = json.loads(path.read_text())
        seen.add((str(data["args"]["pool"]), int(data["args"]["problems"])))
        for row in data["results"]:
            merged.setdefault(row["method"], row)
    if len(seen) > 1:
        raise SystemExit(f"the runs differ in pool or problems: {sorted(seen)}")
    return list(merged.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="the plot (PNG); a .json beside it")
    args = parser.parse_args()
    rows = merge(args.results)
    print("| method | accuracy % [95 % CI] | tokens | policy calls | verifier calls | s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        seconds = "" if r.get("seconds") is None else f"{r['seconds']:.0f}"
        print(
            f"| {r['method']} | {100 * r['accuracy']:.1f} [{100 * r['ci'][0]:.1f}, {100 * r['ci'][1]:.1f}] "
            f"| {r['tokens']:.0f} | {r['policy_calls']:.1f} | {r['verifier_calls']:.1f} | {seconds} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    plot(rows, args.out)
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
