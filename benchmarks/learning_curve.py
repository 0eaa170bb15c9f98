"""Benchmark 3 (issue 11): does the agent learn from its own verified experience over a stream?

A held-out stream interleaving three task families (`STREAM_FAMILIES`: arithmetic sum30,
word_sort with 2 words, last_letter with 1 word) in a fixed order, from an empty memory. Every
method solves the same problems in the same order with SmolLM2-135M-Instruct and the packaged
`genrm-stream` verifier:

- single_shot, best_of_4, best_of_8 (one draw of 8 zero-shot samples, scored once);
- static_few_shot (2 fixed train-split reference demonstrations per family, as a user writes;
  128 new tokens, since the word tasks' reference solutions are long; the others get 64);
- reflective_no_memory (Reflexion within a problem only);
- reflective_memory (verifier-only: the gold answer never reaches a prompt or memory);
- reflective_feedback (`learn_from_feedback`: the checker confirms what memory keeps).

Prints accuracy overall, per family and per third, compute per problem (LLM calls: generated
plus verifier-scored sequences; generated tokens), the exemplar gate's precision, targets (a)-(d)
with paired bootstrap 95 % intervals, and writes the learning-curve PNG and summary.json to
--workdir. Each method's JSONL is resumable: rerun the same command after a kill.

    .venv/bin/python benchmarks/learning_curve.py --per-family 50 --seed 7 --workdir runs/learning
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

from verbalrl.evaluation.learning import (
    after,
    cold_warm,
    paired_difference,
    plot_learning_curves,
    read_stream,
    stream_rows,
)
from verbalrl.evaluation.shots import reference_shots
from verbalrl.graphs import ReflectiveConfig, SingleConfig
from verbalrl.llm.registry import load_llm
from verbalrl.run.stream import (
    FewShotMethod,
    GraphMethod,
    SampledMethods,
    interleave,
    run_stream,
    stream_families,
)
from verbalrl.verifier import load_verifier

METHODS = ("single_shot", "best_of_4", "best_of_8", "static_few_shot", "reflective_no_memory",
           "reflective_memory", "reflective_feedback")  # fmt: skip


def build_methods(llm: Any, verifier: Any, families: list, work: Path, args: argparse.Namespace) -> list:
    from verbalrl.memory import ChromaMemory, MemoryConfig

    shared = dict(n_drafts=4, max_rounds=2, threshold=args.threshold, max_new_tokens=64,
                  critic_max_new_tokens=48, temperature=0.8, seed=0)  # fmt: skip
    memory_config = dict(recall_k=args.recall_k, distill_every=0, exemplar_style=args.exemplar_style,
                         gate_threshold=args.gate_threshold)  # fmt: skip
    wanted = set(args.methods.split(","))
    methods: list[Any] = []
    if wanted & {"single_shot", "best_of_4", "best_of_8"}:
        methods.append(SampledMethods(llm, verifier, SingleConfig(**shared), ns=(4, 8)))
    if "static_few_shot" in wanted:
        shots = {f.label: reference_shots(f.task, n=2, seed=args.seed + 1) for f in families}
        # the word tasks' reference solutions are long: room to finish imitating them
        methods.append(FewShotMethod(llm, SingleConfig(**{**shared, "max_new_tokens": 128}), shots))
    if "reflective_no_memory" in wanted:
        config = ReflectiveConfig(**shared, use_memory=False)
        methods.append(GraphMethod("reflective_no_memory", "reflective", llm, verifier, config))
    for name, feedback in (("reflective_memory", False), ("reflective_feedback", True)):
        if name in wanted:
            config = ReflectiveConfig(**shared, **memory_config, learn_from_feedback=feedback)
            retrieval = MemoryConfig(
                exemplar_pick=args.exemplar_pick, mmr_lambda=args.mmr_lambda, length_weight=args.length_weight
            )
            memory = ChromaMemory(work / f"memory-{name}", config=retrieval)
            methods.append(GraphMethod(name, "reflective", llm, verifier, config, memory=memory))
    return methods


def report(work: Path, records: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> dict[str, Any]:
    rows = stream_rows(records)
    families = sorted({r["family"] for items in records.values() for r in items})
    print(f"\n{'method':22s} {'acc':>6s} " + " ".join(f"{f:>6s}" for f in families)
          + f" {'1st/3':>6s} {'2nd/3':>6s} {'3rd/3':>6s} {'calls':>6s} {'tokens':>6s} gate")  # fmt: skip
    for r in rows:
        gate = f"{r['exemplars']} ({r['gate_precision']:.0%})" if r.get("exemplars") else ""
        print(f"{r['method']:22s} {r['accuracy']:6.1%} "
              + " ".join(f"{r['families'][f]:6.1%}" for f in families)
              + " " + " ".join(f"{s:6.1%}" for s in r["segments"])
              + f" {r['llm_calls']:6.1f} {r['generated_tokens']:6.0f} {gate}")  # fmt: skip
    out: dict[str, Any] = {"rows": rows, "comparisons": {}, "targets": {}}
    main = "reflective_memory"
    for other in ("reflective_no_memory", "best_of_4", "best_of_8", "single_shot", "static_few_shot"):
        if main in records and other in records:
            mean, lo, hi = paired_difference(records[main], records[other])
            out["comparisons"][f"{main} - {other}"] = [mean, lo, hi]
            print(f"{main} - {other}: {mean:+.1%} [95% CI {lo:+.1%}, {hi:+.1%}]")
    for name in ("reflective_memory", "reflective_feedback", "reflective_no_memory", "static_few_shot"):
        if name in records:
            cold, warm = cold_warm(records[name], cold=5)
            out["targets"][f"{name} cold/warm"] = [cold, warm]
            if cold is not None and warm is not None:
                print(f"{name}: first 5 per family {cold:.1%}, after them {warm:.1%} ({warm - cold:+.1%})")
    if main in records and "static_few_shot" in records:
        mine, theirs = after(records[main], 10), after(records["static_few_shot"], 10)
        if mine and theirs:
            acc = sum(r["correct"] for r in mine) / len(mine), sum(r["correct"] for r in theirs) / len(theirs)
            out["targets"]["after 10: memory, static few-shot"] = list(acc)
            ratio = f"{acc[0] / acc[1]:.0%}" if acc[1] else "n/a"
            print(f"after each family's first 10: reflective_memory {acc[0]:.1%}, "
                  f"static_few_shot {acc[1]:.1%} ({ratio} of it)")  # fmt: skip
    png = plot_learning_curves(records, work / "learning_curve.png", window=args.window,
                               title=f"{sum(len(v) for v in records.values()) // max(1, len(records))}"
                               f"-problem stream, rolling {args.window}")  # fmt: skip
    print(f"learning curve: {png}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--verifier", default="genrm-stream")
    parser.add_argument("--per-family", type=int, default=50)
    parser.add_argument("--families", default="sum30,sort2,last1")
    parser.add_argument("--seed", type=int, default=7, help="which held-out problems (dev: 101)")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--recall-k", type=int, default=2)
    parser.add_argument("--exemplar-style", default="turns")
    parser.add_argument("--gate-threshold", type=float, default=None, help="default: --threshold")
    parser.add_argument("--exemplar-pick", default="mmr", help="mmr | random (retrieval baseline)")
    parser.add_argument("--mmr-lambda", type=float, default=0.7, help="1.0: nearest by embedding")
    parser.add_argument("--length-weight", type=float, default=0.0, help="MMR penalty on long exemplars")
    parser.add_argument("--window", type=int, default=30)
    parser.add_argument("--workdir", type=Path, default=Path("runs/learning"))
    args = parser.parse_args()
    logging.getLogger("verbalrl").setLevel(logging.ERROR)
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    start = time.perf_counter()
    args.workdir.mkdir(parents=True, exist_ok=True)
    families = stream_families(args.families.split(","))
    stream = interleave(families, args.per_family, seed=args.seed)
    llm = load_llm(args.model)
    verifier = load_verifier(args.verifier, llm)
    methods = build_methods(llm, verifier, families, args.workdir, args)
    print(f"{len(stream)} problems ({', '.join(f.label for f in families)}), seed {args.seed}, "
          f"{args.model}, verifier {verifier.name}")  # fmt: skip
    ticks = {"last": time.perf_counter()}

    def on_item(method: str, item: Any, records: list) -> None:
        if (item.position + 1) % 30 == 0 or item.position + 1 == len(stream):
            now = time.perf_counter()
            print(f"  {method}: {item.position + 1}/{len(stream)} ({now - ticks['last']:.0f} s)", flush=True)
            ticks["last"] = now

    run_stream(stream, methods, args.workdir, on_item=on_item)
    wanted = [m for m in METHODS if m in set(args.methods.split(","))]
    summary = report(args.workdir, read_stream(args.workdir, wanted), args)
    summary.update(problems=len(stream), seed=args.seed, seconds=round(time.perf_counter() - start))
    (args.workdir / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
