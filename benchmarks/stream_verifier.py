"""How well the packaged verifiers tell right from wrong on the learning stream's families (issue 11).

For each family of the stream (`STREAM_FAMILIES`) and each prompt form (zero-shot; 2
demonstrations as chat turns, the form memory produces), sample a held-out (test split) pool
with the embedded model, score every candidate with each verifier, and report per family and
form: the candidates' accuracy, ROC AUC, and at the acceptance threshold the share accepted and
the precision (accepted candidates that are right). Pools are cached in --workdir.

    .venv/bin/python benchmarks/stream_verifier.py --problems 30 --samples 4 --workdir runs/stream-verifier
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

from verbalrl.evaluation.metrics import roc_auc
from verbalrl.evaluation.pool import CandidateRecord, read_pool, sample_pool, write_pool
from verbalrl.evaluation.shots import reference_shots
from verbalrl.llm import GenerationConfig, load_llm
from verbalrl.run.stream import STREAM_FAMILIES, stream_families
from verbalrl.selection import score_candidates
from verbalrl.verifier import load_verifier


def pool(llm: Any, family: Any, shots: int, args: argparse.Namespace) -> list[CandidateRecord]:
    path = args.workdir / f"{family.label}_{'shots' if shots else 'zero'}.jsonl"
    if path.exists():
        return read_pool(path)
    problems = family.task.problems("test", n=args.problems, seed=args.seed)
    # demonstrations of the word tasks are long (their reference solutions): room to finish
    config = GenerationConfig(temperature=0.8, max_new_tokens=128 if shots else 64, seed=args.seed)
    demos = reference_shots(family.task, n=32, seed=args.seed + 1) if shots else []
    records = sample_pool(
        llm, family.task, problems, args.samples, config, progress=False,
        task_options=STREAM_FAMILIES[family.label][1], demonstrations=demos, shots=shots,
    )  # fmt: skip
    write_pool(path, records)
    return records


def scores_of(verifier: Any, records: list[CandidateRecord]) -> list[float]:
    out: list[float] = []
    by_problem: dict[str, list[CandidateRecord]] = {}
    for r in records:
        by_problem.setdefault(r.problem_id, []).append(r)
    for group in by_problem.values():
        scoring = score_candidates(verifier, group[0].problem(), [r.text for r in group])
        if scoring.error:
            raise RuntimeError(scoring.error)
        out += scoring.scores
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verifiers", default="genrm-stream,genrm-sum30")
    parser.add_argument("--problems", type=int, default=30)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--seed", type=int, default=11, help="which held-out problems")
    parser.add_argument("--threshold", type=float, default=0.5, help="the acceptance threshold")
    parser.add_argument("--gate-thresholds", default="0.7,0.8,0.9", help="also report precision at these")
    parser.add_argument("--workdir", type=Path, default=Path("runs/stream-verifier"))
    args = parser.parse_args()
    logging.getLogger("verbalrl").setLevel(logging.ERROR)
    args.workdir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    llm = load_llm("smollm2-135m-instruct")
    pools = {(f.label, form): pool(llm, f, shots, args) for f in stream_families() for form, shots in
             (("zero-shot", 0), ("2 shots", 2))}  # fmt: skip
    print(f"sampled in {time.perf_counter() - start:.0f} s; {args.problems} test problems x {args.samples}")
    rows = []
    head = f"{'right':>6s} {'AUC':>5s} {'accept':>7s} {'precision':>9s}"
    print(f"{'verifier':14s} {'family':6s} {'form':10s} {head}")
    for spec in args.verifiers.split(","):
        verifier = load_verifier(spec, llm)
        for (label, form), records in pools.items():
            scores = scores_of(verifier, records)
            labels = [r.correct for r in records]
            accepted = [ok for s, ok in zip(scores, labels, strict=True) if s >= args.threshold]
            auc = roc_auc(scores, labels)
            row = {"verifier": spec, "family": label, "form": form, "right": sum(labels) / len(labels),
                   "auc": auc, "accepted": len(accepted) / len(labels),
                   "precision": sum(accepted) / len(accepted) if accepted else None}  # fmt: skip
            for t in (float(x) for x in args.gate_thresholds.split(",") if x):
                kept = [ok for s, ok in zip(scores, labels, strict=True) if s >= t]
                row[f"precision@{t}"] = sum(kept) / len(kept) if kept else None
                row[f"accepted@{t}"] = len(kept) / len(labels)
            rows.append(row)
            auc_text = f"{auc:5.2f}" if auc is not None else "    -"
            precision = f"{row['precision']:9.0%}" if accepted else "        -"
            print(f"{spec:14s} {label:6s} {form:10s} {row['right']:6.0%} {auc_text} "
                  f"{row['accepted']:7.0%} {precision}", flush=True)  # fmt: skip
    for row in rows:
        gates = [k for k in row if k.startswith("precision@")]
        print(f"{row['verifier']:14s} {row['family']:6s} {row['form']:10s} " + "  ".join(
            f"{k}: " + ("-" if row[k] is None else f"{row[k]:.0%} of {row['accepted@' + k[10:]]:.0%}")
            for k in gates))  # fmt: skip
    (args.workdir / "summary.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
