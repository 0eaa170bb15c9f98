"""The `make demo` job: a held-out problem stream, four ways, with accuracy and compute.

On the embedded SmolLM2-135M-Instruct and the packaged trained GenRM
(`genrm-sum30`, see README for the command that reproduces it), over a
stream of held-out arithmetic problems (a + b, a, b in [2, 30]):

1. single-shot (one sample),
2. self-consistency@N and best-of-N with the trained GenRM (same N samples),
3. the single-agent graph (N drafts -> GenRM -> critique -> revise),
4. the reflective graph with a fresh chromadb memory (recall -> solve -> GenRM
   -> reflect on failures, store lessons -> retry).

The loop decides with GenRM only; the gold answer scores the results afterwards.
The numbers are whatever the model does on this stream: honest, not tuned.

    python examples/demo.py [--problems 16] [--n 4] [--verifier genrm-sum30]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from verbalrl import load_llm
from verbalrl.graphs import ReflectiveConfig, SingleConfig
from verbalrl.run import Runner
from verbalrl.tasks import get_task
from verbalrl.verifier import load_verifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--verifier", default="genrm-sum30", help="trained GenRM folder or packaged name")
    parser.add_argument("--problems", type=int, default=16)
    parser.add_argument("--n", type=int, default=4, help="samples / drafts per problem")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("verbalrl").setLevel(logging.ERROR)
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    console = Console()
    start = time.perf_counter()

    task = get_task("arithmetic", level="sum30")
    problems = task.problems("test", n=args.problems, seed=args.seed)
    with console.status("loading the model and the verifier ..."):
        llm = load_llm(args.model)
        verifier = load_verifier(args.verifier, llm, task)
    console.print(f"model {args.model}, verifier {verifier.name}, {len(problems)} held-out problems")
    shared = dict(
        n_drafts=args.n, max_rounds=args.rounds, threshold=args.threshold,
        max_new_tokens=args.max_new_tokens, critic_max_new_tokens=48, temperature=0.8, seed=0,
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="verbalrl-demo-") as tmp:
        single = Runner(
            "single", llm, verifier, task, SingleConfig(**shared), run_id="demo-single",
            runs_dir=Path(tmp) / "runs", baselines=True, baseline_n=args.n, console=console,
        ).run(problems)
        rows += single["summary"]
        from verbalrl.memory import ChromaMemory

        with ChromaMemory(Path(tmp) / "memory") as memory:
            reflective = Runner(
                "reflective", llm, verifier, task,
                ReflectiveConfig(**shared, distill_every=0, recall_k=2),
                memory=memory, run_id="demo-reflective", runs_dir=Path(tmp) / "runs", console=console,
            ).run(problems)
            rows += reflective["summary"]
            stored = memory.stats()

    table = Table(title=f"held-out arithmetic (a + b), {len(problems)} problems, {args.model}")
    table.add_column("method", no_wrap=True)
    for col in ("accuracy", "LLM calls / problem", "tokens / problem", "seconds / problem"):
        table.add_column(col)
    for row in rows:
        table.add_row(
            str(row["method"]), f"{row['accuracy']:.0%}", f"{row['mean_llm_calls']:.1f}",
            f"{row['mean_generated_tokens']:.0f}", f"{row['mean_seconds']:.1f}",
        )
    console.print(table)
    if stored is not None:
        console.print(f"memory after the stream: {stored}")
    console.print(
        "LLM calls count every generated or scored sequence (GenRM scores are calls too); "
        f"total wall time {time.perf_counter() - start:.0f} s."
    )


if __name__ == "__main__":
    main()
