"""Benchmark: how much slower verbalrl gets when other processes hold the cores (issue 15, part 3).

Each workload runs in a fresh process, first on the quiet machine, then with
one competing CPU-bound process per allowed core (a `multiprocessing` busy
loop this script starts before the workload and stops after it). Settings:

- `old`: what verbalrl did before `verbalrl/threads.py`: torch's defaults,
  libgomp spinning 300000 times before a thread sleeps (`GOMP_SPINCOUNT=300000`
  is libgomp's own default when `OMP_WAIT_POLICY` is unset) and one thread
  per core (`VERBALRL_THREADS=<cores>`).
- `new`: the defaults now (a short spin, `GOMP_SPINCOUNT=3000`; threads = the
  cores free when the model loads).
- micro only, to show what each half of the policy does: `passive-all`
  (`OMP_WAIT_POLICY=PASSIVE`, one thread per core), `spin-N`
  (`GOMP_SPINCOUNT=N`, one thread per core), `one` (the new spin, 1 thread).

Workloads:

- `micro`: the embedded SmolLM2-135M (bf16) and MiniLM, each timed after a
  warm-up: sampling 16 x 32 tokens (one batch), sampling 1 x 32 tokens,
  GenRM-style scoring (`next_token_probs` of 16 candidates, 3 times), 20
  one-sentence embeddings. Also prints the thread count each process chose.
- `graph`: `verbalrl run --graph reflective` on `--problems` sum30 problems
  with the packaged GenRM and a fresh memory (wall time of the command).
- `demo`: `examples/demo.py --per-family N` (wall time; the full demo is N=10).

Printed per workload and setting: seconds quiet and busy (medians over
`--repeats`), and busy/quiet. The graph's work varies from run to run (the
samples differ, so do the rounds): its seconds per 1k generated tokens are
the fairer comparison.
Target: busy/quiet <= 2.5 for `new`. A run over `--timeout` is stopped and
shown as "> T". The machine is shared and noisy: printed with each run are
the load average and the threads other processes kept runnable (from
/proc/stat over 0.5 s; the busy loops count) just before it starts.

    python benchmarks/busy_machine.py --workloads micro
    python benchmarks/busy_machine.py --workloads graph --problems 3
    python benchmarks/busy_machine.py --workloads demo --per-family 2 --settings new
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
POLICY_VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "VERBALRL_THREADS")
MICRO_SETTINGS = ("old", "passive-all", "spin-3000", "one", "new")


def cores() -> int:
    return len(os.sched_getaffinity(0))


def settings_env(setting: str) -> dict[str, str]:
    """The environment of one setting: the current one without any thread policy, plus the setting's."""
    env = {k: v for k, v in os.environ.items() if k not in POLICY_VARS}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    if setting.startswith("spin-"):  # spin-N: libgomp spins N times before sleeping, a thread per core
        return {**env, "GOMP_SPINCOUNT": setting[5:], "VERBALRL_THREADS": str(cores())}
    extra = {
        "old": {"GOMP_SPINCOUNT": "300000", "VERBALRL_THREADS": str(cores())},
        "passive-all": {"OMP_WAIT_POLICY": "PASSIVE", "VERBALRL_THREADS": str(cores())},
        "one": {"VERBALRL_THREADS": "1"},
        "new": {},
    }[setting]
    return {**env, **extra}


def _spin() -> None:
    while True:
        pass


class BusyLoops:
    """One CPU-bound process per allowed core while the block runs (none when `n` is 0)."""

    def __init__(self, n: int) -> None:
        self.procs = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(n)]

    def __enter__(self) -> BusyLoops:
        for p in self.procs:
            p.start()
        time.sleep(0.5 if self.procs else 0)  # let them take the cores before the workload starts
        return self

    def __exit__(self, *exc: object) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.join()


# ----------------------------------------------------------------- the micro workload (a child process)
def micro_child() -> None:
    """Runs in the child: load the models, time each operation after a warm-up, print one JSON line."""
    import logging

    logging.getLogger("verbalrl").setLevel(logging.ERROR)
    from verbalrl.llm.base import GenerationConfig
    from verbalrl.llm.transformers_backend import TransformersLLM
    from verbalrl.memory.embedding import SentenceTransformerEmbedder

    start = time.perf_counter()
    llm = TransformersLLM.load("smollm2-135m-instruct")
    emb = SentenceTransformerEmbedder(cache_size=0)
    emb.embed(["warm up"])
    import torch

    out: dict[str, float] = {"load": time.perf_counter() - start, "threads": torch.get_num_threads()}
    prompt = [{"role": "user", "content": "What is 12 + 7? End with Answer: <number>."}]
    llm.generate([prompt], GenerationConfig(n=2, max_new_tokens=4, seed=0))
    never = ("<never stops>",)
    for n in (16, 1):
        config = GenerationConfig(n=n, temperature=0.8, max_new_tokens=32, seed=0, stop=never)
        t = time.perf_counter()
        llm.generate([prompt], config)
        out[f"sample {n}x32"] = time.perf_counter() - t
    solution = "What is 12 + 7?\n\nSolution: 12 + 7 = {0}.\nAnswer: {0}\n\nIs the answer correct (Yes/No)?"
    candidates = [solution.format(i) for i in range(10, 26)]
    llm.next_token_probs(candidates[:2], ["Yes", "No"])
    t = time.perf_counter()
    for _ in range(3):
        llm.next_token_probs(candidates, ["Yes", "No"])
    out["score 16 x3"] = time.perf_counter() - t
    t = time.perf_counter()
    for i in range(20):
        emb.embed([f"What is {i} + 7? A short question of one sentence."])
    out["embed 1 x20"] = time.perf_counter() - t
    print(json.dumps(out))


