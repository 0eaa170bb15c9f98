"""`verbalrl serve` under concurrent clients, and streaming time-to-first-token, side by side in one run.

Concurrency: the same 8 completion requests (different prompts, 48 new tokens
each, T=0.8), first one after another from one client, then from 8 clients
at once (threads with their own openai client). The server batches requests
that arrive together (`batcher.py`); the figure is the throughput ratio
(sequential wall time / concurrent wall time), both measured in this run.
The unbatched baseline of issue 12 was a lock: 8 clients took as long as 8
requests in a row (ratio 1.0).

Streaming: a chat completion of 64 new tokens at T=0, streamed with the
openai SDK: time to the first content token against the time to the last.

    .venv/bin/python benchmarks/serve.py                  # the embedded SmolLM2, 3 repeats
    .venv/bin/python benchmarks/serve.py --repeats 1      # quicker
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time

import openai

from verbalrl.llm.server import serve_in_thread
from verbalrl.llm.transformers_backend import TransformersLLM

PROMPTS = [f"Write a short story about a {thing}:" for thing in (
    "cat", "ship", "robot", "garden", "river", "clock", "storm", "violin"
)]


def one(client: openai.OpenAI, prompt: str, tokens: int) -> int:
    r = client.completions.create(model="smol", prompt=prompt, max_tokens=tokens, temperature=0.8, seed=1)
    return int(r.usage.completion_tokens)  # type: ignore[union-attr]


def sequential(url: str, tokens: int) -> tuple[float, int]:
    client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
    start = time.perf_counter()
    done = sum(one(client, p, tokens) for p in PROMPTS)
    return time.perf_counter() - start, done


def concurrent(url: str, tokens: int) -> tuple[float, int]:
    counts: list[int] = []

    def client_thread(prompt: str) -> None:
        counts.append(one(openai.OpenAI(base_url=url, api_key="unused", max_retries=0), prompt, tokens))

    threads = [threading.Thread(target=client_thread, args=(p,)) for p in PROMPTS]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, sum(counts)


def streamed(url: str, tokens: int) -> tuple[float, float]:
    client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
    start = time.perf_counter()
    first = None
    stream = client.chat.completions.create(
        model="smol", messages=[{"role": "user", "content": "Tell me about the moon."}],
        max_tokens=tokens, temperature=0, stream=True,
    )
    for chunk in stream:
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter() - start
    return first or 0.0, time.perf_counter() - start


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=48)
    args = parser.parse_args()
    llm = TransformersLLM.load(args.model)
    rows = []
    with serve_in_thread(llm, model_name="smol") as srv:
        one(openai.OpenAI(base_url=srv.url, api_key="unused"), "warm up", 4)
        for _ in range(args.repeats):
            seq_s, seq_tokens = sequential(srv.url, args.tokens)
            con_s, con_tokens = concurrent(srv.url, args.tokens)
            ttft, total = streamed(srv.url, 64)
            rows.append({"sequential_s": seq_s, "concurrent_s": con_s, "sequential_tokens": seq_tokens,
                         "concurrent_tokens": con_tokens, "ttft_s": ttft, "stream_total_s": total})
        batches = srv.engine.batcher.batches  # type: ignore[union-attr]
    ratios = [(r["concurrent_tokens"] / r["concurrent_s"]) / (r["sequential_tokens"] / r["sequential_s"])
              for r in rows]
    summary = {
        "model": args.model,
        "repeats": args.repeats,
        "throughput_ratio_median": statistics.median(ratios),
        "throughput_ratios": ratios,
        "sequential_s_median": statistics.median(r["sequential_s"] for r in rows),
        "concurrent_s_median": statistics.median(r["concurrent_s"] for r in rows),
        "ttft_s_median": statistics.median(r["ttft_s"] for r in rows),
        "stream_total_s_median": statistics.median(r["stream_total_s"] for r in rows),
        "decode_batches": batches,
        "rows": rows,
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
