"""Wrappers over the `LLM` protocol: each is itself an `LLM` that adds one concern.

In scope: `CountingLLM` (counts the calls and generated tokens a callee
spends, e.g. memory's distiller inside a graph node), `ModelClock` and
`TimedLLM` (wall time spent in model calls, overlaps counted once). Every
other attribute of the wrapped model (`encode`, `tokenizer`, ...) passes through.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from .base import LLM, Completion, GenerationConfig, Prompt


class CountingLLM:
    """Wraps a model to count what a callee (memory's distiller) spends: calls and generated tokens."""

    def __init__(self, llm: LLM) -> None:
        self.llm = llm
        self.name = llm.name
        self.capabilities = llm.capabilities
        self.calls = 0
        self.tokens = 0

    def generate(
        self, prompts: Sequence[Prompt], config: GenerationConfig | None = None
    ) -> list[list[Completion]]:
        rows = self.llm.generate(prompts, config)
        self.calls += sum(len(r) for r in rows)
        self.tokens += sum(c.completion_tokens for r in rows for c in r)
        return rows

    def next_token_probs(
        self, prompts: Sequence[Prompt], candidates: Sequence[str]
    ) -> list[dict[str, float]]:
        return self.llm.next_token_probs(prompts, candidates)

    def __getattr__(self, name: str) -> Any:  # encode(), tokenizer, ... of the wrapped model
        return getattr(self.llm, name)


class ModelClock:
    """Wall seconds during which at least one model or verifier call was running.

    Overlapping calls (parallel branches of the multi graph) count once, so
    `seconds` never exceeds the wall time and `1 - seconds / wall` is the share
    spent outside the model: the graphs' own overhead.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self._active = 0
        self._since = 0.0
        self._lock = threading.Lock()

    def enter(self) -> None:
        with self._lock:
            if self._active == 0:
                self._since = time.perf_counter()
            self._active += 1

    def leave(self) -> None:
        with self._lock:
            self._active -= 1
            if self._active == 0:
                self.seconds += time.perf_counter() - self._since


class TimedLLM:
    """An `LLM` proxy that adds the time of each call to a `ModelClock`."""

    def __init__(self, llm: LLM, clock: ModelClock) -> None:
        self.llm, self.clock = llm, clock
        self.name = llm.name
        self.capabilities = llm.capabilities

    def generate(
        self, prompts: Sequence[Prompt], config: GenerationConfig | None = None
    ) -> list[list[Completion]]:
        self.clock.enter()
        try:
            return self.llm.generate(prompts, config)
        finally:
            self.clock.leave()

    def next_token_probs(
        self, prompts: Sequence[Prompt], candidates: Sequence[str]
    ) -> list[dict[str, float]]:
        self.clock.enter()
        try:
            return self.llm.next_token_probs(prompts, candidates)
        finally:
            self.clock.leave()

    def __getattr__(self, name: str) -> Any:  # encode(), tokenizer, ... of the wrapped model
        return getattr(self.llm, name)
