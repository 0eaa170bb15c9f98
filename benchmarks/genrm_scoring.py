"""GenRM scoring speed: the packed fast path, Hugging Face's batched forward, one-by-one float32.

Direct GenRM scores 16 candidate solutions (about 128 tokens each) of one
question, with the plain embedded model and with the packaged GenRM's LoRA
adapter (`genrm-stream`, what a run really scores with). Runs, interleaved:

- fast: `TransformersLLM` default, dtype "auto" (bf16 on CPUs with avx512_bf16):
  `llm/fast_scoring.py`, the shared prefix once, suffixes packed without padding,
  fused projections, the adapter unmerged but fused, last positions only at the end;
- reference: the same model through Hugging Face's forward (`fast_scoring=False`):
  prefix KV cache reused, left-padded suffixes, last position's logits only;
- naive: float32, one candidate per call, no reuse (the adapter included where used).

Each batched run's achieved FLOP/s is reported as a fraction of the machine's
bf16 matmul peak measured in the same run (1024^3 matmuls), and its largest
score difference from the float32 scores.

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
    parser.add_argument("--adapter", default="genrm-stream", help="trained GenRM; '' to skip")
    args = parser.parse_args()

    rows = []
    for adapter in [None, args.adapter or None]:
        if adapter is None and rows:
            break
        rows += measure(args, adapter)
    print(json.dumps(rows, indent=2))
    for row in rows:
        print(
            f"{row['model']:<32} {row['run']:<10} {row['seconds_best']:>7.2f} s  "
            f"{row['fraction_of_peak']:.2f} of peak  max diff vs fp32 {row['max_score_diff_vs_fp32']:.3f}"
        )


def load(args: argparse.Namespace, adapter: str | None, **options: object) -> TransformersLLM:
    if adapter is None:
        return TransformersLLM.load(args.model, **options)  # type: ignore[arg-type]
    from verbalrl.verifier import load_verifier

    return load_verifier(adapter, **options).llm  # type: ignore[attr-defined,no-any-return]


def measure(args: argparse.Namespace, adapter: str | None) -> list[dict[str, object]]:
    fast = load(args, adapter, dtype="auto", score_batch_size=args.candidates)
    reference = load(args, adapter, dtype="auto", score_batch_size=args.candidates, fast_scoring=False)
    slow = load(args, adapter, dtype="float32", fast_scoring=False)
    question, texts = make_candidates(fast, args.candidates, args.tokens)
    verifiers = {"fast": GenRMVerifier(fast), "reference": GenRMVerifier(reference)}
    naive_v = GenRMVerifier(slow)
    for v in verifiers.values():
        v.verify(question, texts[:2])  # warm-up
    naive_v.verify(question, texts[:1])

    times: dict[str, list[float]] = {name: [] for name in [*verifiers, "naive"]}
    scores: dict[str, list[float]] = {}
    for _ in range(args.repeats):  # interleaved, so all see the same machine load
        for name, v in verifiers.items():
            start = time.perf_counter()
            scores[name] = v.verify(question, texts).scores
            times[name].append(time.perf_counter() - start)
        start = time.perf_counter()
        scores["naive"] = [naive_v.verify(question, [t]).scores[0] for t in texts]
        times["naive"].append(time.perf_counter() - start)
    peak = matmul_peak(fast.dtype)

    prompts = [fast.encode(m) for m in _prompts(question, texts)]
    total = sum(len(p) for p in prompts)
    shared = _shared_prefix(prompts)
    unique = total - shared * (len(prompts) - 1)
    mean_ctx = shared + (unique - shared) / len(prompts) / 2
    flops = forward_flops(fast, unique, mean_ctx, len(prompts))
    rows = []
    for name, dtype in (("fast", fast.dtype), ("reference", reference.dtype), ("naive", slow.dtype)):
        best = min(times[name])
        rows.append(
            {
                "model": args.model + (f" + {adapter}" if adapter else ""),
                "run": name,
                "dtype": str(dtype),
                "candidates": len(texts),
                "prompt_tokens_total": total,
                "unique_tokens": unique,
                "seconds_best": round(best, 3),
                "speedup_vs_naive": round(min(times["naive"]) / best, 2),
                "gflops_per_s": round(flops / best / 1e9, 1),
                "matmul_peak_gflops_per_s": round(peak, 1),
                "fraction_of_peak": round(flops / best / 1e9 / peak, 2),
                "max_score_diff_vs_fp32": round(
                    max(abs(a - b) for a, b in zip(scores[name], scores["naive"], strict=True)), 4
                ),
            }
        )
    del fast, reference, slow
    return rows


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
