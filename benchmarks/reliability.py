"""Reliability benchmark (issue 6): kill -9 and resume, a 500-problem soak, concurrent writers.

    .venv/bin/python benchmarks/reliability.py                       # all parts (~4-6 min on 2 busy cores)
    .venv/bin/python benchmarks/reliability.py --parts crash soak    # some of: crash soak lock server
                                                                     #   faults fuzz load

The work is done by the reliability harness, `tests/reliability/harness.py`
(the tests in `tests/reliability/` use the same code; its docstring says
what each part does and how processes are killed); this script runs the
parts and prints their reports.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: `tests` is importable

from tests.reliability import harness  # noqa: E402


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--parts", nargs="+", default=["crash", "soak", "lock", "server", "faults", "fuzz", "load"]
    )
    parser.add_argument("--problems", type=int, default=500, help="soak problems")
    parser.add_argument("--embedder", default="hash:128", help="memory embedder ('default': all-MiniLM)")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        os.environ.update(harness.child_env(work))  # offline, and nothing written to the real $VERBALRL_HOME
        if "crash" in args.parts:
            harness.print_crash(harness.crash_loop(work / "crash", embedder=args.embedder))
        if "soak" in args.parts:
            n, emb = args.problems, args.embedder
            harness.print_soak(harness.soak(work / "soak", n=n, embedder=emb), f"defaults, memory {emb}")
            bare = harness.soak(work / "soak-no-memory", n=n, embedder=None)
            harness.print_soak(bare, "defaults, no memory")
            keep = harness.soak(work / "soak-keep", n=n, embedder=emb, keep_checkpoints=True)
            harness.print_soak(keep, f"keep_checkpoints=True, memory {emb}")
        if "lock" in args.parts:
            r = harness.lock_conflict(work / "lock")
            ok = sum(
                x["correct"] == harness.expected_correct(q)
                for x, q in zip(r["first_results"], r["questions"], strict=False)
            )
            print("\n## Two runs on one memory folder")
            print(
                f"second: rc {r['second_returncode']} after {r['second_seconds']} s: "
                + " ".join(r["second_stderr"].split())[-400:]
            )
            print(
                f"first: running when refused {r['first_running_when_refused']}, rc {r['first_returncode']}, "
                f"{len(r['first_results'])} results ({ok} as scripted)"
            )
        if "server" in args.parts:
            r = harness.server_writers(work / "server")
            stored = {i for w in r["workers"] for i in w.get("stored", [])}
            print("\n## Four Runner processes, one chroma server")
            print(
                f"{r['seconds']} s; return codes {[w['returncode'] for w in r['workers']]}; results "
                f"{[len(x) for x in r['results']]}; ids stored by workers {len(stored)}, missing on the "
                f"server {len(stored - r['experience_ids'])}; server experiences "
                f"{len(r['experience_problems'])}, reflections {r['reflections']}"
            )
        if "faults" in args.parts:
            service_faults(work / "faults")
        if "fuzz" in args.parts or "load" in args.parts:
            served(args.parts, work)


def service_faults(work: Path) -> None:
    """The "Service faults" table: fault, injected how, finished, lost, duplicated, time to recover."""
    from tests.reliability import service_faults as faults

    restart = faults.model_server_restart(work / "restart", n=20, down=10.0, after=4)
    gone = faults.model_server_gone(work / "gone", n=20, after=4, retry_wait=10.0)
    memory = faults.memory_server_restart(work / "memory", n=20, down=10.0, after=4)
    full = faults.disk_full(work / "disk", n=30, size="256k")
    print("\n## Service faults")
    print("| fault | injected how | finished | lost | duplicated | time to recover |")
    print("|---|---|---:|---:|---:|---|")
    for r, recover in (
        (restart, f"{r_s(restart['recover_s'])} after the restart ({restart['down_s']} s down)"),
        (gone, f"stopped {r_s(gone['stopped_after_s'])} after the kill (rc {gone['stopped_returncode']}); "
               f"`--resume` finished in {r_s(gone['resume_s'])}"),
        (memory, f"{r_s(memory['recover_s'])} after the restart ({memory['down_s']} s down; "
                 f"{memory['recall_errors']} recall errors recorded)"),
    ):
        lost = r["problems"] - r["finished"]
        print(f"| {r['fault']} | {r['injected']} | {r['finished']}/{r['problems']} | {lost} | "
              f"{r['lines'] - r['finished']} | {recover} |")
        for d in r["differences"]:
            print(f"  difference: {d}")
    if full is None:
        print("| the disk fills | (tmpfs cannot be mounted here: not measured) | | | | |")
    else:
        print(f"| {full['fault']} | {full['injected']} | {full['finished']}/{full['problems']} | "
              f"{full['problems'] - full['finished']} | {full['lines'] - full['finished']} | stopped with "
              f"{full['finished_when_full']} done (rc {full['stopped_returncode']}); `--resume` finished "
              f"in {r_s(full['resume_s'])} |")
        for d in full["differences"]:
            print(f"  difference: {d}")


def r_s(seconds: float) -> str:
    return f"{seconds:.1f} s"


def served(parts: list[str], work: Path) -> None:
    """Fuzzing `verbalrl serve` in front of a tiny random Llama (context 512: any request it accepts
    decodes in seconds), and load in front of the embedded SmolLM2."""
    from tests.reliability.server_fuzz import fuzz
    from tests.reliability.server_load import load
    from tests.tiny_model import save_tiny_llama
    from verbalrl.llm.server import serve_in_thread
    from verbalrl.llm.transformers_backend import TransformersLLM

    llm = TransformersLLM.load("smollm2-135m-instruct")
    if "fuzz" in parts:
        tiny = TransformersLLM.load(str(save_tiny_llama(work / "tiny", llm.tokenizer)), dtype="float32")
        with serve_in_thread(tiny, model_name="tiny", max_queued=64) as srv:
            f = fuzz(srv.url.removesuffix("/v1"), examples=100)
            print("\n## Fuzzing (schemathesis from GET /openapi.json)")
            statuses = dict(sorted(f.by_status.items()))
            print(f"{f.requests} requests in {f.seconds:.0f} s; by status {statuses}; "
                  f"5xx {f.server_errors}; findings {len(f.findings)}")
            for line in f.findings[:10]:
                print("  finding:", line)
    if "load" in parts:
        with serve_in_thread(llm, model_name="smol", max_rows=16, max_queued=32) as srv:
            load(srv.url, clients=64, seconds=5)  # warm-up
            r = load(srv.url, clients=64, seconds=30)
            print("\n## Load: 64 concurrent clients, 30 s, 16 new tokens each, queue bound 32 rows")
            print(r.summary())
            for line in r.errors[:10]:
                print("  error:", line)


if __name__ == "__main__":
    main()
