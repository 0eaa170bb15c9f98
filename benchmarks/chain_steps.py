"""Per-step and whole-chain accuracy of a model on the chain task, per level (issue 13, part 1).

For each level (number of operations) and number range, held-out test
problems, K samples each (`sample_pool`, the solver prompt after `--shots`
train-split reference solutions as chat turns), every line labelled by the
task's step checker. Reported per level:

- `step|ok`: P(the i-th operation is right | every earlier line was right),
  over all i: how often the model gets a single step right when it is on track;
- `local`: equations whose arithmetic is right for the numbers written
  (whatever they are), a looser measure of single-step skill;
- `chain`: samples whose every line is right and whose answer checks;
- `answer`: samples whose final answer checks (however reached).

    python benchmarks/chain_steps.py --levels 2,3,4,5,6 --max-numbers 9,99 --problems 40 --samples 4
"""

from __future__ import annotations

import argparse
import re
import time

from verbalrl.evaluation.pool import sample_pool
from verbalrl.evaluation.shots import reference_shots
from verbalrl.llm import GenerationConfig, load_llm
from verbalrl.tasks import Problem, get_task

_EQ = re.compile(r"(-?\d+)\s*([+\-])\s*(\d+)\s*=\s*(-?\d+)")


def step_stats(task, problem: Problem, text: str) -> tuple[int, int, int, int, bool]:  # type: ignore[no-untyped-def]
    """(on-track steps tried, of them right, equations written, of them locally right, chain right)."""
    labels = task.check_steps(problem, text)
    tried = right = 0
    for label in labels:
        if label.kind == "text":
            continue
        tried += 1
        if label.status != "correct":
            break
        right += 1
    eqs = [m for line in (label.line for label in labels) for m in _EQ.finditer(line)]
    local = sum((int(m[1]) + int(m[3]) if m[2] == "+" else int(m[1]) - int(m[3])) == int(m[4]) for m in eqs)
    chain = bool(labels) and all(label.status != "wrong" for label in labels)
    chain = chain and task.check(problem, task.extract_answer(text))
    return tried, right, len(eqs), local, chain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--levels", default="2,3,4,5,6")
    parser.add_argument("--max-numbers", default="9,99")
    parser.add_argument("--problems", type=int, default=40)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--shots", type=int, default=2)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    llm = load_llm(args.model)
    config = GenerationConfig(
        temperature=args.temperature, max_new_tokens=args.max_new_tokens, seed=args.seed
    )
    print(f"{args.model}: {args.problems} test problems x {args.samples} samples, {args.shots} shots, "
          f"T={args.temperature}")
    print("| numbers | level | step|ok | local | chain | answer | s |")
    print("|---|---|---|---|---|---|---|")
    for top in (int(x) for x in args.max_numbers.split(",")):
        for level in (int(x) for x in args.levels.split(",")):
            task = get_task("chain", level=level, max_number=top)
            problems = task.problems("test", args.problems, seed=args.seed)
            start = time.perf_counter()
            records = sample_pool(
                llm, task, problems, args.samples, config, progress=False,
                demonstrations=reference_shots(task, seed=args.seed), shots=args.shots,
            )  # fmt: skip
            seconds = time.perf_counter() - start
            by_id = {p.id: p for p in problems}
            totals = [0, 0, 0, 0, 0]
            answers = 0
            for record in records:
                stats = step_stats(task, by_id[record.problem_id], record.text)
                totals = [t + int(s) for t, s in zip(totals, stats, strict=True)]
                answers += record.correct
            n = len(records)
            print(f"| 2-{top} | {level} | {totals[1] / max(totals[0], 1):.3f} | "
                  f"{totals[3] / max(totals[2], 1):.3f} | {totals[4] / n:.3f} | {answers / n:.3f} | "
                  f"{seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