# ----------------------------------------------------------------- running one workload
# The graph run goes through the CLI with the thread choice logged (verbalrl.threads logs it at INFO).
CLI_WITH_THREAD_LOG = (
    "import logging, sys; logging.basicConfig(level=logging.WARNING, format='%(message)s'); "
    "logging.getLogger('verbalrl.threads').setLevel(logging.INFO); "
    "from verbalrl.cli import main; sys.argv[0] = 'verbalrl'; main()"
)


def command(workload: str, args: argparse.Namespace, tmp: Path) -> list[str]:
    if workload == "micro":
        return [sys.executable, __file__, "--child", "micro"]
    if workload == "graph":
        return [sys.executable, "-c", CLI_WITH_THREAD_LOG, "run", "--graph", "reflective", "--task",
                "arithmetic", "--level", "sum30", "--problems", str(args.problems), "--seed", "0", "--memory",
                str(tmp / "memory"), "--runs-dir", str(tmp / "runs"), "--no-progress", "--json"]  # fmt: skip
    return [sys.executable, str(REPO / "examples" / "demo.py"), "--per-family", str(args.per_family),
            "--out", str(tmp / "demo")]  # fmt: skip


def graph_detail(stdout: str, stderr: str) -> dict:
    """The work a graph run did (LLM calls, generated tokens: they differ when the numbers differ)
    and the thread count it chose."""
    summary = json.loads(stdout)["summary"]
    threads = re.findall(r"torch threads: (\d+)", stderr)
    return {
        "threads": int(threads[0]) if threads else "?",
        "llm calls": round(sum(r["mean_llm_calls"] * r["problems"] for r in summary)),
        "tokens": round(sum(r["mean_generated_tokens"] * r["problems"] for r in summary)),
        "accuracy": summary[0]["accuracy"],
    }


def runnable_others(seconds: float = 0.5, samples: int = 10) -> float:
    """Threads other than this one waiting for or using a CPU (/proc/stat procs_running), on average.

    Unlike the busy share of the cores it counts past the core count: 2 busy loops and another
    engineer's job read 3 on 2 cores. The busy loops of a busy run are counted.
    """
    counts = []
    for _ in range(samples):
        with open("/proc/stat") as f:
            counts += [int(line.split()[1]) - 1 for line in f if line.startswith("procs_running")]
        time.sleep(seconds / samples)
    return sum(counts) / len(counts)


def run_once(workload: str, setting: str, busy: bool, args: argparse.Namespace) -> dict:
    """Wall seconds of one run (None past the timeout), the load average before it, the child's output."""
    tmp = Path(tempfile.mkdtemp(prefix="busy-machine-"))
    try:
        with BusyLoops(cores() if busy else 0):
            load = os.getloadavg()[0]
            others = runnable_others()
            start = time.perf_counter()
            try:
                proc = subprocess.run(command(workload, args, tmp), env=settings_env(setting), cwd=tmp,
                                      capture_output=True, text=True, timeout=args.timeout)  # fmt: skip
            except subprocess.TimeoutExpired:
                return {"seconds": None, "load": load, "others": others, "detail": {}}
            seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"{workload} ({setting}) failed:\n{proc.stderr[-3000:]}")
        detail = {}
        if workload == "micro":
            detail = json.loads(proc.stdout.strip().splitlines()[-1])
        elif workload == "graph":
            detail = graph_detail(proc.stdout, proc.stderr)
            detail["s/1k tokens"] = round(1000 * seconds / max(1, detail["tokens"]), 1)
        return {"seconds": seconds, "load": load, "others": others, "detail": detail}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def fmt(run: dict, timeout: float) -> str:
    if run.get("skipped"):
        return "-"
    return f"> {timeout:.0f}" if run["seconds"] is None else f"{run['seconds']:.2f}"


def ratio(busy: dict, quiet: dict, timeout: float, key: str = "seconds") -> str:
    """busy/quiet of `key` (a run's seconds, or one micro operation's)."""
    b, q = busy.get(key), quiet.get(key)
    if busy.get("skipped") or quiet.get("skipped") or not q:
        return "-"
    return f"> {timeout / q:.1f}x" if b is None else f"{b / q:.2f}x"


