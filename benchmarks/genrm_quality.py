"""GenRM quality, small-scale reproduction on CPU with SmolLM2-135M-Instruct.

Pipeline (each stage is cached in --workdir and skipped when its output exists):
  1. pools: `verbalrl sample` of training problems (8 samples each) and held-out
     test problems (16 samples each), arithmetic `sum30` (a + b, a, b in [2, 30]).
  2. train GenRM direct, GenRM-CoT (programmatic rationales) and the ORM on the
     training pool (LoRA r=16, lr 3e-4; unified loss with λ for GenRM).
  3. evaluate on the test pool: first sample, self-consistency, Pass@N, and
     Best-of-N / weighted SC for each verifier, N in 1..16, with compute.

    .venv/bin/python benchmarks/genrm_quality.py --workdir /tmp/genrm-quality
    .venv/bin/python benchmarks/genrm_quality.py --workdir W --train-problems 40 --test-problems 16 --quick

The target (issue 3): trained GenRM Best-of-16 above self-consistency and ORM,
closing at least half the first-sample -> Pass@16 gap. Whatever it shows is
reported as measured.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


def run(*args: str, cwd: Path) -> float:
    start = time.perf_counter()
    print("$ verbalrl", " ".join(args), flush=True)
    subprocess.run([sys.executable, "-m", "verbalrl.cli", *args], cwd=cwd, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--train-problems", type=int, default=240)
    parser.add_argument("--test-problems", type=int, default=80)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--cot-k", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--aux-epochs", type=float, default=None, help="epochs for ORM and CoT")
    parser.add_argument("--lam", type=float, default=1 / 3)
    parser.add_argument("--negative-ratio", type=float, default=2.0)
    parser.add_argument("--skip", default="", help="comma list of: genrm,cot,orm")
    parser.add_argument("--quick", action="store_true", help="1 epoch, test N up to 8")
    args = parser.parse_args()
    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    skip = set(filter(None, args.skip.split(",")))
    timings: dict[str, float] = {}
    common = [
        "--task",
        "arithmetic",
        "--level",
        "sum30",
        "--temperature",
        "0.8",
        "--max-new-tokens",
        str(args.max_new_tokens),
    ]
    if not (work / "train_pool.jsonl").is_file():
        timings["sample_train"] = run(
            "sample",
            *common,
            "--split",
            "train",
            "--problems",
            str(args.train_problems),
            "--samples",
            "8",
            "--seed",
            "0",
            "--out",
            "train_pool.jsonl",
            cwd=work,
        )
    test_samples = 8 if args.quick else 16
    if not (work / "test_pool.jsonl").is_file():
        timings["sample_test"] = run(
            "sample",
            *common,
            "--split",
            "test",
            "--problems",
            str(args.test_problems),
            "--samples",
            str(test_samples),
            "--seed",
            "1",
            "--out",
            "test_pool.jsonl",
            cwd=work,
        )
    epochs = "1" if args.quick else str(args.epochs)
    train = [
        "--pool",
        "train_pool.jsonl",
        "--epochs",
        epochs,
        "--lr",
        "3e-4",
        "--lora-r",
        "16",
        "--batch-size",
        "8",
        "--negative-ratio",
        str(args.negative_ratio),
    ]
    aux = ["--epochs", str(args.aux_epochs or epochs)]  # later flags override earlier ones
    stages = [
        ("genrm", "genrm", ["--lam", str(args.lam)]),
        ("orm", "orm", aux),
        ("cot", "genrm-cot", ["--lam", str(args.lam), *aux]),
    ]
    for folder, kind, extra in stages:
        if folder in skip or (work / folder / "verifier.json").is_file():
            continue
        timings[f"train_{folder}"] = run(
            "train-verifier", *train, "--kind", kind, "--out", folder, *extra, cwd=work
        )
    ns = "1,2,4,8" if args.quick else "1,2,4,8,16"
    evaluate = ["eval-verifier", "--pool", "test_pool.jsonl", "--out", "eval", "--ns", ns]
    if "genrm" not in skip:
        evaluate += ["--genrm", "genrm"]
    if "cot" not in skip:
        evaluate += ["--genrm-cot", "cot", "--cot-k", str(args.cot_k)]
    if "orm" not in skip:
        evaluate += ["--orm", "orm"]
    timings["evaluate"] = run(*evaluate, cwd=work)
    (work / "timings.json").write_text(json.dumps(timings, indent=2))
    print(json.dumps(timings, indent=2))


if __name__ == "__main__":
    main()
