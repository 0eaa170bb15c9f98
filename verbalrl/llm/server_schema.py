"""Request models and response builders of the OpenAI-compatible server (`server.py`).

In scope: pydantic models that validate `/v1/completions` and
`/v1/chat/completions` bodies (OpenAI's ranges: temperature 0-2, top_p in
(0, 1], n >= 1, at most 20 top logprobs), conversion to `GenerationConfig`,
and the JSON shapes of choices, logprobs, usage and errors. Left out: HTTP
(see `server.py`), streaming, tools, images, token-array prompts, `echo`
and penalties (accepted only at their neutral values).

Logprobs cover only the FIRST generated position: the backend reports the
next-token distribution of the prompt (`top_logprobs`), which is what
next-token-probability clients (GenRM's p("Yes")) need. The `token` of that
position is the longest top-k token the choice's text starts with; when none
matches (the sampled token fell outside the top-k) it is reported as "" with
logprob -9999.0, OpenAI's value for "not in the top".
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .base import Completion, GenerationConfig, Message

UNLIKELY = -9999.0  # OpenAI's logprob for a token outside the reported top-k
MAX_TOP_LOGPROBS = 20
MAX_TOKENS = 32768  # GenerationConfig's limit on max_new_tokens
DEFAULT_CHAT_MAX_TOKENS = 256
DEFAULT_COMPLETION_MAX_TOKENS = 16  # OpenAI's and vLLM's default for /v1/completions


class _Sampling(BaseModel):
    # Unknown fields (user, metadata, ...) are ignored as OpenAI-compatible servers do.
    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    n: int = Field(1, ge=1, le=128)
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool = False
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0

    @field_validator("stream")
    @classmethod
    def _no_stream(cls, value: bool) -> bool:
        if value:
            raise ValueError("streaming is not supported by verbalrl serve; send stream=false")
        return value

    @field_validator("frequency_penalty", "presence_penalty")
    @classmethod
    def _no_penalty(cls, value: float) -> float:
        if value != 0.0:
            raise ValueError("penalties are not supported by verbalrl serve; leave them at 0")
        return value

    def stops(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)

    def generation_config(self, max_tokens: int) -> GenerationConfig:
        return GenerationConfig(
            n=self.n,
            temperature=self.temperature,
            top_p=self.top_p,
            max_new_tokens=max_tokens,
            stop=self.stops(),
            seed=self.seed,
        )


class CompletionRequest(_Sampling):
    """Body of `POST /v1/completions`: one prompt string or a list of them."""

    prompt: str | list[str]
    max_tokens: int | None = Field(DEFAULT_COMPLETION_MAX_TOKENS, ge=1, le=MAX_TOKENS)
    logprobs: int | None = Field(None, ge=0, le=MAX_TOP_LOGPROBS)
    echo: bool = False

    @field_validator("prompt")
    @classmethod
    def _non_empty(cls, value: str | list[str]) -> str | list[str]:
        if not value or (isinstance(value, list) and not all(value)):
            raise ValueError("prompt must be a non-empty string or a list of non-empty strings")
        return value

    @field_validator("echo")
    @classmethod
    def _no_echo(cls, value: bool) -> bool:
        if value:
            raise ValueError("echo is not supported by verbalrl serve")
        return value

    def prompts(self) -> list[str]:
        return [self.prompt] if isinstance(self.prompt, str) else list(self.prompt)

    def config(self) -> GenerationConfig:
        return self.generation_config(self.max_tokens or DEFAULT_CHAT_MAX_TOKENS)


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant", "developer"]
    content: str | list[TextPart]

    def as_message(self) -> Message:
        text = (
            self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)
        )
        # "developer" is OpenAI's newer name for the system role.
        return {"role": "system" if self.role == "developer" else self.role, "content": text}


class ChatRequest(_Sampling):
    """Body of `POST /v1/chat/completions`."""

    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS)
    max_completion_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS)
    logprobs: bool = False
    top_logprobs: int | None = Field(None, ge=0, le=MAX_TOP_LOGPROBS)

    @model_validator(mode="after")
    def _top_needs_logprobs(self) -> ChatRequest:
        if self.top_logprobs and not self.logprobs:
            raise ValueError("top_logprobs requires logprobs=true")
        return self

    def prompt(self) -> list[Message]:
        return [m.as_message() for m in self.messages]

    def config(self) -> GenerationConfig:
        limit = self.max_completion_tokens or self.max_tokens or DEFAULT_CHAT_MAX_TOKENS
        return self.generation_config(limit)


# ---- responses ----------------------------------------------------------------


def error_body(
    message: str,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    """OpenAI's error shape, which the `openai` client parses into its exceptions."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def envelope(kind: Literal["text_completion", "chat.completion"], model: str) -> dict[str, Any]:
    prefix = "cmpl" if kind == "text_completion" else "chatcmpl"
    return {
        "id": f"{prefix}-{uuid.uuid4().hex}",
        "object": kind,
        "created": int(time.time()),
        "model": model,
    }


def usage(rows: list[list[Completion]]) -> dict[str, int]:
    # One prompt_tokens per prompt (not per sample), as OpenAI and vLLM count.
    prompt = sum(row[0].prompt_tokens for row in rows if row)
    completion = sum(c.completion_tokens for row in rows for c in row)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def first_token(text: str, top: list[tuple[str, float]]) -> tuple[str, float]:
    """The top-k token the text starts with (longest, then most likely), else ("", UNLIKELY)."""
    matches = [(tok, lp) for tok, lp in top if tok and text.startswith(tok)]
    if not matches:
        return "", UNLIKELY
    return max(matches, key=lambda m: (len(m[0]), m[1]))


def _token_entry(token: str, logprob: float) -> dict[str, Any]:
    return {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))}


def chat_logprobs(text: str, top: list[tuple[str, float]], k: int) -> dict[str, Any]:
    """`choices[i].logprobs` of a chat completion: one entry, the first generated token."""
    token, logprob = first_token(text, top)
    entry = _token_entry(token, logprob)
    entry["top_logprobs"] = [_token_entry(t, lp) for t, lp in top[:k]]
    return {"content": [entry], "refusal": None}


def completion_logprobs(text: str, top: list[tuple[str, float]], k: int) -> dict[str, Any]:
    """`choices[i].logprobs` of a text completion: one position, the first generated token."""
    token, logprob = first_token(text, top)
    ranked: dict[str, float] = {}
    for t, lp in top[:k]:
        # Two token ids can decode to the same string; a JSON object keeps one, the likelier.
        ranked[t] = max(lp, ranked.get(t, UNLIKELY))
    return {
        "tokens": [token],
        "token_logprobs": [logprob],
        "top_logprobs": [ranked],
        "text_offset": [0],
    }
