"""Multi-agent debate: M agents with personas and temperatures draft, read each other, revise.

Run:  python examples/debate.py --agents 3 --rounds 2
      python examples/debate.py --verifier PATH_TO_TRAINED_GENRM

The verifier scores every draft and the answer is the verifier-weighted vote
of the last round. Without `--verifier` an *untrained* GenRM is used (poor;
clearly labelled).
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.markup import escape

from verbalrl import load_llm
from verbalrl.graphs import MultiConfig, build_multi_graph, graph_options, initial_state
from verbalrl.tasks import get_task
from verbalrl.verifier import load_verifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--verifier", default=None, help="trained GenRM folder (default: untrained GenRM)")
    parser.add_argument("--level", type=int, default=1)
    parser.add_argument("--agents", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2, help="1 = no debate, 2 = one debate round, ...")
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--hide-scores", action="store_true", help="debaters do not see verifier scores")
    args = parser.parse_args()

    console = Console()
    task = get_task("arithmetic", level=args.level)
    problem = task.problems("test", n=1, seed=3)[0]
    llm = load_llm(args.model, dtype="float32")
    verifier = load_verifier(args.verifier or "genrm", llm, task)
    console.print(f"verifier: {args.verifier or 'UNTRAINED GenRM (poor; pass --verifier PATH)'}")
    console.print(f"problem: {problem.question}")
    config = MultiConfig(
        n_agents=args.agents,
        max_rounds=args.rounds,
        max_new_tokens=args.max_new_tokens,
        share_scores=not args.hide_scores,
        threshold=0.99,  # debate for all rounds: show the mechanics
    )
    graph = build_multi_graph(llm, verifier, config, task=task)
    final = graph.invoke(initial_state(problem), graph_options(config))
    for d in final["drafts"]:
        persona = escape(config.persona(d["agent"]).split(",")[0])
        temperature = config.agent_temperature(d["agent"])
        console.print(
            f"round {d['round']} agent {d['agent']} ({persona}, T={temperature}): "
            f"answer={d['answer']} score={d['score']:.3f}"
        )
    r = final["result"]
    console.print(
        f"[bold]weighted vote: {r['answer']}[/] (score {r['score']}, {r['llm_calls']} LLM calls, "
        f"{r['generated_tokens']} tokens) correct: {task.check(problem, r['answer'])}"
    )


if __name__ == "__main__":
    main()
