"""How verified exemplars should reach the embedded model: as few-shot turns, or quoted.

Reproduces issue 11's measurement with the project's own API: held-out
problems of one task, K samples each, the solver prompt built four ways from
the same 2 train-split exemplars (their reference solutions, or the same with
the answer wrong by 1-5):

- `none`: the task's prompt alone;
- `quoted`: the exemplars in the fenced memory section (`MemoryContext.render()`);
- `turns`: the exemplars as few-shot chat turns (`solver_prompt(demonstrations=...)`);
- `turns-wrong`: turns whose answers are wrong (does the content or the form teach?).

All four draw from the same seeds (paired), side by side in one run. Prints
accuracy per sample, pass@K and tokens per sample for each, and the paired
bootstrap 95 % interval of each minus `none` (per-problem accuracy).

    python benchmarks/demonstrations.py --problems 40 --samples 4
"""

from __future__ import annotations

import argparse
import random
import re
import time

from verbalrl.agents.solver import solver_prompt
from verbalrl.evaluation.metrics import bootstrap_ci
from verbalrl.llm import GenerationConfig, load_llm
from verbalrl.memory import Experience, MemoryContext, Recalled
from verbalrl.tasks import get_task


def exemplars(task, n: int, seed: int, wrong: bool) -> list[Experience]:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    out = []
    for problem in task.problems("train", n=n, seed=seed):
        solution = task.reference_solution(problem)
        if wrong:
            bad = str(int(problem.answer) + rng.randint(1, 5))
            solution = re.sub(r"\b" + re.escape(problem.answer) + r"\b", bad, solution)
        out.append(
            Experience(
                task=task.name, problem=problem.question, solution=solution,
                outcome="success", score=0.9, verified=True,
            )
        )  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", default="arithmetic")
    parser.add_argument("--level", default="sum30")
    parser.add_argument("--problems", type=int, default=40)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--exemplars", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    args = parser.parse_args()
    task = get_task(args.task, **({"level": args.level} if args.task == "arithmetic" else {}))
    problems = task.problems("test", n=args.problems, seed=args.seed)
    llm = load_llm("smollm2-135m-instruct")
    right = exemplars(task, args.exemplars, args.seed + 1, wrong=False)
    wrong = exemplars(task, args.exemplars, args.seed + 1, wrong=True)

    def context(records: list[Experience], question: str) -> MemoryContext:
        recalled = [Recalled(experience=e, similarity=0.5) for e in records]
        return MemoryContext(problem=question, exemplars=recalled)

    builds = {
        "none": lambda p: solver_prompt(task, p),
        "quoted": lambda p: solver_prompt(task, p, memory_context=context(right, p.question).render()),
        "turns": lambda p: solver_prompt(task, p, demonstrations=context(right, p.question).demonstrations()),
        "turns-wrong": lambda p: solver_prompt(
            task, p, demonstrations=context(wrong, p.question).demonstrations()
        ),
    }
    per_problem: dict[str, list[float]] = {}
    print(f"{args.problems} held-out {task.name} problems x {args.samples} samples, T=0.8, "
          f"{args.max_new_tokens} new tokens, {args.exemplars} exemplars")
    print(f"{'form':12} {'per sample':>10} {'pass@K':>7} {'tokens':>7} {'seconds':>8}")
    for name, build in builds.items():
        start = time.perf_counter()
        gen = GenerationConfig(
            n=args.samples, temperature=0.8, max_new_tokens=args.max_new_tokens, seed=args.seed
        )
        rows = llm.generate([build(p) for p in problems], gen)
        scores, passes, tokens = [], 0, 0
        for problem, row in zip(problems, rows, strict=True):
            ok = [task.check(problem, task.extract_answer(c.text)) for c in row]
            scores.append(sum(ok) / len(ok))
            passes += any(ok)
            tokens += sum(c.completion_tokens for c in row)
        per_problem[name] = scores
        n = len(problems)
        print(f"{name:12} {100 * sum(scores) / n:9.1f}% {100 * passes / n:6.1f}% "
              f"{tokens / (n * args.samples):7.1f} {time.perf_counter() - start:8.1f}")
    base = per_problem["none"]
    for name, scores in per_problem.items():
        if name == "none":
            continue
        diffs = [a - b for a, b in zip(scores, base, strict=True)]
        low, high = bootstrap_ci(diffs, n_resamples=2000, seed=0)
        mean = 100 * sum(diffs) / len(diffs)
        print(f"{name} - none: {mean:+.1f} points, 95% CI [{100 * low:+.1f}, {100 * high:+.1f}]")


if __name__ == "__main__":
    main()
