"""The `make demo` job: an agent that learns from its own verified experience, on a mixed stream.

The embedded SmolLM2-135M-Instruct meets held-out problems of three families taken in turn
(arithmetic a + b, sorting 2 words, the last letter of a word), from an empty memory. The
packaged GenRM `genrm-stream` decides what is right; the gold answer never reaches a prompt
and only scores the results afterwards. Compared on the same problems, in the same order:

1. single-shot and best-of-4 with the GenRM (one draw of 4 samples, scored);
2. the reflective graph without memory (it retries with lessons, then forgets);
3. the reflective graph with memory: answers the GenRM accepts (and that pass the exemplar
   gate) come back to later problems of their family as few-shot demonstrations.

Prints one table (accuracy overall, per family and per third of the stream, compute per
problem) and writes the learning curve as a PNG. The numbers are whatever the model does.

    python examples/demo.py [--per-family 10] [--seed 3] [--out runs/demo]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from verbalrl import load_llm
from verbalrl.console import progress_bar
from verbalrl.evaluation.learning import plot_learning_curves, read_stream, stream_rows
from verbalrl.graphs import ReflectiveConfig, SingleConfig
from verbalrl.memory import ChromaMemory
from verbalrl.run.stream import GraphMethod, SampledMethods, interleave, run_stream, stream_families
from verbalrl.verifier import load_verifier

NAMES = ("single_shot", "best_of_4", "reflective_no_memory", "reflective_memory")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--verifier", default="genrm-stream", help="trained GenRM folder or packaged name")
    parser.add_argument("--per-family", type=int, default=10, help="problems of each family")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2, help="trials of the reflective graph")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--out", type=Path, default=Path("runs/demo"), help="records and the PNG")
    args = parser.parse_args()
    logging.getLogger("verbalrl").setLevel(logging.ERROR)
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    console = Console()
    start = time.perf_counter()
    shutil.rmtree(args.out, ignore_errors=True)  # the story starts from an empty memory
    families = stream_families()
    stream = interleave(families, args.per_family, seed=args.seed)
    with console.status("loading the model and the verifier ..."):
        llm = load_llm(args.model)
        verifier = load_verifier(args.verifier, llm)
    console.print(
        f"model {args.model}, verifier {verifier.name}; {len(stream)} held-out problems: "
        + ", ".join(f"{f.label} ({f.task.name})" for f in families)
        + ", taken in turn"
    )
    shared = dict(n_drafts=4, max_rounds=args.rounds, threshold=0.5, max_new_tokens=args.max_new_tokens,
                  critic_max_new_tokens=48, temperature=0.8, seed=0)  # fmt: skip
    with ChromaMemory(args.out / "memory") as memory:
        methods = [
            SampledMethods(llm, verifier, SingleConfig(**shared), ns=(4,)),
            GraphMethod("reflective_no_memory", "reflective", llm, verifier,
                        ReflectiveConfig(**shared, use_memory=False)),
            GraphMethod("reflective_memory", "reflective", llm, verifier,
                        ReflectiveConfig(**shared, recall_k=2, distill_every=0), memory=memory),
        ]  # fmt: skip
        for method in methods:
            label = " + ".join(method.names)
            with progress_bar(f"{label:38s}", len(stream), console=console) as advance:
                run_stream(stream, [method], args.out, on_item=lambda *_: advance())
        stored = memory.stats()
    records = read_stream(args.out, NAMES)
    rows = stream_rows(records)
    labels = [f.label for f in families]
    table = Table(title=f"{len(stream)} held-out problems, one stream, {args.model}")
    for col in ("method", "accuracy", *labels, "LLM calls", "tokens"):
        table.add_column(col, no_wrap=True)
    curve = Table(title="the learning curve: accuracy by third of the stream")
    for col in ("method", "1st third", "2nd third", "3rd third"):
        curve.add_column(col, no_wrap=True)
    for row in rows:
        cells = [f"{row['accuracy']:.0%}", *(f"{row['families'][f]:.0%}" for f in labels)]
        table.add_row(row["method"], *cells, f"{row['llm_calls']:.1f}", f"{row['generated_tokens']:.0f}")
        curve.add_row(row["method"], *(f"{s:.0%}" for s in row["segments"]))
    console.print(table)
    console.print(curve)
    gate = next((r for r in rows if r.get("exemplars")), None)
    if gate is not None:
        console.print(
            f"memory kept {gate['exemplars']} answers as demonstrations; the checker says "
            f"{gate['gate_precision']:.0%} of them are right. Memory by task: {stored['by_task']}"
        )
    title = f"rolling accuracy (9 problems), {len(stream)}-problem stream"
    png = plot_learning_curves(records, args.out / "learning_curve.png", window=9, title=title)
    console.print(
        f"learning curve: {png}\nLLM calls count every generated or GenRM-scored sequence; "
        f"total wall time {time.perf_counter() - start:.0f} s."
    )


if __name__ == "__main__":
    main()
