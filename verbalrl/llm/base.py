"""The model protocol every backend implements, and its typed requests/results.

In scope: `LLM` (batched sampling and next-token probabilities), the
`GenerationConfig` that validates sampling parameters at the edge, the
`Completion` result with token counts, and `Capabilities` flags that say what
a backend cannot do. Left out: loading models (see `registry.py`) and any
backend-specific code (each backend has its own file).

A prompt is either a raw string (sent as-is, no chat template) or a list of
chat messages `{"role": ..., "content": ...}` (the backend applies its chat
template and opens the assistant turn).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TypeAlias, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator

Message: TypeAlias = dict[str, str]
Prompt: TypeAlias = str | list[Message]
FinishReason: TypeAlias = Literal["stop", "length"]

_ROLES = frozenset({"system", "user", "assistant"})


class GenerationConfig(BaseModel):
    """Sampling parameters, validated: a bad value raises a `ValidationError` naming the field."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n: int = Field(1, ge=1, le=1024, description="samples per prompt")
    temperature: float = Field(0.7, ge=0.0, le=5.0, description="0 means greedy")
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_new_tokens: int = Field(256, ge=1, le=32768)
    stop: tuple[str, ...] = Field((), description="strings that end a completion (not included)")
    seed: int | None = Field(None, description="makes sampling reproducible where supported")

    @field_validator("stop")
    @classmethod
    def _no_empty_stop(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(s == "" for s in value):
            raise ValueError("stop strings must be non-empty")
        return value


class Completion(BaseModel):
    """One sampled continuation of one prompt."""

    model_config = ConfigDict(frozen=True)

    text: str
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    finish_reason: FinishReason


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do; callers check these instead of catching errors."""

    chat: bool = True
    raw_prompts: bool = True
    next_token_probs: bool = True
    seed: bool = True
    # continues a prompt that ends with an assistant turn (GenRM-CoT's verdict step); chat APIs cannot
    prefill: bool = True


@runtime_checkable
class LLM(Protocol):
    """A language model that samples completions and reports next-token probabilities."""

    name: str
    capabilities: Capabilities

    def generate(
        self, prompts: Sequence[Prompt], config: GenerationConfig | None = None
    ) -> list[list[Completion]]:
        """Sample `config.n` completions for each prompt; result[i] belongs to prompts[i]."""
        ...

    def next_token_probs(
        self, prompts: Sequence[Prompt], candidates: Sequence[str]
    ) -> list[dict[str, float]]:
        """For each prompt, the probability of each candidate token at the next position.

        Each candidate must be a single token of the model's vocabulary (e.g.
        "Yes" and " Yes" are different tokens); a candidate outside the
        backend's view (a server that only returns its top-k) gets 0.0.
        """
        ...


def validate_prompts(prompts: Sequence[Prompt]) -> list[Prompt]:
    """Check a batch of prompts; raise `ValueError` saying which one is malformed."""
    if isinstance(prompts, str):
        raise ValueError("prompts must be a list of prompts, not a single string")
    items = list(prompts)
    if not items:
        raise ValueError("prompts is empty: give at least one prompt")
    for i, prompt in enumerate(items):
        if isinstance(prompt, str):
            if not prompt:
                raise ValueError(f"prompts[{i}] is an empty string")
            continue
        if not isinstance(prompt, list) or not prompt:
            raise ValueError(f"prompts[{i}] must be a non-empty string or list of chat messages")
        for j, msg in enumerate(prompt):
            if not isinstance(msg, dict) or msg.get("role") not in _ROLES:
                raise ValueError(f"prompts[{i}][{j}] must be a dict with role in {sorted(_ROLES)}")
            if not isinstance(msg.get("content"), str):
                raise ValueError(f"prompts[{i}][{j}]['content'] must be a string")
    return items


def validate_candidates(candidates: Sequence[str]) -> list[str]:
    """Check next-token candidates: a non-empty list of distinct non-empty strings."""
    if isinstance(candidates, str):
        raise ValueError("candidates must be a list of strings, not a single string")
    items = list(candidates)
    if not items or any(not isinstance(c, str) or not c for c in items):
        raise ValueError("candidates must be a non-empty list of non-empty strings")
    if len(set(items)) != len(items):
        raise ValueError("candidates must be distinct")
    return items


def truncate_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Cut `text` at the first stop string; return (text, whether a stop was found)."""
    cut = len(text)
    for s in stop:
        idx = text.find(s)
        if idx != -1 and idx < cut:
            cut = idx
    return text[:cut], cut < len(text)


def prompt_text(prompt: Prompt) -> str:
    """The text of a prompt: the string itself, or the messages' contents joined."""
    if isinstance(prompt, str):
        return prompt
    return "\n".join(m["content"] for m in prompt)


def candidate_probs(pairs: Sequence[tuple[str, float]], candidates: Sequence[str]) -> dict[str, float]:
    """exp(logprob) of the token string equal to each candidate; 0.0 when not among `pairs`.

    `pairs` are (token, logprob) at one position, as a server reports them: the
    top ones and the chosen one. The chosen token is usually also in the top
    list; taking the largest logprob per string (not the sum) avoids counting it twice.
    """
    best: dict[str, float] = {}
    for tok, lp in pairs:
        if tok not in best or lp > best[tok]:
            best[tok] = lp
    return {c: min(1.0, math.exp(best[c])) if c in best else 0.0 for c in candidates}


def common_prefix_length(batch: Sequence[Sequence[int]]) -> int:
    """How many leading token ids every row of `batch` shares (what a scorer computes once)."""
    first = batch[0]
    length = min(len(ids) for ids in batch)
    for ids in batch[1:]:
        k = 0
        while k < length and ids[k] == first[k]:
            k += 1
        length = k
    return length
