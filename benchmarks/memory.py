"""Benchmark of the chromadb memory: recall latency, insert throughput, growth under caps.

Prints three measurements, each side by side in one run (the machine is shared
and noisy, so compare ratios, not absolute numbers across runs):

1. Recall latency p50/p95 at each store size (default 10k and 100k stored
   experiences), query embedding with the real all-MiniLM-L6-v2 included.
2. Insert throughput, batched `add_experiences` against one-by-one
   `add_experience`, on the same records into fresh stores.
3. Growth of record count and folder size over many near-duplicate inserts
   with a per-task cap.
4. Per-add cost: ms per `add_experience` (real embedder, merging and caps on)
   into stores already holding 100, 1k and 10k records, the store as verbalrl
   opens it beside one with chromadb's default HNSW save interval (1000 writes),
   adds interleaved.

Embedding 100k texts takes ~20 minutes on 2 busy cores, so the *stored*
vectors are precomputed where the measurement is not about embedding: a set of
real embeddings of distinct texts (`--unique`), and for the rest of the
records, those vectors plus small noise (clustered like real data). The
output says where this is so. Query texts are always new texts embedded by the
real model inside the timed call.

On a busy machine torch's default of one intra-op thread per core makes a
one-sentence embedding wait on descheduled threads (p50 ~70-490 ms measured
here with 2 threads against ~10 ms with 1); `--torch-threads 1` shows recall
latency with the embedder on one thread.

    .venv/bin/python benchmarks/memory.py                     # full run (~25 min)
    .venv/bin/python benchmarks/memory.py --skip insert,growth --torch-threads 1
    .venv/bin/python benchmarks/memory.py --skip recall,insert,growth --torch-threads 1 --add-sizes 10000
    .venv/bin/python benchmarks/memory.py --sizes 2000 --queries 50 \\
        --insert-n 300 --dup-inserts 5000 --unique 1000 --dup-unique 300 --cap 50   # quick (~2 min)
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from verbalrl.memory import (
    ChromaMemory,
    Experience,
    MemoryConfig,
    SentenceTransformerEmbedder,
    export_jsonl,
    import_jsonl,
)
from verbalrl.memory.embedding import Embedder

NAMES = ["Alice", "Bob", "Chen", "Dara", "Emeka", "Fatima", "Goran", "Hana", "Ivan", "Jun"]
ITEMS = ["apples", "books", "coins", "marbles", "stickers", "pencils", "cards", "shells"]
TASKS = ["arith", "sorting", "lastletter", "gsm8k"]


def make_problem(rng: random.Random, i: int) -> tuple[str, str, str]:
    """(task, problem, solution) from a few templates with random content."""
    task = TASKS[i % len(TASKS)]
    a, b = rng.randint(2, 999), rng.randint(2, 999)
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    if task == "arith":
        return task, f"What is {a} + {b}? (#{i})", f"{a} + {b} = {a + b}. The answer is {a + b}."
    if task == "sorting":
        words = rng.sample(ITEMS + NAMES, 5)
        return (
            task,
            f"Sort these words alphabetically: {' '.join(words)} (#{i})",
            " ".join(sorted(words)),
        )
    if task == "lastletter":
        words = rng.sample(NAMES, 4)
        return (
            task,
            f"Concatenate the last letters of: {', '.join(words)} (#{i})",
            "".join(w[-1] for w in words),
        )
    return (
        task,
        (
            f"{name} has {a} {item} and gives away {b % a} of them, then buys {b} more. "
            f"How many {item} does {name} have now? (#{i})"
        ),
        f"{a} - {b % a} + {b} = {a - b % a + b}",
    )


class TableEmbedder:
    """Looks stored texts up in a table of precomputed vectors; embeds anything else for real."""

    def __init__(self, real: Embedder, table: dict[str, np.ndarray]) -> None:
        self.real, self.table = real, table
        self.name, self.dim = real.name, real.dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in texts if t not in self.table]
        if missing:
            for text, vec in zip(missing, self.real.embed(missing), strict=True):
                self.table[text] = vec
        return np.stack([self.table[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)


def noisy(vec: np.ndarray, rng: np.random.Generator, scale: float) -> np.ndarray:
    out = vec + rng.standard_normal(vec.shape).astype(np.float32) * scale
    return out / np.linalg.norm(out)


def experiences(n: int, seed: int, offset: int = 0) -> list[Experience]:
    rng = random.Random(seed)
    out = []
    for i in range(offset, offset + n):
        task, problem, solution = make_problem(rng, i)
        kind = rng.randrange(5)  # status independent of the (clustered) vector
        out.append(
            Experience(
                task=task,
                problem=problem,
                solution=solution,
                outcome="failure" if kind == 3 else "success",
                verified=kind not in (3, 4),
                checker_confirmed=kind != 4,
                score=rng.random(),
                reflection="Check each step before answering." if kind == 3 else None,
            )
        )
    return out


def build_table(real: Embedder, exps: list[Experience], unique: int, seed: int) -> dict[str, np.ndarray]:
    """Real vectors for the first `unique` problems, noisy copies of them for the rest."""
    t0 = time.perf_counter()
    base = real.embed([e.problem for e in exps[:unique]])
    print(f"  embedded {len(base)} distinct problems for real in {time.perf_counter() - t0:.0f} s")
    rng = np.random.default_rng(seed)
    table = {e.problem: base[i] for i, e in enumerate(exps[:unique])}
    for i, e in enumerate(exps[unique:], unique):
        table[e.problem] = noisy(base[i % unique], rng, 0.03)
    for e in exps:  # lessons are embedded as problem + lesson; reuse the problem's vector
        if e.reflection:
            table[f"{e.problem}\nLesson: {e.reflection}"] = table[e.problem]
    return table


def percentiles(samples: list[float]) -> tuple[float, float]:
    arr = np.array(samples) * 1000
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 95))


def bench_recall(real: Embedder, sizes: list[int], queries: int, unique: int, root: Path) -> None:
    print("\n== recall latency (query embedding included) ==")
    biggest = max(sizes)
    exps = experiences(biggest, seed=1)
    table = build_table(real, exps, min(unique, biggest), seed=1)
    rng = random.Random(99)
    qtexts = [make_problem(rng, 10**7 + i) for i in range(queries)]
    qvecs = {
        problem: vec for (_, problem, _), vec in zip(qtexts, real.embed([q[1] for q in qtexts]), strict=True)
    }
    for size in sorted(sizes):
        folder = root / f"recall-{size}"
        cfg = MemoryConfig(path=folder, dedupe_threshold=None, max_per_task=None, batch_size=2048)
        embedder = TableEmbedder(real, table)
        with ChromaMemory(config=cfg, embedder=embedder) as memory:
            t0 = time.perf_counter()
            memory.put_records(exps[:size])
            build = time.perf_counter() - t0
            for task, problem, _ in qtexts[:5]:  # warm-up (other texts: recall caches queries)
                memory.recall(problem + " (warm-up)", task=task, k=3)
            memory.query_counts.clear()
            full, embed_only, store_only, hits = [], [], [], 0
            # Per query, interleaved so that load spikes hit all three alike:
            # the real recall, the query embedding alone, and recall on a cached vector.
            for i, (task, problem, _) in enumerate(qtexts):
                exclude = i % 2 == 0
                table.pop(problem, None)
                t0 = time.perf_counter()
                ctx = memory.recall(problem, task=task, k=3, exclude_problem=exclude)
                full.append(time.perf_counter() - t0)
                hits += len(ctx.exemplars) == 3
                t0 = time.perf_counter()
                real.embed([problem])
                embed_only.append(time.perf_counter() - t0)
                table[problem] = qvecs[problem]
                t0 = time.perf_counter()
                memory.recall(problem, task=task, k=3, exclude_problem=exclude)
                store_only.append(time.perf_counter() - t0)
            stages = {k: v // 2 for k, v in memory.query_counts.items()}
        f50, f95 = percentiles(full)
        e50, e95 = percentiles(embed_only)
        s50, s95 = percentiles(store_only)
        print(
            f"  {size:>7} stored (built in {build:.0f} s, stored vectors precomputed), "
            f"{queries} queries:\n"
            f"      recall incl. query embedding  p50 {f50:6.1f} ms  p95 {f95:6.1f} ms\n"
            f"      query embedding alone         p50 {e50:6.1f} ms  p95 {e95:6.1f} ms\n"
            f"      recall on a cached vector     p50 {s50:6.1f} ms  p95 {s95:6.1f} ms\n"
            f"      {hits}/{queries} recalls returned 3 exemplars; "
            f"chromadb queries per stage {stages}"
        )


def bench_insert(real: Embedder, n: int, unique: int, root: Path) -> None:
    print("\n== insert throughput: batched vs one-by-one (same records, fresh stores) ==")
    exps = experiences(n, seed=2)
    table = build_table(real, exps, min(unique, n), seed=2)
    rates = {}
    for mode in (
        "one-by-one",
        "batched",
        "one-by-one#2",
        "batched#2",
    ):  # interleaved: fair under noise
        folder = root / f"insert-{mode}"
        with ChromaMemory(config=MemoryConfig(path=folder), embedder=TableEmbedder(real, table)) as memory:
            t0 = time.perf_counter()
            if mode.startswith("batched"):
                memory.add_experiences(exps)
            else:
                for e in exps:
                    memory.add_experience(e)
            dt = time.perf_counter() - t0
            rates.setdefault(mode.split("#")[0], []).append(n / dt)
            assert memory.count() > 0
        shutil.rmtree(folder)
    one, bat = statistics.mean(rates["one-by-one"]), statistics.mean(rates["batched"])
    print(
        f"  {n} records, embeddings precomputed (dedupe queries and writes measured): "
        f"one-by-one {one:.0f}/s, batched {bat:.0f}/s, ratio {bat / one:.1f}x"
    )
    m = min(n, 200)
    texts = [e.problem for e in exps[:m]]
    t0 = time.perf_counter()
    real.embed(texts)
    b = time.perf_counter() - t0
    t0 = time.perf_counter()
    for t in texts:
        real.embed([t])
    o = time.perf_counter() - t0
    print(
        f"  embedding alone, {m} texts: batched {m / b:.0f}/s, one-by-one {m / o:.0f}/s, ratio {o / b:.1f}x"
    )


def folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def bench_growth(real: Embedder, inserts: int, unique: int, cap: int, root: Path, dedupe: bool) -> None:
    mode = "near-duplicate merging on" if dedupe else "merging off: the cap alone bounds growth"
    print(f"\n== growth over {inserts} near-duplicate inserts, cap {cap} per task, {mode} ==")
    base = experiences(unique, seed=3)
    vecs = real.embed([e.problem for e in base])
    rng, nrng = random.Random(3), np.random.default_rng(3)
    folder = root / f"growth-{dedupe}"
    table: dict[str, np.ndarray] = {}
    step = max(inserts // 10, 1)
    batch = 512
    with ChromaMemory(
        config=MemoryConfig(path=folder, max_per_task=cap, dedupe_threshold=0.95 if dedupe else None),
        embedder=TableEmbedder(real, table),
    ) as memory:
        t0 = time.perf_counter()
        done = 0
        while done < inserts:
            chunk = []
            for j in range(min(batch, inserts - done)):
                i = rng.randrange(unique)
                e = base[i]
                # A near-duplicate: the same problem reworded trivially, a close vector.
                problem = e.problem.replace("?", f"? [{rng.randrange(10**6)}]")
                table[problem] = noisy(vecs[i], nrng, 0.005)
                if e.reflection:
                    table[f"{problem}\nLesson: {e.reflection}"] = table[problem]
                chunk.append(e.model_copy(update={"problem": problem, "id": f"v-{done + j}"}))
            memory.add_experiences(chunk)
            done += len(chunk)
            if done % step < batch or done == inserts:
                print(
                    f"  after {done:>7} inserts: {memory.count():>6} experiences, "
                    f"{memory.count('reflection'):>5} reflections, {folder_mb(folder):7.1f} MB, "
                    f"{done / (time.perf_counter() - t0):.0f} inserts/s"
                )
        memory_count = memory.count()
    print(
        f"  ({unique} distinct base problems; vectors = real embedding of the base problem + "
        "noise 0.005, i.e. cosine ~0.99 to it)"
    )
    # Evicted records leave dead slots in chromadb's HNSW files, which neither deletes
    # nor `chroma vacuum` give back; an export + import into a fresh folder does.
    fresh = root / f"growth-{dedupe}-reimported"
    with ChromaMemory(config=MemoryConfig(path=folder), embedder=TableEmbedder(real, table)) as old:
        dump = root / f"growth-{dedupe}.jsonl"
        n = export_jsonl(old, dump)
    with ChromaMemory(config=MemoryConfig(path=fresh), embedder=TableEmbedder(real, table)) as new:
        import_jsonl(new, dump)
        assert new.count() == memory_count
    print(
        f"  export + import of the {n} records into a fresh folder: {folder_mb(fresh):.1f} MB "
        f"(JSONL {dump.stat().st_size / 1e6:.1f} MB)"
    )
    chroma = Path(sys.executable).parent / "chroma"
    if chroma.exists():
        before = folder_mb(folder)
        t0 = time.perf_counter()
        done_ok = (
            subprocess.run(
                [str(chroma), "vacuum", "--path", str(folder), "--force"],
                capture_output=True,
                text=True,
                timeout=600,
            ).returncode
            == 0
        )
        print(
            f"  `chroma vacuum` {'ok' if done_ok else 'FAILED'} in {time.perf_counter() - t0:.0f} s: "
            f"{before:.1f} MB -> {folder_mb(folder):.1f} MB"
        )


class TimedEmbedder(TableEmbedder):
    """A `TableEmbedder` that adds up the seconds its real model runs."""

    seconds = 0.0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        start = time.perf_counter()
        missing = any(t not in self.table for t in texts)
        try:
            return super().embed(texts)
        finally:
            if missing:
                self.seconds += time.perf_counter() - start


def chromadb_defaults(folder: Path) -> MemoryConfig:
    """A store as verbalrl opened one before issue 15: chromadb's default HNSW save interval."""
    return MemoryConfig(path=folder, hnsw_sync_threshold=1000)


