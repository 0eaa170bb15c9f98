"""Benchmark of the graphs' own overhead: ms per round with a zero-latency model, and the share
of wall time outside model calls in a small real run.

1. Zero-latency: each graph (single, multi, reflective) over P problems with a
   scripted `FakeLLM` (replies instantly) and a `FunctionVerifier`, compiled
   with the real `SqliteSaver` (a file in a temp folder) and, for the
   reflective graph, real memory (chromadb in a temp folder with the real
   all-MiniLM-L6-v2 embedder, which embeds every recall and write). Printed:
   ms per round for runs of 1 round and of R rounds per problem (`graph.invoke`
   with the checkpointer), and the same through the `Runner` (adds the JSONL
   line with fsync and the checkpoint lookups). Target: < 25 ms per round.
2. Real run: the `Runner` with the embedded SmolLM2-135M (float32) and an
   untrained GenRM on the same model, a few problems per graph; the runner
   measures wall time inside model/verifier calls (overlapping calls counted
   once). Printed: share of wall time outside model calls. Target: < 10 %.

    .venv/bin/python benchmarks/graph_overhead.py                 # both parts (~3-6 min on 2 busy cores)
    .venv/bin/python benchmarks/graph_overhead.py --no-real       # part 1 only (~30 s)
    .venv/bin/python benchmarks/graph_overhead.py --no-real --chromadb-defaults  # + memory as before issue 15
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from verbalrl.graphs import build_graph, graph_config, graph_options, initial_state
from verbalrl.llm import FakeLLM
from verbalrl.run import Runner
from verbalrl.tasks import get_task
from verbalrl.testing import scripted
from verbalrl.verifier.base import FunctionVerifier

GRAPHS = ("single", "multi", "reflective")


reply = scripted(
    {
        "critic": "Step two adds the wrong digits; redo the sum.",
        "reflector": "Plan: add the tens and the ones separately, then check.",
        "solver": "First I add the ones, then the tens.\nAnswer: 42",
    },
    default="First I add the ones, then the tens.\nAnswer: 42",
)


def low_score(question: str, candidate: str) -> float:
    return 0.1  # never accepted: every graph runs all its rounds


def open_memory(folder: Path, embedder: Any, chromadb_defaults: bool = False) -> Any:
    """A fresh memory; `chromadb_defaults` opens it as verbalrl did before issue 15 (chromadb's
    default HNSW save interval, 1000 writes)."""
    from verbalrl.memory import ChromaMemory, MemoryConfig

    sync = 1000 if chromadb_defaults else MemoryConfig().hnsw_sync_threshold
    return ChromaMemory(config=MemoryConfig(path=folder, hnsw_sync_threshold=sync), embedder=embedder)


class TimedMemory:
    """Delegates to a memory store and adds up the seconds spent in it (embedding + chromadb)."""

    def __init__(self, memory: Any) -> None:
        self.memory = memory
        self.seconds = 0.0

    def _timed(self, method: str, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return getattr(self.memory, method)(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start

    def recall(self, *args: Any, **kwargs: Any) -> Any:
        return self._timed("recall", *args, **kwargs)

    def add_experience(self, *args: Any, **kwargs: Any) -> Any:
        return self._timed("add_experience", *args, **kwargs)

    def maybe_distill(self, *args: Any, **kwargs: Any) -> Any:
        return self._timed("maybe_distill", *args, **kwargs)

    def close(self) -> None:
        self.memory.close()


def zero_latency(
    problems: list[Any],
    task: Any,
    rounds: int,
    embedders: dict[str, Callable[[], Any]],
    tmp: Path,
    defaults: bool = False,
) -> dict[str, dict]:
    """ms per round per graph: `graph.invoke` with SqliteSaver, and through the Runner.

    Each measurement gets a fresh memory folder (re-storing the same experiences
    would be a cheap idempotent no-op and flatter the numbers). Each reflective row
    gets a fresh embedder (`embedders` makes them): its vector cache is not warmed by
    another row. With `defaults`, each reflective row is followed by the same row on a
    memory opened with chromadb's defaults.
    """
    from verbalrl.graphs.checkpoint import sqlite_checkpointer

    variants = [("single", "single", None, False), ("multi", "multi", None, False)]
    for label, make in embedders.items():
        variants.append((f"reflective ({label})", "reflective", make, False))
        if defaults:
            variants.append((f"reflective ({label}, chromadb defaults)", "reflective", make, True))
    out: dict[str, dict] = {}
    warm = 3
    for key, name, make_embedder, old_store in variants:
        embedder = make_embedder() if make_embedder is not None else None
        row: dict[str, Any] = {}
        for r in (1, rounds):
            # distillation off: it is a scheduled LLM call every k problems, not part of a round
            extra = {"distill_every": 0} if name == "reflective" else {}
            config = graph_config(
                name, n_drafts=4, max_rounds=r, max_llm_calls=None, max_tokens=None, threshold=0.9, **extra
            )
            verifier = FunctionVerifier(low_score)
            tag = f"{name}-{len(out)}-{r}"
            opened = open_memory(tmp / f"mem-{tag}", embedder, old_store) if embedder is not None else None
            memory = TimedMemory(opened) if opened is not None else None
            saver, conn = sqlite_checkpointer(tmp / f"ck-{tag}.sqlite")
            graph = build_graph(
                name, FakeLLM(reply), verifier, config, memory=memory, checkpointer=saver, task=task
            )
            times, in_memory = [], []
            for i, problem in enumerate(problems):
                options = {"configurable": {"thread_id": f"bench/{problem.id}"}, **graph_options(config)}
                before = memory.seconds if memory else 0.0
                start = time.perf_counter()
                final = graph.invoke(initial_state(problem), options)
                if i >= warm:
                    n_rounds = final["result"]["rounds"]
                    times.append((time.perf_counter() - start) / n_rounds)
                    in_memory.append(((memory.seconds if memory else 0.0) - before) / n_rounds)
            conn.close()
            if memory is not None:
                memory.close()
            row[f"invoke_{r}"] = 1000 * statistics.median(times)
            row[f"memory_{r}"] = 1000 * statistics.median(in_memory)
            # The same through the Runner: JSONL append with fsync, state lookup, progress off.
            folder = tmp / f"mem-runner-{tag}"
            memory = open_memory(folder, embedder, old_store) if embedder is not None else None
            runner = Runner(
                name,
                FakeLLM(reply),
                verifier,
                task,
                config,
                memory=memory,
                runs_dir=tmp / "runs",
                run_id=tag,
                progress=False,
            )
            start = time.perf_counter()
            report = runner.run(problems)
            wall = time.perf_counter() - start
            row[f"runner_{r}"] = 1000 * wall / sum(rec["rounds"] for rec in report["records"])
            if memory is not None:
                memory.close()
        out[key] = row
    return out


def real_run(n_problems: int, max_new_tokens: int, embedder: Any, tmp: Path) -> dict[str, dict]:
    """Share of wall time outside model calls, per graph, on the embedded model."""
    from verbalrl.llm.transformers_backend import TransformersLLM
    from verbalrl.verifier.genrm import GenRMVerifier

    llm = TransformersLLM.load("smollm2-135m-instruct", dtype="float32")
    verifier = GenRMVerifier(llm)
    task = get_task("arithmetic", level=1)
    problems = task.problems("test", n=n_problems, seed=7)
    out: dict[str, dict] = {}
    for name in GRAPHS:
        extra = {"n_agents": 2} if name == "multi" else {}
        if name == "reflective":
            extra = {"distill_every": 0, "recall_k": 2}
        config = graph_config(
            name,
            n_drafts=2,
            max_rounds=2,
            max_new_tokens=max_new_tokens,
            critic_max_new_tokens=max_new_tokens // 2,
            threshold=0.99,
            seed=0,
            **extra,
        )
        memory = open_memory(tmp / f"real-mem-{name}", embedder) if name == "reflective" else None
        report = Runner(
            name, llm, verifier, task, config, memory=memory, runs_dir=tmp / "real", progress=False
        ).run(problems)
        if memory is not None:
            memory.close()
        wall = sum(r["seconds"] for r in report["records"])
        model = sum(r["model_seconds"] for r in report["records"])
        out[name] = {
            "wall_s": wall,
            "model_s": model,
            "outside_share": 1 - model / wall,
            "rounds": sum(r["rounds"] for r in report["records"]),
            "tokens": sum(r["generated_tokens"] for r in report["records"]),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=30, help="problems per zero-latency measurement")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the multi-round measurement")
    parser.add_argument("--real", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--real-problems", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument(
        "--chromadb-defaults",
        action="store_true",
        help="also run each reflective row on a memory opened with chromadb's defaults (before issue 15)",
    )
    args = parser.parse_args()

    from verbalrl.memory import HashEmbedder
    from verbalrl.memory.embedding import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    # The hash embedder (no model) beside the real one separates graph + chromadb cost from embedding.
    embedders = {"MiniLM": SentenceTransformerEmbedder, "hash": lambda: HashEmbedder(384)}
    task = get_task("arithmetic", level=2)
    problems = task.problems("test", n=args.problems, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        zero = zero_latency(problems, task, args.rounds, embedders, Path(tmp), args.chromadb_defaults)
        print("\n1. Zero-latency model, real SqliteSaver, real chromadb memory (MiniLM or hash embedder):")
        print(f"   ms per round (median over {args.problems - 3} problems; target < 25 ms)")
        r = args.rounds
        heads = (
            "invoke 1 rd",
            "(in memory)",
            f"invoke {r} rd",
            "(in memory)",
            "runner 1 rd",
            f"runner {r} rd",
        )
        print(f"   {'graph':<38} " + " ".join(f"{h:>12}" for h in heads))
        for name, row in zero.items():
            keys = ("invoke_1", "memory_1", f"invoke_{r}", f"memory_{r}", "runner_1", f"runner_{r}")
            print(f"   {name:<38} " + " ".join(f"{row[k]:>12.1f}" for k in keys))
        if args.real:
            real = real_run(args.real_problems, args.max_new_tokens, embedder, Path(tmp))
            print(
                f"\n2. Real run: SmolLM2-135M fp32 + untrained GenRM, {args.real_problems} problems "
                f"x 2 rounds, {args.max_new_tokens} new tokens (target: < 10% outside model calls)"
            )
            print(f"   {'graph':<11} {'wall s':>8} {'model s':>8} {'outside':>8} {'rounds':>7} {'tokens':>7}")
            for name, row in real.items():
                print(
                    f"   {name:<11} {row['wall_s']:>8.1f} {row['model_s']:>8.1f} "
                    f"{row['outside_share']:>8.1%} {row['rounds']:>7} {row['tokens']:>7}"
                )


if __name__ == "__main__":
    main()
