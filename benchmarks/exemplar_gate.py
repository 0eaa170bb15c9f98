"""Choosing the exemplar gate on a development stream: precision, and what it does to accuracy.

The reflective graph (demonstrations as turns, `genrm-sum30`, verifier-only) runs over
the same held-out sum30 stream from an empty memory once per gate setting; for each:
accuracy, LLM calls and generated tokens per problem, how many answers became
exemplars, and the gate's precision (the share the checker says are right, after
the fact). Choose defaults with a `--seed` no reported stream uses.

    python benchmarks/exemplar_gate.py --problems 30 --seed 101 --thresholds 0.5,0.7,0.8
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

from verbalrl import load_llm, load_verifier
from verbalrl.graphs import ReflectiveConfig
from verbalrl.memory import ChromaMemory
from verbalrl.run import Runner
from verbalrl.tasks import get_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", type=int, default=30)
    parser.add_argument("--seed", type=int, default=101, help="a development stream")
    parser.add_argument("--thresholds", default="0.5,0.7,0.8")
    parser.add_argument("--no-majority", action="store_true", help="also run each without the majority rule")
    args = parser.parse_args()
    logging.getLogger("verbalrl").setLevel(logging.ERROR)
    task = get_task("arithmetic", level="sum30")
    problems = task.problems("test", n=args.problems, seed=args.seed)
    llm = load_llm("smollm2-135m-instruct")
    verifier = load_verifier("genrm-sum30", llm, task)
    shared = dict(
        n_drafts=4, max_rounds=2, threshold=0.5, max_new_tokens=64, critic_max_new_tokens=48,
        temperature=0.8, seed=0, recall_k=2, distill_every=0,
    )  # fmt: skip
    settings = [(float(t), True) for t in args.thresholds.split(",")]
    if args.no_majority:
        settings += [(t, False) for t, _ in settings]
    print(f"{args.problems} sum30 problems, seed {args.seed}, reflective graph, demonstrations as turns")
    header = ("gate", "majority", "acc", "calls", "tokens", "exemplars", "precision")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (5, 8, 6, 6, 7, 9, 9), strict=True)))
    with tempfile.TemporaryDirectory() as tmp:
        for i, (threshold, majority) in enumerate(settings):
            config = ReflectiveConfig(**shared, gate_threshold=threshold, gate_majority=majority)
            with ChromaMemory(Path(tmp) / f"m{i}") as memory:
                report = Runner(
                    "reflective", llm, verifier, task, config, memory=memory, run_id=f"g{i}",
                    runs_dir=Path(tmp) / "runs", progress=False,
                ).run(problems)  # fmt: skip
            row = report["summary"][0]
            precision = row.get("gate_precision")
            shown = "-" if precision is None else f"{precision:.0%}"
            print(
                f"{threshold:5.2f} {str(majority):>8} {row['accuracy']:6.1%} {row['mean_llm_calls']:6.1f} "
                f"{row['mean_generated_tokens']:7.0f} {row.get('exemplars', 0):9d} {shown:>9}",
                flush=True,
            )


if __name__ == "__main__":
    main()
