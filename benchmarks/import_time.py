"""Start-up: import time of the front doors, `verbalrl --help`, loading the embedded model, the first reply.

Each measurement runs in a fresh interpreter, `--repeats` times, interleaved
with `python -c pass` so machine noise hits both alike; reported are medians.

1. Imports: wall time minus the bare start, and which heavy libraries each
   import loaded. Target (issues 10, 15): `import verbalrl` under 0.5 s, no torch.
2. `verbalrl --help`: wall time of the whole command. Target (issue 15): under 0.5 s.
3. Loading the embedded model from its cache (after a first load converted
   the GGUF): `TransformersLLM.load("smollm2-135m-instruct")` timed inside a
   fresh process, and the import of the backend (torch, transformers) before
   it. Target: the load under 2 s.
4. The first `verbalrl generate` of a fresh process: from process start to
   the reply (the command's wall time), greedy, one short question. Target:
   under 5 s on a quiet machine.

    python benchmarks/import_time.py --repeats 7
    python benchmarks/import_time.py --repeats 5 --skip imports
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

IMPORTS = [
    "verbalrl",
    "verbalrl.verifier",
    "verbalrl.memory.records",
    "verbalrl.cli.app",
    "verbalrl.threads",
    "verbalrl.graphs",
    "verbalrl.memory",
]
HEAVY = ("torch", "transformers", "chromadb", "langgraph")


def timed(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - start


def heavy_of(module: str) -> list[str]:
    code = f"import sys, {module}; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return [m for m in out.stdout.strip().split(",") if m]


def imports(repeats: int) -> None:
    print(f"{'import':28} {'median s':>9} {'minus bare':>10}  heavy libraries loaded")
    for module in IMPORTS:
        bare, full = [], []
        for _ in range(repeats):
            bare.append(timed("pass"))
            full.append(timed(f"import {module}"))
        b, f = statistics.median(bare), statistics.median(full)
        print(f"{module:28} {f:9.3f} {f - b:10.3f}  {', '.join(heavy_of(module)) or '-'}")


CLI = [sys.executable, "-m", "verbalrl.cli"]
LOAD = (
    "import time, json; t0 = time.perf_counter(); "
    "from verbalrl.llm.transformers_backend import TransformersLLM; t1 = time.perf_counter(); "
    "TransformersLLM.load('smollm2-135m-instruct'); t2 = time.perf_counter(); "
    "print(json.dumps({'import': t1 - t0, 'load': t2 - t1}))"
)
QUESTION = "What is 2 + 3?"


def wall(cmd: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return time.perf_counter() - start, out.stdout


def startup(repeats: int) -> None:
    """`verbalrl --help`, the model load from its cache, and the first generate, each in fresh processes."""
    wall([sys.executable, "-c", LOAD])  # warm: the first load ever converts the GGUF and caches it
    rows: dict[str, list[float]] = {"python -c pass": [], "verbalrl --help": [], "import backend": [],
                                    "load from cache": [], "first generate": []}  # fmt: skip
    tokens = []
    for _ in range(repeats):
        rows["python -c pass"].append(wall([sys.executable, "-c", "pass"])[0])
        rows["verbalrl --help"].append(wall([*CLI, "--help"])[0])
        times = json.loads(wall([sys.executable, "-c", LOAD])[1].strip().splitlines()[-1])
        rows["import backend"].append(times["import"])
        rows["load from cache"].append(times["load"])
        seconds, out = wall([*CLI, "generate", "--temperature", "0", "--json", QUESTION])
        rows["first generate"].append(seconds)
        tokens.append(json.loads(out)[0]["completions"][0]["completion_tokens"])
    targets = {"verbalrl --help": 0.5, "load from cache": 2.0, "first generate": 5.0}
    print(f"\n{'start-up':22} {'median s':>9} {'min s':>7} {'max s':>7} {'target s':>9}")
    for name, values in rows.items():
        target = f"{targets[name]:.1f}" if name in targets else "-"
        print(f"{name:22} {statistics.median(values):9.3f} {min(values):7.3f} {max(values):7.3f} {target:>9}")
    print(f"first generate: `verbalrl generate --temperature 0 --json {QUESTION!r}`, "
          f"{statistics.median(tokens):.0f} tokens generated (median)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--skip", default="", help="imports, startup (comma-separated)")
    args = parser.parse_args()
    if "imports" not in args.skip:
        imports(args.repeats)
    if "startup" not in args.skip:
        startup(args.repeats)


if __name__ == "__main__":
    main()
