"""Benchmark 4: accuracy against compute on held-out chain problems, sampling vs verifier-guided search.

Sampling methods read a held-out pool (`verbalrl sample ... --samples 16`, the
same demonstrations as the search's prompt): per problem the first N
candidates (N = 1, 2, 4, 8, 16): first sample, self-consistency, best-of-N
with the outcome GenRM, best-of-N with the PRM (aggregation `--aggregation`),
and the GenRM-weighted vote. Search methods run the `search` graph with the
same PRM on the same problems: beam, DVTS and MCTS, each at the budgets in
`--budgets` (beam/DVTS: beams x expansions; MCTS: iterations x expansions).

Per method: accuracy (95 % bootstrap CI over problems), generated tokens per
problem (candidates or search steps, rollouts and refinements included),
policy calls and verifier calls per problem. The target comparison: PRM beam
search against best-of-N with the outcome GenRM at the smallest N whose tokens
per problem are at least the beam's (so best-of-N never gets less compute),
paired per problem, bootstrap CI of the difference. Writes a JSON file and a
plot of accuracy against generated tokens.

    python benchmarks/step_search.py --pool runs/chain_test.jsonl --prm runs/prm-chain \
        --genrm runs/genrm-chain --problems 40 --budgets 2x2,4x4 --out runs/bench4
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from verbalrl.evaluation.metrics import bootstrap_ci
from verbalrl.evaluation.pool import group_by_problem, pool_task, read_pool
from verbalrl.evaluation.shots import pick_shots, reference_shots
from verbalrl.evaluation.steps import PrecomputedProcess, score_pool_steps


def sampling_rows(task, groups, genrm_scores, prm, ns, aggregation) -> dict[str, list[dict[str, float]]]:  # type: ignore[no-untyped-def]
    """Per method and N, one row per problem: correct, generated tokens, policy and verifier calls."""
    from verbalrl.verifier.process import aggregate

    rows: dict[str, list[dict[str, float]]] = {}
    for n in ns:
        for g in groups:
            cands = list(g.candidates[:n])
            tokens = sum(c.completion_tokens for c in cands)
            genrm = genrm_scores[g.problem.id][:n]
            prm_scores = [aggregate(prm.scores[(g.problem.id, c.text)], aggregation) for c in cands]
            votes = Counter(c.normalized for c in cands if c.normalized is not None)
            sc = votes.most_common(1)[0][0] if votes else None
            weights: Counter[str] = Counter()
            for c, s in zip(cands, genrm, strict=True):
                if c.normalized is not None:
                    weights[c.normalized] += s
            weighted = weights.most_common(1)[0][0] if weights else None
            picks = {
                "first_sample": cands[0].correct if n == 1 else None,
                f"self_consistency@{n}": task.check(g.problem, sc),
                f"best_of_{n}[genrm]": cands[max(range(n), key=lambda i: genrm[i])].correct,
                f"best_of_{n}[prm@{aggregation}]": cands[max(range(n), key=lambda i: prm_scores[i])].correct,
                f"weighted_vote@{n}[genrm]": task.check(g.problem, weighted),
            }
            for name, correct in picks.items():
                if correct is None:
                    continue
                verifier_calls = n if ("genrm" in name or "prm" in name) else 0
                row = {"correct": float(correct), "tokens": tokens, "policy_calls": n}
                rows.setdefault(name, []).append({**row, "verifier_calls": verifier_calls})
    return rows


def search_rows(llm, task, prm, problems, strategy: str, budget: str, args) -> list[dict[str, float]]:  # type: ignore[no-untyped-def]
    from verbalrl.graphs.search import build_search_graph

    from verbalrl.graphs import SearchConfig, initial_state

    width, depth = (int(x) for x in budget.split("x"))
    if strategy == "mcts":
        config = SearchConfig(strategy="mcts", expansions=depth, max_rounds=width,
                              aggregation=args.aggregation, temperature=args.temperature, seed=args.seed,
                              max_depth=8)  # fmt: skip
    else:
        config = SearchConfig(strategy=strategy, beams=width, expansions=depth, max_rounds=8,  # type: ignore[arg-type]
                              aggregation=args.aggregation, temperature=args.temperature, seed=args.seed,
                              max_depth=8)  # fmt: skip
    graph = build_search_graph(llm, prm, config, task=task)
    rows = []
    for problem in problems:
        out = graph.invoke(initial_state(problem))
        result = out["result"]
        rows.append({
            "correct": float(task.check(problem, result.get("answer"))),
            "tokens": float(result["generated_tokens"]),
            "policy_calls": float(result["llm_calls"]) - float(result.get("verifier_calls", 0)),
            "verifier_calls": float(result.get("verifier_calls", 0)),
        })  # fmt: skip
    return rows


def summarise(name: str, rows: list[dict[str, float]], seconds: float | None = None) -> dict[str, Any]:
    acc = [r["correct"] for r in rows]
    low, high = bootstrap_ci(acc, n_resamples=2000, seed=0)
    mean = lambda key: sum(r[key] for r in rows) / len(rows)  # noqa: E731
    return {"method": name, "accuracy": sum(acc) / len(acc), "ci": [low, high], "tokens": mean("tokens"),
            "policy_calls": mean("policy_calls"), "verifier_calls": mean("verifier_calls"),
            "problems": len(rows), "seconds": seconds}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pool", required=True, help="held-out pool with >= 16 samples per problem")
    parser.add_argument("--prm", required=True)
    parser.add_argument("--genrm", required=True)
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--problems", type=int, default=40)
    parser.add_argument("--ns", default="1,2,4,8,16")
    parser.add_argument("--budgets", default="2x2,4x4", help="WIDTHxEXPANSIONS per search run")
    parser.add_argument("--strategies", default="beam,dvts,mcts")
    parser.add_argument("--aggregation", default="last")
    parser.add_argument("--shots", type=int, default=2)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    from verbalrl.agents.prompted import prompted

    from verbalrl.llm import load_llm
    from verbalrl.verifier import load_verifier

    args.out.mkdir(parents=True, exist_ok=True)
    records = read_pool(args.pool)
    base_task = pool_task(records)
    groups = group_by_problem(records)[: args.problems]
    kept = {g.problem.id for g in groups}
    records = [r for r in records if r.problem_id in kept]
    ns = [int(x) for x in args.ns.split(",")]

    genrm = load_verifier(f"genrm:{args.genrm}")
    genrm_scores = {g.problem.id: genrm.verify(g.problem, g.texts).scores for g in groups}
    prm = load_verifier(f"prm:{args.prm}", how=args.aggregation)
    prm_cache = PrecomputedProcess(score_pool_steps(prm, records))  # type: ignore[arg-type]
    per_problem = sampling_rows(base_task, groups, genrm_scores, prm_cache, ns, args.aggregation)
    results = [summarise(name, rows) for name, rows in per_problem.items()]
    for r in results:
        print(json.dumps(r), flush=True)

    # the search's prompt: the pool's demonstrations (train-split references, as `sample --shots`)
    demos = reference_shots(base_task, n=max(32, 4 * args.shots), seed=1)
    shots = pick_shots(demos, groups[0].problem, args.shots, seed=args.seed)
    task = prompted(base_task, None, [{"question": s.question, "solution": s.solution} for s in shots])
    llm = load_llm(args.model)
    for strategy in args.strategies.split(","):
        for budget in args.budgets.split(","):
            start = time.perf_counter()
            rows = search_rows(llm, task, prm, [g.problem for g in groups], strategy, budget, args)
            name = f"{strategy}[{budget}]"
            per_problem[name] = rows
            results.append(summarise(name, rows, time.perf_counter() - start))
            print(json.dumps(results[-1]), flush=True)

    # target: beam vs best-of-N (GenRM) at >= the beam's tokens, paired per problem
    comparisons = []
    for name in [n for n in per_problem if n.startswith("beam[")]:
        beam_tokens = sum(r["tokens"] for r in per_problem[name]) / len(per_problem[name])
        for n in ns:
            bon = per_problem[f"best_of_{n}[genrm]"]
            if sum(r["tokens"] for r in bon) / len(bon) >= beam_tokens or n == ns[-1]:
                diffs = [a["correct"] - b["correct"] for a, b in zip(per_problem[name], bon, strict=True)]
                low, high = bootstrap_ci(diffs, n_resamples=2000, seed=0)
                comparisons.append({"beam": name, "best_of_n": f"best_of_{n}[genrm]",
                                    "difference": sum(diffs) / len(diffs), "ci": [low, high]})  # fmt: skip
                print(json.dumps(comparisons[-1]), flush=True)
                break
    (args.out / "results.json").write_text(json.dumps({"args": vars(args) | {"out": str(args.out)},
                                                       "results": results, "comparisons": comparisons},
                                                      indent=2))  # fmt: skip
    plot(results, args.out / "accuracy_vs_tokens.png")


def plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    families: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        family = r["method"].split("@")[0].split("[")[0].rstrip("_0123456789")
        if "best_of" in r["method"]:
            family = "best_of_n" + r["method"][r["method"].index("["):]
        families.setdefault(family, []).append(r)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for family, rows in families.items():
        rows = sorted(rows, key=lambda r: r["tokens"])
        ax.plot([r["tokens"] for r in rows], [100 * r["accuracy"] for r in rows], marker="o", label=family)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("generated tokens per problem")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("chain (level 3), held-out: accuracy against generated tokens")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
