"""Sampling with the shared prompt prefix run once (KV cache reuse) against every row in full, side by side.

`TransformersLLM.generate` runs the prefix a batch's rows share once and
repeats its KV cache over the rows (`prefix_cache=True`, the default); with
`prefix_cache=False` every row is prefilled in full. Two workloads on the
chain task (level 3, 2 demonstrations as chat turns: the prompts of benchmark 4):

- `samples`: N samples of each of P problems' prompts (Best-of-N's sampling);
- `search`: the search graph's beam search (`beams x expansions`), whose rows
  are partial solutions of one problem; scored by the step checker, which
  costs no model call, so the time is the policy's.

Each workload runs with the cache on and off, alternating, `--repeats` times
on the same seeds; the median seconds and their ratio are printed, and
greedy (T=0) outputs of the `samples` prompts are compared for equality.

    .venv/bin/python benchmarks/prefix_cache.py                # ~4 min on the 2 CPU cores
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from verbalrl.agents.prompted import prompted
from verbalrl.agents.solver import solver_prompt
from verbalrl.evaluation.shots import reference_shots
from verbalrl.llm import GenerationConfig
from verbalrl.llm.registry import load_llm
from verbalrl.tasks import get_task


def timed(llm: Any, cache: bool, work: Any) -> tuple[float, Any]:
    llm.prefix_cache = cache
    start = time.perf_counter()
    out = work()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--problems", type=int, default=4)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--budget", default="2x2", help="beams x expansions of the search workload")
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from verbalrl.graphs import SearchConfig, initial_state
    from verbalrl.graphs.search import build_search_graph
    from verbalrl.verifier.process import CheckerStepVerifier

    base = get_task("chain", level=3)
    shots = reference_shots(base, n=2, seed=1)
    task = prompted(base, None, [{"question": s.question, "solution": s.solution} for s in shots])
    problems = task.problems("test", n=args.problems, seed=3)
    prompts = [solver_prompt(task, p) for p in problems]  # the search graph's prompt
    llm = load_llm(args.model)
    llm.generate(prompts[:1], GenerationConfig(n=2, max_new_tokens=4))  # warm-up

    sample_cfg = GenerationConfig(n=args.samples, temperature=0.8, max_new_tokens=args.max_new_tokens, seed=0)
    beams, expansions = (int(x) for x in args.budget.split("x"))
    search_cfg = SearchConfig(strategy="beam", beams=beams, expansions=expansions, max_rounds=8, max_depth=8,
                              temperature=0.8, seed=0)  # fmt: skip
    graph = build_search_graph(llm, CheckerStepVerifier(base), search_cfg, task=task)

    def sampling() -> int:
        return sum(c.completion_tokens for row in llm.generate(prompts, sample_cfg) for c in row)

    def searching() -> int:
        return sum(int(graph.invoke(initial_state(p))["result"]["generated_tokens"]) for p in problems)

    results: dict[str, Any] = {"prompt_tokens": [len(llm.encode(p)) for p in prompts]}
    for name, work in (("samples", sampling), ("search", searching)):
        seconds: dict[bool, list[float]] = {True: [], False: []}
        tokens: dict[bool, list[int]] = {True: [], False: []}
        for r in range(args.repeats):
            for cache in (True, False) if r % 2 == 0 else (False, True):
                s, n = timed(llm, cache, work)
                seconds[cache].append(s)
                tokens[cache].append(n)
        on, off = statistics.median(seconds[True]), statistics.median(seconds[False])
        results[name] = {
            "seconds_cache": seconds[True], "seconds_full": seconds[False], "tokens_cache": tokens[True],
            "tokens_full": tokens[False], "median_cache": on, "median_full": off, "speedup": off / on,
        }  # fmt: skip
        print(json.dumps({name: results[name]}), flush=True)
    greedy = GenerationConfig(n=1, temperature=0, max_new_tokens=args.max_new_tokens)
    def texts() -> list[str]:
        return [row[0].text for row in llm.generate(prompts, greedy)]

    same = [timed(llm, cache, texts)[1] for cache in (True, False)]
    results["greedy_equal"] = sum(a == b for a, b in zip(*same, strict=True))
    results["greedy_prompts"] = len(prompts)
    llm.prefix_cache = True
    print(json.dumps(results))


if __name__ == "__main__":
    main()
