"""Baselines with the same model as the graphs: single-shot, self-consistency@N, best-of-N.

In scope: one function per problem that returns one record per baseline,
each with the compute it spent (LLM calls, generated tokens, seconds) and
its answer. Self-consistency and best-of-N share one draw of N samples (the
second only adds the verifier); each record states the compute that method
would spend on its own. Single-shot draws its own sample. Left out: scoring
correctness and writing results (the runner does both).
"""

from __future__ import annotations

import time
from typing import Any

from ..agents.base import safe_extract
from ..agents.solver import solver_prompt
from ..llm.base import LLM, GenerationConfig
from ..selection import BestOfN, Scored, SelfConsistency
from ..tasks.base import Problem, Task
from ..verifier.base import Verifier

BASELINES: tuple[str, ...] = ("single_shot", "self_consistency", "best_of_n")


def baseline_name(kind: str, n: int) -> str:
    """The method name written in reports: `single_shot`, `self_consistency@8`, `best_of_8`."""
    return {
        "single_shot": "single_shot",
        "self_consistency": SelfConsistency(n).name,
        "best_of_n": BestOfN(n=n).name,
    }[kind]


def run_baselines(
    llm: LLM,
    verifier: Verifier,
    task: Task,
    problem: Problem,
    *,
    n: int,
    gen: GenerationConfig,
    kinds: tuple[str, ...] = BASELINES,
) -> list[dict[str, Any]]:
    """Records (method, answer, score, llm_calls, generated_tokens, seconds, errors) per baseline."""
    prompt = solver_prompt(task, problem)
    out: list[dict[str, Any]] = []
    if "single_shot" in kinds:
        start = time.perf_counter()
        row = llm.generate([prompt], gen.model_copy(update={"n": 1}))[0]
        answer = safe_extract(task, row[0].text)
        seconds = time.perf_counter() - start
        out.append(_record("single_shot", answer, None, 1, row[0].completion_tokens, seconds))
    if not {"self_consistency", "best_of_n"} & set(kinds):
        return out
    start = time.perf_counter()
    samples = llm.generate([prompt], gen.model_copy(update={"n": n}))[0]
    sample_seconds = time.perf_counter() - start
    texts = [c.text for c in samples]
    answers = [safe_extract(task, t) for t in texts]
    tokens = sum(c.completion_tokens for c in samples)
    if "self_consistency" in kinds:
        consistency = SelfConsistency(n)
        choice = consistency.choose([Scored(a) for a in answers])
        out.append(_record(consistency.name, choice.answer, None, n, tokens, sample_seconds))
    if "best_of_n" in kinds:
        start = time.perf_counter()
        best = BestOfN(verifier, n=n)
        choice, scoring = best.select(problem, texts, answers)  # a draft without an answer is failed
        usage = scoring.usage
        out.append(
            _record(
                best.name,
                choice.answer,
                choice.score,
                n + (usage.llm_calls if usage else 0),
                tokens + (usage.generated_tokens if usage else 0),
                sample_seconds + time.perf_counter() - start,
                [scoring.error] if scoring.error else [],
            )
        )
    return out


def _record(
    method: str,
    answer: str | None,
    score: float | None,
    calls: int,
    tokens: int,
    seconds: float,
    errors: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "method": method,
        "answer": answer,
        "score": score,
        "rounds": 1,
        "llm_calls": calls,
        "generated_tokens": tokens,
        "seconds": round(seconds, 4),
        "status": "done",
        "errors": errors or [],
    }
