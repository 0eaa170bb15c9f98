"""The `make demo` job: sample solutions with the embedded model and check them.

What it shows today (the graphs, GenRM and memory plug in as they land): the
embedded SmolLM2-135M-Instruct samples N solutions for held-out arithmetic
problems, the task's checker scores them, and we report per-sample accuracy,
first-sample accuracy, self-consistency (majority answer) and Pass@N, each
with its compute. Numbers are whatever the model does: honest, not tuned.

    python examples/demo.py [--problems 12] [--samples 4] [--level sum30]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

from rich.console import Console
from rich.table import Table

from verbalrl.llm import GenerationConfig
from verbalrl.llm.registry import load_llm
from verbalrl.tasks import get_task


def main() -> None:
    parser = argparse.ArgumentParser(description="verbalrl demo: sample and check")
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--problems", type=int, default=12)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--level", default="sum30")
    parser.add_argument("--max-new-tokens", type=int, default=96)
    args = parser.parse_args()
    console = Console()

    task = get_task("arithmetic", level=args.level)
    problems = task.problems("test", n=args.problems, seed=0)
    with console.status(f"loading {args.model} ..."):
        llm = load_llm(args.model)
    config = GenerationConfig(
        n=args.samples, temperature=0.8, max_new_tokens=args.max_new_tokens, seed=0
    )
    start = time.perf_counter()
    with console.status(f"sampling {len(problems)} problems x {args.samples} ..."):
        results = llm.generate([task.prompt(p) for p in problems], config)
    seconds = time.perf_counter() - start

    per_sample = first = majority = pass_n = 0
    tokens = 0
    for problem, row in zip(problems, results, strict=True):
        answers = [task.extract_answer(c.text) for c in row]
        correct = [task.check(problem, a) for a in answers]
        tokens += sum(c.completion_tokens for c in row)
        per_sample += sum(correct)
        first += correct[0]
        votes = Counter(a for a in answers if a is not None)
        top = votes.most_common(1)[0][0] if votes else None
        majority += task.check(problem, top)
        pass_n += any(correct)

    n_problems = len(problems)
    table = Table(title=f"arithmetic ({args.level}), {n_problems} held-out problems, {args.model}")
    for col in ("method", "accuracy", "LLM calls / problem", "tokens / problem"):
        table.add_column(col)
    per_problem_tokens = tokens / n_problems
    rows = [
        (
            "per sample",
            per_sample / (n_problems * args.samples),
            1,
            per_problem_tokens / args.samples,
        ),
        ("first sample", first / n_problems, 1, per_problem_tokens / args.samples),
        (
            f"self-consistency@{args.samples}",
            majority / n_problems,
            args.samples,
            per_problem_tokens,
        ),
        (f"Pass@{args.samples} (oracle)", pass_n / n_problems, args.samples, per_problem_tokens),
    ]
    for name, acc, calls, toks in rows:
        table.add_row(name, f"{acc:.1%}", str(calls), f"{toks:.0f}")
    console.print(table)
    console.print(
        f"sampled {n_problems * args.samples} solutions ({tokens} tokens) in {seconds:.1f} s "
        f"({tokens / seconds:.0f} tokens/s, dtype {getattr(llm, 'dtype', '?')})"
    )
    example = problems[0]
    console.rule("one problem")
    console.print(example.question, markup=False)
    console.print(results[0][0].text, markup=False, highlight=False)


if __name__ == "__main__":
    main()
