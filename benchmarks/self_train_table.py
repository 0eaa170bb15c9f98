"""The self-training table of benchmark 4: held-out figures per iteration of `verbalrl self-train` runs.

Reads each run folder's `iter-k/manifest.json` (iteration 0: the first policy)
and prints one Markdown row per iteration: the mode, what the policy was
trained on (the checker's accuracy on the generated train samples, labelled
positives, SFT examples), first-sample accuracy and
Best-of-N with the iteration's outcome verifier (95 % CIs over problems),
self-consistency, Pass@N, the verifier's AUC, Best-of-N with the PRM and its
solution / step AUC (runs that train one), the labels' agreement with the
checker (verifier-only mode: a diagnostic, never used) and the seconds spent.

    python benchmarks/self_train_table.py runs/st-feedback runs/st-verifier
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def pct(value: Any, ci: Any = None) -> str:
    if value is None:
        return "-"
    text = f"{value:.1%}"
    return text if not ci else f"{text} [{ci[0]:.1%}, {ci[1]:.1%}]"


def rows(folder: Path) -> list[str]:
    out = []
    manifests = sorted(folder.glob("iter-*/manifest.json"), key=lambda p: int(p.parent.name.split("-")[1]))
    for path in manifests:
        m = json.loads(path.read_text())
        held, stages = m["held_out"], m["stages"]
        policy = stages.get("policy", {})
        sampled = stages.get("generate", {}).get("checker_per_sample_accuracy")
        agreement = stages.get("label", {}).get("agreement_with_checker")
        auc = held.get("verifier_auc")
        prm_auc, step_auc = held.get("prm_auc"), held.get("prm_step_auc")
        prm = "-" if prm_auc is None else f"{prm_auc:.3f} / {'-' if step_auc is None else f'{step_auc:.3f}'}"
        out.append(
            f"| {m['mode']} | {m['iteration']} | {pct(sampled)} | {m['data'].get('positives', '-')} "
            f"| {policy.get('examples', '-')} "
            f"| {pct(held.get('first_sample'), held.get('first_sample_ci'))} "
            f"| {pct(held.get('best_of_n[verifier]'), held.get('best_of_n[verifier]_ci'))} "
            f"| {pct(held.get('self_consistency'))} | {pct(held.get('pass@n'))} "
            f"| {'-' if auc is None else f'{auc:.3f}'} "
            f"| {pct(held.get('best_of_n[prm]'), held.get('best_of_n[prm]_ci'))} | {prm} "
            f"| {pct(agreement)} | {m['seconds']:.0f} |"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="self-train output folders")
    args = parser.parse_args()
    print(
        "| mode | iteration | train samples right | positives labelled | SFT examples | first sample "
        "| best-of-N (GenRM) | self-consistency | pass@N | GenRM AUC | best-of-N (PRM) "
        "| PRM AUC (solution / step) | labels = checker | s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for folder in args.runs:
        for row in rows(folder):
            print(row)


if __name__ == "__main__":
    main()
