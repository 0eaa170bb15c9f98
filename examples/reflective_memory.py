"""A reflective agent over a stream of problems: it recalls, solves, reflects and remembers.

Run:  python examples/reflective_memory.py --problems 10
      python examples/reflective_memory.py --memory ~/my-memory --verifier PATH_TO_TRAINED_GENRM

Each problem starts with a recall from memory: verified solutions of similar
problems come back as demonstrations (few-shot chat turns the model imitates;
`--style quoted` puts them in a quoted section instead), distilled concepts as
a quoted section. Only answers that pass the exemplar gate (a score of their
own, `--gate`, and the majority answer of the drafts) become demonstrations.
A rejected attempt is reflected on, stored with its lesson, and retried with
the lesson in context. `--learn-from-feedback` lets the task's checker confirm what memory
keeps (the loop still decides with the verifier only). Without `--verifier`
an *untrained* GenRM is used (poor; clearly labelled). Without `--memory`
the memory lives in a temporary folder.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from rich.console import Console

from verbalrl import load_llm
from verbalrl.graphs import ReflectiveConfig
from verbalrl.memory import ChromaMemory
from verbalrl.run import Runner, summary_table
from verbalrl.tasks import get_task
from verbalrl.verifier import load_verifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--verifier", default=None, help="trained GenRM folder (default: untrained GenRM)")
    parser.add_argument("--memory", type=Path, default=None, help="memory folder (default: temporary)")
    parser.add_argument("--level", type=int, default=1)
    parser.add_argument("--problems", type=int, default=5)
    parser.add_argument("--n", type=int, default=2, help="drafts per trial")
    parser.add_argument("--trials", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--threshold", type=float, default=0.7)
    parser.add_argument("--temperature", type=float, default=0.7, help="0: greedy drafts")
    parser.add_argument("--distill-every", type=int, default=4)
    parser.add_argument("--learn-from-feedback", action="store_true")
    parser.add_argument("--style", choices=["turns", "quoted"], default="turns", help="exemplars as")
    parser.add_argument("--gate", type=float, default=None, help="exemplar score (default: threshold)")
    args = parser.parse_args()

    console = Console()
    task = get_task("arithmetic", level=args.level)
    problems = task.problems("test", n=args.problems, seed=0)
    llm = load_llm(args.model, dtype="float32")
    verifier = load_verifier(args.verifier or "genrm", llm, task)
    console.print(f"verifier: {args.verifier or 'UNTRAINED GenRM (poor; pass --verifier PATH)'}")
    config = ReflectiveConfig(
        n_drafts=args.n,
        temperature=args.temperature,
        max_rounds=args.trials,
        max_new_tokens=args.max_new_tokens,
        critic_max_new_tokens=min(64, args.max_new_tokens),
        distill_max_new_tokens=min(128, 2 * args.max_new_tokens),
        threshold=args.threshold,
        distill_every=args.distill_every,
        learn_from_feedback=args.learn_from_feedback,
        exemplar_style=args.style,
        gate_threshold=args.gate,
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.memory or Path(tmp) / "memory"
        with ChromaMemory(folder) as memory:
            report = Runner(
                "reflective", llm, verifier, task, config, memory=memory, runs_dir=Path(tmp) / "runs"
            ).run(problems)
            for r in report["records"]:
                console.print(
                    f"{r['problem_id']}: {r['demonstrations']} demonstration(s), recalled {r['recalled']}, "
                    f"trials {r['rounds']}, lessons {r['lessons']}, stored {r['stored']}, "
                    f"answer {r['answer']} "
                    f"({'right' if r['correct'] else 'wrong'})"
                    + (", now an exemplar" if r["exemplar_stored"] else "")
                )
            stats = memory.stats()
            console.print(f"memory at {folder}: {stats}")
    console.print(summary_table(report["summary"], title=f"reflective agent, mode {config.mode}"))
    row = report["summary"][0]
    if row.get("exemplars"):
        console.print(f"exemplar gate: {row['exemplars']} let through, precision {row['gate_precision']:.0%}")


if __name__ == "__main__":
    main()