def bench_per_add(real: Embedder, sizes: list[int], n_adds: int, unique: int, root: Path) -> None:
    print(f"\n== per-add cost: {n_adds} x add_experience into a store already holding N records ==")
    fill = experiences(max(sizes), seed=4)
    table = build_table(real, fill, min(unique, max(sizes)), seed=4)
    # New records, text never seen: the real model embeds each inside the timed call.
    new = experiences(n_adds, seed=5, offset=10**6)
    lessons = sum(e.reflection is not None for e in new)
    print(
        f"  {n_adds} new records ({lessons} failures with a lesson: two embeddings and two writes each); "
        "fill vectors precomputed; adds to the two stores interleaved"
    )
    variants = {
        "chromadb defaults": lambda folder: chromadb_defaults(folder),
        "verbalrl (tuned)": lambda folder: MemoryConfig(path=folder),
    }
    for size in sorted(sizes):
        stores, embedders = {}, {}
        for name, make in variants.items():
            embedders[name] = TimedEmbedder(real, dict(table))
            stores[name] = ChromaMemory(
                config=make(root / f"per-add-{size}-{len(stores)}"), embedder=embedders[name]
            )
            stores[name].put_records(fill[:size])
        times: dict[str, list[float]] = {name: [] for name in variants}
        try:
            for i, exp in enumerate(new):
                order = list(variants) if i % 2 == 0 else list(reversed(variants))
                for name in order:
                    start = time.perf_counter()
                    stores[name].add_experience(exp)
                    times[name].append(time.perf_counter() - start)
            counts = {name: store.count() for name, store in stores.items()}
        finally:
            for store in stores.values():
                store.close()
        assert len(set(counts.values())) == 1, counts  # both stores hold the same records
        print(f"  N = {size} stored ({next(iter(counts.values()))} after the adds):")
        for name in variants:
            ms = np.array(times[name]) * 1000
            buckets = " ".join(f"{b.mean():.0f}" for b in np.array_split(ms, 10))
            embedding = 1000 * embedders[name].seconds / n_adds
            print(
                f"      {name:<18} mean {ms.mean():5.1f} ms  p50 {np.median(ms):5.1f}  "
                f"p95 {np.percentile(ms, 95):5.1f}  of which embedding {embedding:4.1f}"
                f"  | mean per tenth: {buckets}"
            )
        before, after = (float(np.mean(times[name])) for name in variants)
        print(f"      ratio defaults / tuned: {before / after:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="stored experiences for recall")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--unique", type=int, default=5000, help="texts embedded for real")
    parser.add_argument("--insert-n", type=int, default=2000)
    parser.add_argument("--dup-inserts", type=int, default=100_000)
    parser.add_argument("--dup-unique", type=int, default=3000, help="distinct base problems")
    parser.add_argument("--cap", type=int, default=500, help="max experiences per task")
    parser.add_argument(
        "--growth-modes", default="dedupe,nodedupe", help="growth runs: dedupe and/or nodedupe"
    )
    parser.add_argument("--add-sizes", default="100,1000,10000", help="stored records for the per-add cost")
    parser.add_argument(
        "--adds", type=int, default=1000, help="timed adds per store (1000: chromadb's default save period)"
    )
    parser.add_argument("--skip", default="", help="comma list of recall,insert,growth,per-add to skip")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="torch intra-op threads (default: verbalrl's choice, the cores free when the embedder loads)",
    )
    args = parser.parse_args()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="verbalrl-membench-"))
    root.mkdir(parents=True, exist_ok=True)
    skip = set(filter(None, args.skip.split(",")))
    if args.torch_threads is not None:
        from verbalrl.threads import configure_threads

        configure_threads(args.torch_threads)  # the embedder load keeps this count
    # No vector cache: every query text must be embedded inside the timed recall (with the
    # default cache the up-front embedding of the query texts made recall's embedding free).
    real = SentenceTransformerEmbedder(batch_size=128, cache_size=0)
    t0 = time.perf_counter()
    print(
        f"embedder {real.name} dim {real.dim} (loaded in {time.perf_counter() - t0:.1f} s); "
        f"torch threads {args.torch_threads or 'default'}; work dir {root}"
    )
    try:
        if "recall" not in skip:
            bench_recall(real, [int(s) for s in args.sizes.split(",")], args.queries, args.unique, root)
        if "per-add" not in skip:
            bench_per_add(real, [int(s) for s in args.add_sizes.split(",")], args.adds, args.unique, root)
        if "insert" not in skip:
            bench_insert(real, args.insert_n, args.unique, root)
        if "growth" not in skip:
            for mode in args.growth_modes.split(","):
                bench_growth(real, args.dup_inserts, args.dup_unique, args.cap, root, mode == "dedupe")
    finally:
        if args.workdir is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
