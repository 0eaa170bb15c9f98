"""GenRM scoring speed: batched with the shared prefix against one-by-one float32, in one run.

Direct GenRM scores 16 candidate solutions (about 128 tokens each) of one
question. Batched: one `GenRMVerifier.verify` call, dtype "auto" (bf16 on
CPUs with avx512_bf16), the question prefix run once and its KV cache reused,
only the last position's logits computed. Naive: the same model in float32,
one candidate per call, no reuse. We also report the batched run's achieved
FLOP/s as a fraction of the machine's matmul peak, measured in the same run
with the same dtype.

    .venv/bin/python benchmarks/genrm_scoring.py [--candidates 16] [--tokens 128] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from verbalrl.llm.transformers_backend import TransformersLLM
from verbalrl.tasks import get_task
from verbalrl.verifier.genrm import GenRMVerifier


def matmul_peak(dtype: torch.dtype, size: int = 1024, seconds: float = 2.0) -> float:
    """Best-case GFLOP/s of square matmuls in `dtype` on this machine, now."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    for _ in range(3):
        a @ b
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    return 2 * size**3 * count / (time.perf_counter() - start) / 1e9


def make_candidates(llm: TransformersLLM, n: int, tokens: int) -> tuple[object, list[str]]:
    task = get_task("arithmetic", level=4)
    problems = task.problems("test", n=n + 1, seed=0)
    question = problems[0]
    texts = []
    for p in problems[1:]:
        text = (task.reference_solution(p) or "") + "\n"
        ids = llm.tokenizer(text * 8, add_special_tokens=False)["input_ids"][:tokens]
        texts.append(llm.tokenizer.decode(ids))
    return question, texts


def forward_flops(llm: TransformersLLM, tokens: int, context: float, rows: int) -> float:
    """Matmul FLOPs of a forward pass: weights x tokens, attention, and the rows' vocab projections."""
    cfg = llm.model.config
    params = sum(p.numel() for n, p in llm.model.named_parameters() if "embed" not in n)
    attention = 4 * cfg.num_hidden_layers * cfg.num_attention_heads * cfg.head_dim * context
    head = 2 * cfg.hidden_size * cfg.vocab_size
    return tokens * (2 * params + attention) + rows * head


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", default="smollm2-135m-instruct")
    args = parser.parse_args()

    fast = TransformersLLM.load(args.model, dtype="auto", score_batch_size=args.candidates)
    slow = TransformersLLM.load(args.model, dtype="float32")
    question, texts = make_candidates(fast, args.candidates, args.tokens)
    batched_v, naive_v = GenRMVerifier(fast), GenRMVerifier(slow)
    batched_v.verify(question, texts[:2])  # warm-up
    naive_v.verify(question, texts[:1])

    batched_times, naive_times = [], []
    for _ in range(args.repeats):  # interleaved, so both see the same machine load
        start = time.perf_counter()
        batched = batched_v.verify(question, texts)
        batched_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        naive = [naive_v.verify(question, [t]).scores[0] for t in texts]
        naive_times.append(time.perf_counter() - start)
    max_diff = max(abs(a - b) for a, b in zip(batched.scores, naive, strict=True))

    prompts = [p for p in (fast.encode(m) for m in _prompts(question, texts))]
    total = sum(len(p) for p in prompts)
    shared = _shared_prefix(prompts)
    unique = total - shared * (len(prompts) - 1)
    mean_ctx = shared + (unique - shared) / len(prompts) / 2
    flops = forward_flops(fast, unique, mean_ctx, len(prompts))
    best_batched = min(batched_times)
    peak = matmul_peak(fast.dtype)
    result = {
        "candidates": len(texts),
        "prompt_tokens_total": total,
        "shared_prefix_tokens": shared,
        "unique_tokens": unique,
        "batched_dtype": str(fast.dtype),
        "batched_seconds_best": round(best_batched, 3),
        "naive_fp32_seconds_best": round(min(naive_times), 3),
        "speedup": round(min(naive_times) / best_batched, 2),
        "max_score_difference_bf16_vs_fp32": round(max_diff, 4),
        "batched_gflops_per_s": round(flops / best_batched / 1e9, 1),
        "matmul_peak_gflops_per_s": round(peak, 1),
        "fraction_of_peak": round(flops / best_batched / 1e9 / peak, 2),
    }
    print(json.dumps(result, indent=2))
    print(
        f"speedup {result['speedup']}x (target >= 5x); "
        f"{result['fraction_of_peak']:.0%} of matmul peak (target >= 50%)"
    )


def _prompts(question: object, texts: list[str]) -> list[object]:
    from verbalrl.verifier.prompts import direct_prompt

    return [direct_prompt(question.question, t) for t in texts]  # type: ignore[attr-defined]


def _shared_prefix(prompts: list[list[int]]) -> int:
    k = 0
    while all(len(p) > k and p[k] == prompts[0][k] for p in prompts):
        k += 1
    return k


if __name__ == "__main__":
    main()
