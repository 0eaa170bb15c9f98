"""Import time of the public front doors, side by side with a bare interpreter start.

Each import runs in a fresh interpreter, `--repeats` times, interleaved with
`python -c pass` so machine noise hits both alike; the report is the median
wall time minus the bare start, and which heavy libraries each import loaded.
Target (issue 10): `import verbalrl` under 0.5 s, without torch.

    python benchmarks/import_time.py --repeats 7
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

IMPORTS = [
    "verbalrl",
    "verbalrl.verifier",
    "verbalrl.memory.records",
    "verbalrl.cli.app",
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(f"{'import':28} {'median s':>9} {'minus bare':>10}  heavy libraries loaded")
    for module in IMPORTS:
        bare, full = [], []
        for _ in range(args.repeats):
            bare.append(timed("pass"))
            full.append(timed(f"import {module}"))
        b, f = statistics.median(bare), statistics.median(full)
        print(f"{module:28} {f:9.3f} {f - b:10.3f}  {', '.join(heavy_of(module)) or '-'}")


if __name__ == "__main__":
    main()
