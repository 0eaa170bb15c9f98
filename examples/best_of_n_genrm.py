"""Best-of-N with GenRM against self-consistency and single-shot, each with its compute.

Run:  python examples/best_of_n_genrm.py --verifier genrm-sum30 --problems 20 --n 8
      python examples/best_of_n_genrm.py --verifier genrm-sum30 --model llamacpp:smollm2-135m-instruct

The second samples the candidates with llama.cpp (about 2x faster on a CPU, benchmarks/RESULTS.md
"Against the alternatives"); the trained verifier scores them with transformers either way.

Every method uses the same model; the table states LLM calls and generated
tokens per problem so that the comparison is at known compute (Singhi et
al. 2025: at equal compute self-consistency often wins). Without
`--verifier` an *untrained* GenRM is used, clearly labelled: expect it to
lose to self-consistency, which is what DESIGN.md measured.
"""

from __future__ import annotations

import argparse
import tempfile

from rich.console import Console

from verbalrl import load_llm
from verbalrl.graphs import SingleConfig
from verbalrl.run import Runner, summary_table
from verbalrl.tasks import get_task
from verbalrl.verifier import load_verifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--verifier", default=None, help="trained GenRM folder (default: untrained GenRM)")
    parser.add_argument("--level", default="sum30", help="arithmetic level (1-4 or sum30)")
    parser.add_argument("--problems", type=int, default=5)
    parser.add_argument("--n", type=int, default=8, help="N of best-of-N and self-consistency")
    parser.add_argument("--max-new-tokens", type=int, default=96)
    args = parser.parse_args()

    console = Console()
    level = int(args.level) if args.level.isdigit() else args.level
    task = get_task("arithmetic", level=level)
    problems = task.problems("test", n=args.problems, seed=0)
    llm = load_llm(args.model, dtype="float32")  # (a llamacpp: model ignores dtype)
    verifier = load_verifier(args.verifier or "genrm", llm, task)
    console.print(
        f"verifier: {args.verifier or 'UNTRAINED GenRM (poor; pass --verifier PATH for a trained one)'}"
    )

    # The single graph with one round and N drafts *is* best-of-N; the baselines run beside it.
    config = SingleConfig(n_drafts=args.n, max_rounds=1, max_new_tokens=args.max_new_tokens)
    with tempfile.TemporaryDirectory() as runs:
        report = Runner(
            "single", llm, verifier, task, config, runs_dir=runs, baselines=True, baseline_n=args.n
        ).run(problems)
    console.print(summary_table(report["summary"], title=f"{task.name} ({len(problems)} problems)"))


if __name__ == "__main__":
    main()
