"""What one problem may still spend: LLM calls and generated tokens, and the steps LangGraph allows.

In scope: the per-problem budgets of `GraphConfig` (`max_llm_calls`: sequences
generated or scored, as the verifier's `Usage` counts them; `max_tokens`:
generated tokens, the verifier's included), reading what is left of them from
the state's counters, clamping a request to fit, and the run options
(`graph_options`: a recursion limit that fits `max_rounds` rounds). Left out:
counting the compute (a node adds its calls and tokens to the state: `steps.sample`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.runnables import RunnableConfig

from .config import GraphConfig


def calls_left(state: Mapping[str, Any], config: GraphConfig) -> int | None:
    """LLM calls left to the problem; None: no cap."""
    if config.max_llm_calls is None:
        return None
    return max(0, config.max_llm_calls - state.get("llm_calls", 0))


def tokens_left(state: Mapping[str, Any], config: GraphConfig) -> int | None:
    """Generated tokens left to the problem; None: no cap."""
    if config.max_tokens is None:
        return None
    return max(0, config.max_tokens - state.get("generated_tokens", 0))


def budget_exhausted(state: Mapping[str, Any], config: GraphConfig) -> bool:
    """True when either per-problem budget is used up."""
    return calls_left(state, config) == 0 or tokens_left(state, config) == 0


def clamp(state: Mapping[str, Any], config: GraphConfig, want: int, max_new_tokens: int) -> tuple[int, int]:
    """(sequences, max_new_tokens per sequence) that fit what is left of both budgets."""
    calls = calls_left(state, config)
    n = want if calls is None else min(want, calls)
    tokens = tokens_left(state, config)
    if tokens is not None and n > 0:
        max_new_tokens = max(1, min(max_new_tokens, tokens // n)) if tokens >= n else 1
        n = min(n, tokens)
    return n, max_new_tokens


def graph_options(config: GraphConfig) -> RunnableConfig:
    """Run options for `invoke`/`stream`: enough recursion for `max_rounds` rounds of any graph."""
    return {"recursion_limit": 8 * config.max_rounds + 20}