def combine(runs: list[dict]) -> dict:
    """One result from repeats: the median of each number (seconds: None if any run timed out)."""
    if len(runs) == 1:
        return runs[0]
    seconds = [r["seconds"] for r in runs]
    details = [r["detail"] for r in runs if r["detail"]]
    numeric = [k for k, v in (details[0] if details else {}).items() if isinstance(v, int | float)]
    return {
        "seconds": None if None in seconds else statistics.median(seconds),
        "load": statistics.mean(r["load"] for r in runs),
        "others": statistics.mean(r["others"] for r in runs),
        "detail": {k: statistics.median(d[k] for d in details) for k in numeric},
        "runs": [r["seconds"] for r in runs],
    }


def pair(result: dict, cell: Any) -> str:
    """`cell` of the quiet and the busy run, as "quiet|busy" ("-" where a run has no numbers)."""
    runs = (result["quiet"], result["busy"])
    return "|".join(f"{cell(x):.4g}" if x["seconds"] and x["detail"] else "-" for x in runs)


def report(workload: str, results: dict, args: argparse.Namespace) -> None:
    print(f"\n{workload}: seconds quiet / with one busy loop per core ({cores()} cores), busy/quiet")
    if workload == "micro":
        ops = [k for k in next(iter(results.values()))["quiet"]["detail"] if k not in ("load", "threads")]
        print(f"{'setting':12} {'threads q/b':>11} " + " ".join(f"{op:>24}" for op in ops))
        for setting, r in results.items():
            q, b = r["quiet"]["detail"], r["busy"]["detail"]
            cells = [f"{q.get(op, 0):6.2f} {b.get(op, 0):6.2f} {ratio(b, q, 0, op):>9}" for op in ops]
            threads = f"{q.get('threads', '-')}/{b.get('threads', '-')}"
            print(f"{setting:12} {threads:>11} " + " ".join(f"{c:>24}" for c in cells))
    print(f"{'setting':12} {'quiet s':>9} {'busy s':>9} {'busy/quiet':>11}  load, others runnable: q|b")
    for setting, r in results.items():
        q, b = r["quiet"], r["busy"]
        print(f"{setting:12} {fmt(q, args.timeout):>9} {fmt(b, args.timeout):>9} "
              f"{ratio(b, q, args.timeout):>11}   {q['load']:.2f}, {q['others']:.1f} | "
              f"{b['load']:.2f}, {b['others']:.1f}")  # fmt: skip
    if workload == "graph":  # different thread counts round differently: the samples, and the work, differ
        print(f"{'setting':12} {'threads q|b':>11} {'tokens q|b':>13} {'calls q|b':>11} {'s/1k tok q|b':>13}")
        for setting, r in results.items():
            keys = ("threads", "tokens", "llm calls")
            cells = [pair(r, lambda x, k=k: x["detail"].get(k, "-")) for k in keys]
            per_k = pair(r, lambda x: x["detail"]["s/1k tokens"])
            print(f"{setting:12} {cells[0]:>11} {cells[1]:>13} {cells[2]:>11} {per_k:>13}")
    if "new" in results and "old" in results:
        print(f"new/old quiet: {ratio(results['new']['quiet'], results['old']['quiet'], args.timeout)}, "
              f"busy: {ratio(results['new']['busy'], results['old']['busy'], args.timeout)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workloads", default="micro,graph", help="micro, graph, demo (comma-separated)")
    parser.add_argument("--settings", default=None, help="old, new (+ passive-all, one for micro)")
    parser.add_argument("--modes", default="quiet,busy", help="quiet, busy")
    parser.add_argument("--problems", type=int, default=8, help="graph: sum30 problems")
    parser.add_argument("--per-family", type=int, default=2, help="demo: problems of each family")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds before a run is stopped")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each setting and mode (medians)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "micro":
        micro_child()
        return
    modes = args.modes.split(",")
    print(f"{cores()} cores; load average now {os.getloadavg()[0]:.2f}", flush=True)
    for workload in args.workloads.split(","):
        settings = args.settings.split(",") if args.settings else (
            list(MICRO_SETTINGS) if workload == "micro" else ["old", "new"])  # fmt: skip
        results: dict[str, dict] = {s: {} for s in settings}
        empty = {"seconds": None, "load": float("nan"), "others": float("nan"), "detail": {}, "skipped": True}
        for mode in ("quiet", "busy"):  # quiet first, then busy; the settings interleaved within each
            runs: dict[str, list[dict]] = {s: [] for s in settings}
            for _ in range(args.repeats if mode in modes else 0):
                for setting in settings:
                    r = run_once(workload, setting, mode == "busy", args)
                    runs[setting].append(r)
                    print(f"  {workload} {setting} {mode}: {fmt(r, args.timeout)} s (load {r['load']:.2f}, "
                          f"others runnable {r['others']:.1f}) {r['detail'] or ''}", flush=True)  # fmt: skip
            for setting in settings:
                results[setting][mode] = combine(runs[setting]) if runs[setting] else empty
        report(workload, results, args)


if __name__ == "__main__":
    main()
