"""Sampling throughput: the batched backend against a naive loop, side by side in one run.

Batched: `TransformersLLM.generate` with all prompts x samples in padded
batches, dtype "auto" (bf16 on CPUs with avx512_bf16). Naive: the same model
in float32, one prompt and one sample per `generate` call. Both sample at the
same temperature with the same max_new_tokens; we compare generated tokens per
second (EOS ends samples at different lengths, so tokens/s is the fair unit).

    .venv/bin/python benchmarks/generation.py              # 4 prompts x 16 samples
    .venv/bin/python benchmarks/generation.py --quick      # smaller, for a smoke run

The naive loop is slow (~16 tok/s here), so by default it runs a subset of the
samples (`--naive-samples` per prompt); its tokens/s does not depend on count.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from verbalrl.llm import GenerationConfig
from verbalrl.llm.transformers_backend import TransformersLLM

PROMPTS = [
    "What is 17 + 25? Think step by step.",
    "Sort these words alphabetically: pear apple mango kiwi.",
    "Take the last letters of the words 'cat dog bird' and concatenate them.",
    "Natalia sold 48 clips in April and half as many in May. How many in total?",
]


def _chat(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def run(samples: int, naive_samples: int, max_new_tokens: int, model: str) -> dict[str, float]:
    prompts = [_chat(p) for p in PROMPTS]
    batched = TransformersLLM.load(model, dtype="auto")
    naive = TransformersLLM.load(model, dtype="float32")
    cfg = GenerationConfig(n=samples, temperature=0.8, max_new_tokens=max_new_tokens, seed=0)
    batched.generate(prompts[:1], cfg.model_copy(update={"n": 2, "max_new_tokens": 4}))  # warm-up

    start = time.perf_counter()
    out = batched.generate(prompts, cfg)
    batched_s = time.perf_counter() - start
    batched_tokens = sum(c.completion_tokens for row in out for c in row)

    one = cfg.model_copy(update={"n": 1, "seed": None})
    naive_tokens = 0
    start = time.perf_counter()
    for prompt in prompts:
        for _ in range(naive_samples):
            naive_tokens += naive.generate([prompt], one)[0][0].completion_tokens
    naive_s = time.perf_counter() - start

    result = {
        "batched_dtype": str(batched.dtype),
        "batched_sequences": len(prompts) * samples,
        "batched_tokens": batched_tokens,
        "batched_seconds": round(batched_s, 2),
        "batched_tok_per_s": round(batched_tokens / batched_s, 1),
        "naive_sequences": len(prompts) * naive_samples,
        "naive_tokens": naive_tokens,
        "naive_seconds": round(naive_s, 2),
        "naive_tok_per_s": round(naive_tokens / naive_s, 1),
    }
    result["speedup"] = round(result["batched_tok_per_s"] / result["naive_tok_per_s"], 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=16, help="samples per prompt (batched)")
    parser.add_argument("--naive-samples", type=int, default=4, help="samples per prompt (naive)")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--quick", action="store_true", help="4 samples, 2 naive, 32 tokens")
    args = parser.parse_args()
    if args.quick:
        args.samples, args.naive_samples, args.max_new_tokens = 4, 2, 32
    print(f"torch threads: {torch.get_num_threads()}")
    result = run(args.samples, args.naive_samples, args.max_new_tokens, args.model)
    print(json.dumps(result, indent=2))
    print(f"speedup (tokens/s, batched vs naive fp32 loop): {result['speedup']}x (target >= 4x)")


if __name__ == "__main__":
    main()
