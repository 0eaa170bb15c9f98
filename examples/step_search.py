"""Verifier-guided step search: beam search, DVTS or MCTS over one-line steps, scored by a process verifier.

Run:  python examples/step_search.py --strategy beam --beams 2 --expansions 2
      python examples/step_search.py --strategy mcts --rounds 6 --verifier prm:PATH_TO_TRAINED_PRM

The task is `chain` ("Compute 23 + 18 - 7.", one operation per line). Without
`--verifier` the process verifier is the task's step checker: an ORACLE that
reads the gold answer (clearly labelled), which shows the mechanics of the
search, not what a trained PRM achieves. The tree is printed: every node is a
partial solution one line longer than its parent, with its step score.
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.markup import escape

from verbalrl import load_llm
from verbalrl.graphs import SearchConfig, build_search_graph, graph_options, initial_state
from verbalrl.tasks import get_task
from verbalrl.verifier import load_verifier
from verbalrl.verifier.process import CheckerStepVerifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--verifier", default=None, help="prm:PATH (default: the step checker, an oracle)")
    parser.add_argument("--strategy", choices=["beam", "dvts", "mcts"], default="beam")
    parser.add_argument("--level", type=int, default=2, help="operations in the chain (2-6)")
    parser.add_argument("--beams", type=int, default=2)
    parser.add_argument("--expansions", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=4, help="search iterations")
    parser.add_argument("--step-tokens", type=int, default=24, help="tokens sampled per step")
    parser.add_argument("--max-tokens", type=int, default=600, help="budget of generated tokens")
    args = parser.parse_args()

    console = Console()
    task = get_task("chain", level=args.level)
    problem = task.problems("test", n=1, seed=0)[0]
    llm = load_llm(args.model, dtype="float32")
    if args.verifier:
        verifier = load_verifier(args.verifier, llm, task)
        console.print(f"process verifier: {args.verifier}")
    else:
        verifier = CheckerStepVerifier(task)
        console.print("process verifier: the step checker (ORACLE: reads the gold answer)")
    console.print(f"problem: {problem.question}")
    config = SearchConfig(
        strategy=args.strategy,
        beams=args.beams,
        expansions=args.expansions,
        max_rounds=args.rounds,
        step_max_new_tokens=args.step_tokens,
        max_tokens=args.max_tokens,
        seed=0,
    )
    graph = build_search_graph(llm, verifier, config, task=task)
    final = graph.invoke(initial_state(problem), graph_options(config))
    for node in final["nodes"][1:]:
        value = "unscored" if node["value"] is None else f"{node['value']:.2f}"
        step = escape(node["step"][:90]) or "[dim](model stopped)[/]"
        indent = "  " * node["depth"]
        console.print(f"{indent}{node['id']} <- {node['parent']} \\[{node['status']}, {value}] {step}")
    r = final["result"]
    console.print(
        f"[bold]answer: {r['answer']}[/] (score {r['score']}, {r['status']}, {r['rounds']} rounds, "
        f"{r['llm_calls']} LLM calls, {r['generated_tokens']} tokens, {r['verifier_calls']} verifier calls) "
        f"correct: {task.check(problem, r['answer'])}"
    )


if __name__ == "__main__":
    main()
