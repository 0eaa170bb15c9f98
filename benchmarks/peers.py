"""The project against what a user would run instead: llama.cpp on the same weights, in one run.

Workloads (the ones verbalrl runs), each measured for `TransformersLLM` (bf16 on CPUs with
avx512_bf16, all sequences in one padded batch) and for `LlamaCppLLM` (`llamacpp:` models:
all sequences in one `llama_decode` batch per step, the prompt decoded once and its KV cells
shared by its samples, sampling in C; n_threads = torch's thread count), same prompt tokens:

- best_of_n: 4 prompts x 16 samples x 64 new tokens, T=0.8 (Best-of-N's candidate pools);
- drafts: 1 prompt x 4 samples x 64 tokens, T=0.8, then 1 critique of 128 tokens, greedy
  (one round of the graphs);
- scoring: p(Yes) of 16 GenRM prompts of one question (the shared prefix once; the fast path
  of `llm/fast_scoring.py` on the transformers side), with the largest difference in p(Yes).

llama.cpp runs the shipped GGUF (Q4_1) and the same weights re-encoded as Q8_0 and F16
(`LlamaCppLLM.load(weights=...)`, made once into verbalrl's cache). Generated tokens per
second are compared as ratios to transformers in the same run. `make setup` builds
llama-cpp-python.

    .venv/bin/python benchmarks/peers.py [--repeats 2] [--weights file q8_0 f16]
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import torch

from verbalrl.llm.base import GenerationConfig
from verbalrl.llm.llamacpp_backend import FTYPES, LlamaCppLLM
from verbalrl.llm.transformers_backend import TransformersLLM
from verbalrl.tasks import get_task
from verbalrl.verifier.prompts import direct_prompt

NAMES = {"file": "Q4_1", "q8_0": "Q8_0", "f16": "F16"}  # the shipped file is Q4_1


def workloads(hf: TransformersLLM) -> dict[str, Any]:
    task = get_task("arithmetic", level="sum30")
    problems = task.problems("test", n=21, seed=0)
    chats = [task.prompt(p) for p in problems[:4]]
    critique = [{"role": "user", "content": f"{problems[4].question}\nA student answered 17. Critique it."}]
    question = problems[5]
    answers = [(task.reference_solution(p) or "").strip() for p in problems[5:21]]
    return {
        "best_of_n": [hf.encode(c) for c in chats],
        "drafts": [hf.encode(chats[0])],
        "critique": [hf.encode(critique)],
        "scoring": [hf.encode(direct_prompt(question.question, a)) for a in answers],
    }


def run_engine(llm: Any, w: dict[str, Any], seed: int) -> dict[str, tuple[float, Any]]:
    """Each workload's (seconds, generated tokens; or the p(Yes) list for scoring)."""
    out: dict[str, tuple[float, Any]] = {}
    texts = {k: [llm.tokenizer.decode(p) for p in v] for k, v in w.items()}
    start = time.perf_counter()
    config = GenerationConfig(n=16, max_new_tokens=64, temperature=0.8, seed=seed)
    res = llm.generate(texts["best_of_n"], config)
    out["best_of_n"] = (time.perf_counter() - start, sum(c.completion_tokens for r in res for c in r))
    start = time.perf_counter()
    res = llm.generate(texts["drafts"], GenerationConfig(n=4, max_new_tokens=64, temperature=0.8, seed=seed))
    res += llm.generate(texts["critique"], GenerationConfig(n=1, max_new_tokens=128, temperature=0.0))
    out["drafts"] = (time.perf_counter() - start, sum(c.completion_tokens for r in res for c in r))
    start = time.perf_counter()
    probs = llm.next_token_probs(texts["scoring"], ["Yes"])
    out["scoring"] = (time.perf_counter() - start, [p["Yes"] for p in probs])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--weights", nargs="+", default=["file", "q8_0", "f16"], choices=["file", *FTYPES])
    args = parser.parse_args()
    threads = torch.get_num_threads()
    hf = TransformersLLM.load("smollm2-135m-instruct", dtype="auto")
    w = workloads(hf)
    peers = {
        NAMES[q]: LlamaCppLLM.load("smollm2-135m-instruct", weights=q, threads=threads) for q in args.weights
    }
    best: dict[str, dict[str, Any]] = {}
    for r in range(args.repeats):  # interleaved: every engine sees the same machine load
        results = {"transformers": run_engine(hf, w, seed=r)}
        for q, peer in peers.items():
            results[f"llama.cpp {q}"] = run_engine(peer, w, seed=r)
        for engine, res in results.items():
            for work, (seconds, value) in res.items():
                kept = best.setdefault(engine, {}).get(work)
                if kept is None or seconds < kept[0]:
                    best[engine][work] = (seconds, value)
    rows = []
    ref = best["transformers"]
    for engine, res in best.items():
        for work, (seconds, value) in res.items():
            row: dict[str, Any] = {"engine": engine, "workload": work, "seconds": round(seconds, 3)}
            if work == "scoring":
                row["time_ratio_vs_transformers"] = round(seconds / ref[work][0], 2)
                diffs = [abs(a - b) for a, b in zip(value, ref[work][1], strict=True)]
                row["max_p_yes_diff"] = round(max(diffs), 4)
            else:
                tps, ref_tps = value / seconds, ref[work][1] / ref[work][0]
                row |= {"tokens": value, "tokens_per_s": round(tps, 1)}
                row["ratio_vs_transformers"] = round(tps / ref_tps, 2)
            rows.append(row)
    for peer in peers.values():
        peer.close()
    print(json.dumps({"threads": threads, "rows": rows}, indent=2))
    for row in rows:
        extra = (
            f"{row['tokens_per_s']:>7.1f} tok/s  x{row['ratio_vs_transformers']}"
            if "tokens_per_s" in row
            else f"time x{row['time_ratio_vs_transformers']}  max p(Yes) diff {row['max_p_yes_diff']}"
        )
        print(f"{row['engine']:<16} {row['workload']:<10} {row['seconds']:>7.2f} s  {extra}")


if __name__ == "__main__":
    main()
