"""Quickstart: the single-agent graph (draft → GenRM score → critique → revise) on one problem.

Run:  python examples/quickstart.py                      # embedded SmolLM2-135M, CPU, ~1 minute
      python examples/quickstart.py --verifier runs/genrm-sum30   # a trained GenRM folder

Without `--verifier` the generator itself judges its drafts as an *untrained*
GenRM: that shows the mechanics but is a poor verifier (see DESIGN.md); train
one with `verbalrl train-genrm` for real use.
"""

from __future__ import annotations

import argparse

from rich.console import Console

from verbalrl import load_llm
from verbalrl.graphs import SingleConfig, build_single_graph, graph_options, initial_state
from verbalrl.run import render_event
from verbalrl.tasks import get_task
from verbalrl.verifier import load_verifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--verifier", default=None, help="trained GenRM folder (default: untrained GenRM)")
    parser.add_argument("--level", type=int, default=1, help="arithmetic difficulty")
    parser.add_argument("--n", type=int, default=4, help="drafts")
    parser.add_argument("--rounds", type=int, default=2, help="verify rounds (the first included)")
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--threshold", type=float, default=0.7)
    args = parser.parse_args()

    console = Console()
    task = get_task("arithmetic", level=args.level)
    problem = task.problems("test", n=1, seed=0)[0]
    llm = load_llm(args.model, dtype="float32")
    verifier = load_verifier(args.verifier or "genrm", llm, task)
    label = args.verifier or "UNTRAINED GenRM (the generator judging itself: poor; pass --verifier PATH)"
    console.print(f"[bold]verifier:[/] {label}")
    console.print(f"[bold]problem:[/] {problem.question}")

    config = SingleConfig(
        n_drafts=args.n,
        max_rounds=args.rounds,
        max_new_tokens=args.max_new_tokens,
        critic_max_new_tokens=min(64, args.max_new_tokens),
        threshold=args.threshold,
    )
    graph = build_single_graph(llm, verifier, config, task=task)
    final = {}
    for update in graph.stream(initial_state(problem), graph_options(config), stream_mode="updates"):
        for node, data in update.items():
            render_event(console, node, data)
            final = data.get("result", final)
    # Only now, after the loop, is the gold answer used: to score the result.
    console.print(f"correct: {task.check(problem, final['answer'])} (gold {problem.answer})")


if __name__ == "__main__":
    main()
