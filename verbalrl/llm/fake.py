"""A scripted model for control-flow tests: replies come from a script, calls are logged.

In scope: deterministic replies (a list consumed in order, or a function of
the prompt), fixed next-token probabilities, and a log of every call. Left
out: anything resembling language modelling; never use it to measure quality.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .base import (
    Capabilities,
    Completion,
    GenerationConfig,
    Prompt,
    prompt_text,
    truncate_at_stop,
    validate_candidates,
    validate_prompts,
)

Reply = str | Callable[[Prompt], str]


@dataclass
class FakeCall:
    """One logged call: the method, its prompts and its config or candidates."""

    method: str
    prompts: list[Prompt]
    config: GenerationConfig | None = None
    candidates: list[str] = field(default_factory=list)


class FakeLLM:
    """Scripted model.

    `replies` is either a list used in order (cycling when `cycle=True`,
    otherwise an `IndexError` when exhausted, so a test notices extra calls) or
    a function from the prompt to the reply. `probs` maps a candidate token to
    its probability, or is a function of (prompt, candidate).
    """

    def __init__(
        self,
        replies: Sequence[str] | Callable[[Prompt], str] = ("",),
        probs: dict[str, float] | Callable[[Prompt, str], float] | None = None,
        *,
        cycle: bool = True,
        name: str = "fake",
    ) -> None:
        self.name = name
        self.capabilities = Capabilities(next_token_probs=probs is not None)
        self._replies = replies if callable(replies) else list(replies)
        self._probs = probs
        self._cycle = cycle
        self._next = 0
        self._lock = threading.Lock()
        self.calls: list[FakeCall] = []

    def _reply(self, prompt: Prompt) -> str:
        if callable(self._replies):
            return self._replies(prompt)
        with self._lock:
            if self._next >= len(self._replies):
                if not self._cycle:
                    raise IndexError("FakeLLM ran out of scripted replies")
                self._next = 0
            reply = self._replies[self._next]
            self._next += 1
        return reply

    def generate(
        self, prompts: Sequence[Prompt], config: GenerationConfig | None = None
    ) -> list[list[Completion]]:
        config = config or GenerationConfig()
        items = validate_prompts(prompts)
        self.calls.append(FakeCall("generate", items, config))
        out: list[list[Completion]] = []
        for prompt in items:
            row = []
            for _ in range(config.n):
                text, stopped = truncate_at_stop(self._reply(prompt), config.stop)
                words = text.split()
                finish = "length" if len(words) > config.max_new_tokens else "stop"
                words = words[: config.max_new_tokens]
                if finish == "length":
                    text = " ".join(words)
                row.append(
                    Completion(
                        text=text,
                        prompt_tokens=len(prompt_text(prompt).split()),
                        completion_tokens=len(words),
                        finish_reason="stop" if stopped else finish,
                    )
                )
            out.append(row)
        return out

    def next_token_probs(
        self, prompts: Sequence[Prompt], candidates: Sequence[str]
    ) -> list[dict[str, float]]:
        items = validate_prompts(prompts)
        cands = validate_candidates(candidates)
        self.calls.append(FakeCall("next_token_probs", items, None, cands))
        if self._probs is None:
            from ..errors import CapabilityError

            raise CapabilityError("this FakeLLM was built without `probs`")
        result = []
        for prompt in items:
            if callable(self._probs):
                result.append({c: float(self._probs(prompt, c)) for c in cands})
            else:
                result.append({c: float(self._probs.get(c, 0.0)) for c in cands})
        return result

    def top_logprobs(self, prompts: Sequence[Prompt], k: int = 20) -> list[list[tuple[str, float]]]:
        """The `k` most likely next tokens with their log-probabilities (from `probs`)."""
        import math

        items = validate_prompts(prompts)
        if self._probs is None or callable(self._probs):
            from ..errors import CapabilityError

            raise CapabilityError("top_logprobs needs a FakeLLM built with a `probs` dict")
        ranked = sorted(self._probs.items(), key=lambda kv: -kv[1])[:k]
        row = [(tok, math.log(p)) for tok, p in ranked if p > 0]
        return [list(row) for _ in items]
