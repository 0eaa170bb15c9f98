"""Benchmark 5: the default agent against a tuned spec on held-out test problems, per task family.

For each family (`verbalrl.run.stream.STREAM_FAMILIES`: sum30, sort2, last1),
`verbalrl.tuning.tune` searches graphs, settings, instructions and bootstrapped
demonstrations on a dev split of the *train* split (checker scoring), and
chooses the most accurate spec within `--budget-calls` LLM calls per dev
problem. Then the default agent (the base spec: the single graph's defaults)
and the chosen spec run on the same test problems, which the tune never read.

Per family: accuracy of both with a paired bootstrap interval of the
difference (problems resampled), LLM calls and generated tokens per test
problem for both, and the tuning cost (wall time, LLM calls and tokens spent
on dev trials and on bootstrapping). Both agents share `--max-new-tokens`, `--critic-tokens`
and the packaged verifier that covers the family. Writes `<out>/<family>.json`
(a finished family is read back, so a killed run continues) and prints a
Markdown table.

    python benchmarks/agent_search.py --families sort2,last1 --dev-n 12 --trials 10 \
        --test-n 50 --out runs/bench5
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from verbalrl import AgentSpec, load_agent
from verbalrl.evaluation.metrics import bootstrap_ci
from verbalrl.run.spec import load_generator
from verbalrl.run.stream import STREAM_FAMILIES
from verbalrl.tuning import PromptSearch, SearchSpace, TuneSettings, tune
from verbalrl.verifier.registry import load_verifier


def run_on_test(agent: Any, problems: list[Any]) -> list[dict[str, Any]]:
    """One row per test problem: correct, LLM calls, generated tokens, answer."""
    rows = []
    for p in problems:
        out = agent.solve(p)
        rows.append({
            "id": p.id, "correct": bool(agent.task.check(p, out.get("answer"))),
            "calls": int(out.get("llm_calls", 0)), "tokens": int(out.get("generated_tokens", 0)),
            "answer": out.get("answer"),
        })  # fmt: skip
    return rows


def summary(rows: list[dict[str, Any]]) -> dict[str, float]:
    n = len(rows)
    return {
        "accuracy": sum(r["correct"] for r in rows) / n,
        "calls": sum(r["calls"] for r in rows) / n,
        "tokens": sum(r["tokens"] for r in rows) / n,
    }


def tuning_cost(result: Any) -> dict[str, float]:
    """Calls and tokens the trials spent on dev problems (trials reusing a twin's numbers ran nothing)."""
    calls = tokens = 0.0
    for r in result.results:
        if r.state in ("complete", "pruned") and r.reused_from is None:
            calls += r.calls * r.problems
            tokens += r.tokens * r.problems
    return {"seconds": result.seconds, "trial_calls": calls, "trial_tokens": tokens}


def family(label: str, args: argparse.Namespace, llm: Any) -> dict[str, Any]:
    task_name, options = STREAM_FAMILIES[label]
    base = AgentSpec(
        task=task_name,
        task_options=options,
        config={
            "max_new_tokens": args.max_new_tokens,
            "critic_max_new_tokens": args.critic_tokens,
            "seed": 0,
        },
    ).resolved()
    verifier = load_verifier(base.verifier or "", llm)
    space = SearchSpace(
        graphs=tuple(args.graphs.split(",")), n_drafts=(1, 2, 4), max_rounds=(1, 2, 3),
        thresholds=(0.3, 0.5, 0.7, 0.9), temperature=(0.1, 1.2),
    )  # fmt: skip
    prompts = PromptSearch(
        pool_n=args.pool_n, shots=(0, 2, 4), variants=True, max_new_tokens=args.max_new_tokens
    )
    settings = TuneSettings(base=base, space=space, dev_n=args.dev_n, prompts=prompts, seed=args.seed)
    folder = args.out / label
    storage = f"sqlite:///{(folder / 'study.db').resolve()}"
    folder.mkdir(parents=True, exist_ok=True)
    resume = (folder / "study.db").exists()
    result = tune(settings, trials=args.trials, budget_calls=args.budget_calls, storage=storage,
                  resume=resume, llm=llm, verifier=verifier)  # fmt: skip
    spec_path, _ = result.write(folder / "agent.yaml")
    tuned = load_agent(spec_path, llm=llm, verifier=verifier)
    default = load_agent(base, llm=llm, verifier=verifier)
    problems = default.task.problems("test", n=args.test_n, seed=args.test_seed)
    started = time.perf_counter()
    rows_default = run_on_test(default, problems)
    default_s = time.perf_counter() - started
    rows_tuned = run_on_test(tuned, problems)
    tuned_s = time.perf_counter() - started - default_s
    diffs = [float(t["correct"]) - float(d["correct"]) for t, d in zip(rows_tuned, rows_default, strict=True)]
    low, high = bootstrap_ci(diffs, n_resamples=2000, seed=0)
    chosen = result.chosen
    return {
        "family": label, "task": task_name, "options": options, "verifier": base.verifier,
        "test_n": len(problems), "test_seed": args.test_seed,
        "default": {**summary(rows_default), "seconds": default_s, "spec": base.dump()},
        "tuned": {**summary(rows_tuned), "seconds": tuned_s, "spec": tuned.spec.dump(),
                  "trial": chosen.number},
        "difference": {"mean": sum(diffs) / len(diffs), "ci95": [low, high]},
        "tuning": {**tuning_cost(result), "trials": len(result.finished()), "dev_n": args.dev_n,
                   "pool_n": args.pool_n, "dev_accuracy": chosen.accuracy, "dev_calls": chosen.calls,
                   "budget_calls": args.budget_calls, "scoring": result.scoring_note},
        "rows": {"default": rows_default, "tuned": rows_tuned},
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default="sort2,last1")
    parser.add_argument("--graphs", default="single,reflective")
    parser.add_argument("--dev-n", type=int, default=12)
    parser.add_argument("--pool-n", type=int, default=12)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--budget-calls", type=float, default=6.0)
    parser.add_argument("--test-n", type=int, default=50)
    parser.add_argument("--test-seed", type=int, default=5)
    parser.add_argument("--max-new-tokens", type=int, default=128, help="per solution (both agents)")
    parser.add_argument("--critic-tokens", type=int, default=64, help="per critique (both agents)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/bench5"))
    args = parser.parse_args()
    llm = load_generator("smollm2-135m-instruct")
    results = []
    for label in args.families.split(","):
        path = args.out / f"{label}.json"
        if path.exists():
            results.append(json.loads(path.read_text()))
            continue
        started = time.perf_counter()
        res = family(label, args, llm)
        res["wall_s"] = time.perf_counter() - started
        path.write_text(json.dumps(res, indent=1) + "\n")
        results.append(res)
    print("| family | agent | accuracy | LLM calls / problem | tokens / problem | tuned - default, 95 % CI |")
    print("|---|---|---|---|---|---|")
    for r in results:
        d, t, diff = r["default"], r["tuned"], r["difference"]
        print(f"| {r['family']} | default | {d['accuracy']:.1%} | {d['calls']:.1f} | {d['tokens']:.0f} | |")
        print(
            f"| {r['family']} | tuned | {t['accuracy']:.1%} | {t['calls']:.1f} | {t['tokens']:.0f} | "
            f"{diff['mean']:+.1%} [{diff['ci95'][0]:+.1%}, {diff['ci95'][1]:+.1%}] |"
        )
    for r in results:
        tu = r["tuning"]
        print(
            f"{r['family']}: tuning {tu['seconds']:.0f} s, {tu['trials']} trials on {tu['dev_n']} dev "
            f"({tu['trial_calls']:.0f} LLM calls, {tu['trial_tokens']:.0f} tokens) + {tu['pool_n']} "
            f"bootstrap problems; chosen: trial {r['tuned']['trial']}"
        )


if __name__ == "__main__":
    main()
