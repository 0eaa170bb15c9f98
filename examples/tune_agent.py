"""Tune an agent on a dev split, then run the spec it found: module-level search with Optuna.

Run:  python examples/tune_agent.py --dev-n 8 --trials 6
      verbalrl tune --task arithmetic --level sum30 --dev-n 20 --trials 30 --budget-calls 12 --out agent.yaml

The embedded SmolLM2-135M answers `a + b` (sum30) problems; the packaged GenRM
(`genrm-sum30`) verifies. Each trial is an agent spec (graph, drafts, rounds,
threshold, temperature) scored with the task's checker on dev problems from
the *train* split; the study lives in SQLite, so running this again with
`--resume` continues it. The chosen spec (the most accurate within
`--budget-calls` LLM calls per problem) is written as YAML and run on held-out
test problems with `load_agent`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from verbalrl import AgentSpec, load_agent, load_llm
from verbalrl.tuning import SearchSpace, TuneSettings, tune
from verbalrl.verifier import load_verifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev-n", type=int, default=8)
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--budget-calls", type=float, default=12.0)
    parser.add_argument("--test-n", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--out", type=Path, default=Path("runs/tune_example/agent.yaml"))
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()

    base = AgentSpec(
        task="arithmetic", task_options={"level": "sum30"}, verifier="genrm-sum30",
        config={"max_new_tokens": args.max_new_tokens, "seed": 0},
    )  # fmt: skip
    space = SearchSpace(graphs=("single", "multi"), n_drafts=(1, 2, 4), max_rounds=(1, 2), n_agents=(2,))
    llm = load_llm(base.model)
    verifier = load_verifier("genrm-sum30", llm)
    storage = f"sqlite:///{args.out.resolve().parent / 'study.db'}"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = tune(
        TuneSettings(base=base, space=space, dev_n=args.dev_n), trials=args.trials,
        budget_calls=args.budget_calls, storage=storage, resume=args.resume, llm=llm, verifier=verifier,
    )  # fmt: skip
    print(f"scoring: {result.scoring_note}")
    print(f"{len(result.finished())} trials in {result.study_name} ({result.seconds:.0f} s); Pareto front:")
    for r in result.front:
        what = f"{r.spec.graph}, drafts {r.spec.config.n_drafts}" if r.spec else "?"
        print(f"  trial {r.number}: {what}: accuracy {r.accuracy:.2f}, {r.calls:.1f} calls/problem")
    spec_path, _ = result.write(args.out)
    print(f"chosen spec: {spec_path} (budget {args.budget_calls:g} calls)")

    agent = load_agent(spec_path, llm=llm, verifier=verifier)
    task = agent.task
    correct = 0
    for problem in task.problems("test", n=args.test_n, seed=1):  # held out: never seen by the tune
        out = agent.solve(problem)
        correct += task.check(problem, out["answer"])
        print(f"  {problem.question} -> {out['answer']} (gold {problem.answer}, {out['llm_calls']} calls)")
    print(f"tuned agent on {args.test_n} test problems: {correct}/{args.test_n} correct")


if __name__ == "__main__":
    main()
