"""Request models and response builders of the OpenAI-compatible server (`server.py`).

In scope: pydantic models that validate `/v1/completions`,
`/v1/chat/completions` and `/tokenize` bodies (OpenAI's ranges: temperature
0-2, top_p in (0, 1], n >= 1, at most 20 top logprobs), conversion to
`GenerationConfig`, and the JSON shapes of choices, stream chunks, logprobs,
usage and errors.

What the server does not do is refused with a 400 that names it, never
ignored: `tools`/`functions` and tool-call messages (no function calling),
`response_format` other than text (no constrained decoding), image, audio
and file content parts, penalties other than 0 and `logit_bias`. Unknown
fields (`user`, `metadata`, ...) are ignored, as OpenAI-compatible servers do.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .base import GenerationConfig, Message
from .decode import Decoded, TokenLogprob

MAX_TOP_LOGPROBS = 20
MAX_TOKENS = 32768  # GenerationConfig's limit on max_new_tokens
DEFAULT_CHAT_MAX_TOKENS = 256
DEFAULT_COMPLETION_MAX_TOKENS = 16  # OpenAI's and vLLM's default for /v1/completions
NO_TOOLS = (
    "verbalrl serve does not support tools or function calling; send the request without it "
    "(LangChain: do not bind tools or use with_structured_output against this server)"
)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class _Sampling(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    n: int = Field(1, ge=1, le=128)
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    logit_bias: dict[str, float] | None = None

    @field_validator("frequency_penalty", "presence_penalty")
    @classmethod
    def _no_penalty(cls, value: float) -> float:
        if value != 0.0:
            raise ValueError("penalties are not supported by verbalrl serve; leave them at 0")
        return value

    @field_validator("logit_bias")
    @classmethod
    def _no_bias(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value:
            raise ValueError("logit_bias is not supported by verbalrl serve")
        return value

    @model_validator(mode="after")
    def _options_need_stream(self) -> _Sampling:
        if self.stream_options is not None and not self.stream:
            raise ValueError("stream_options is only allowed with stream=true")
        return self

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)

    def stops(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        return (self.stop,) if isinstance(self.stop, str) else tuple(s for s in self.stop if s)

    def generation_config(self, max_tokens: int) -> GenerationConfig:
        return GenerationConfig(
            n=self.n,
            temperature=self.temperature,
            top_p=self.top_p,
            max_new_tokens=max(1, max_tokens),
            stop=self.stops(),
            seed=self.seed,
        )


class CompletionRequest(_Sampling):
    """Body of `POST /v1/completions`: a prompt string, token ids, or a list of either."""

    prompt: str | list[str] | list[int] | list[list[int]]
    max_tokens: int | None = Field(DEFAULT_COMPLETION_MAX_TOKENS, ge=0, le=MAX_TOKENS)
    logprobs: int | None = Field(None, ge=0, le=MAX_TOP_LOGPROBS)
    echo: bool = False

    @field_validator("prompt")
    @classmethod
    def _non_empty(cls, value: Any) -> Any:
        items = value if isinstance(value, list) else [value]
        if not items or any(isinstance(p, str | list) and not p for p in items):
            raise ValueError("prompt must be non-empty: a string, token ids, or a list of either")
        return value

    @model_validator(mode="after")
    def _zero_needs_echo(self) -> CompletionRequest:
        if self.max_tokens == 0 and not self.echo:
            raise ValueError("max_tokens=0 is only allowed with echo=true (prompt logprobs)")
        if self.max_tokens == 0 and self.stream:
            raise ValueError("max_tokens=0 cannot be streamed")
        return self

    def prompts(self) -> list[str | list[int]]:
        p = self.prompt
        if isinstance(p, str):
            return [p]
        if p and all(isinstance(t, int) for t in p):
            return [list(p)]  # type: ignore[arg-type]
        return list(p)  # type: ignore[arg-type]

    @property
    def max_tokens_given(self) -> bool:
        return "max_tokens" in self.model_fields_set and self.max_tokens is not None

    def config(self) -> GenerationConfig:
        return self.generation_config(self.max_tokens or DEFAULT_COMPLETION_MAX_TOKENS)


class TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant", "developer"]
    content: str | list[TextPart]

    @model_validator(mode="before")
    @classmethod
    def _refuse_what_is_not_text(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        if value.get("role") in ("tool", "function") or value.get("tool_calls") or value.get("function_call"):
            raise ValueError(f"tool calls and tool results in messages: {NO_TOOLS}")
        content = value.get("content")
        if isinstance(content, list):
            kinds = {p.get("type") for p in content if isinstance(p, dict)} - {"text"}
            if kinds:
                raise ValueError(
                    f"content parts of type {sorted(str(k) for k in kinds)} are not supported: "
                    "verbalrl serve takes text only (no images, audio or files)"
                )
        return value

    def as_message(self) -> Message:
        text = self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)
        # "developer" is OpenAI's newer name for the system role.
        return {"role": "system" if self.role == "developer" else self.role, "content": text}


class ChatRequest(_Sampling):
    """Body of `POST /v1/chat/completions`."""

    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS)
    max_completion_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS)
    logprobs: bool = False
    top_logprobs: int | None = Field(None, ge=0, le=MAX_TOP_LOGPROBS)
    tools: list[Any] | None = None
    tool_choice: Any = None
    functions: list[Any] | None = None
    response_format: dict[str, Any] | None = None

    @field_validator("tools", "functions")
    @classmethod
    def _no_tools(cls, value: list[Any] | None) -> list[Any] | None:
        if value:
            raise ValueError(NO_TOOLS)
        return value

    @field_validator("tool_choice")
    @classmethod
    def _no_tool_choice(cls, value: Any) -> Any:
        if value not in (None, "none", "auto"):
            raise ValueError(NO_TOOLS)
        return value

    @field_validator("response_format")
    @classmethod
    def _text_only(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and value.get("type", "text") != "text":
            raise ValueError(
                f"response_format {value.get('type')!r} is not supported: verbalrl serve has no "
                "constrained decoding; ask for the format in the prompt and parse the text"
            )
        return value

    @model_validator(mode="after")
    def _top_needs_logprobs(self) -> ChatRequest:
        if self.top_logprobs and not self.logprobs:
            raise ValueError("top_logprobs requires logprobs=true")
        return self

    def prompt(self) -> list[Message]:
        return [m.as_message() for m in self.messages]

    @property
    def max_tokens_given(self) -> bool:
        return (self.max_completion_tokens or self.max_tokens) is not None

    def config(self) -> GenerationConfig:
        limit = self.max_completion_tokens or self.max_tokens or DEFAULT_CHAT_MAX_TOKENS
        return self.generation_config(limit)


class TokenizeRequest(BaseModel):
    """Body of `POST /tokenize` (vLLM's): a text prompt or chat messages."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    prompt: str | None = None
    messages: list[ChatMessage] | None = None
    add_special_tokens: bool = False

    @model_validator(mode="after")
    def _one_of(self) -> TokenizeRequest:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("give exactly one of prompt or messages")
        return self


class DetokenizeRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    tokens: list[int]


# ---- responses ----------------------------------------------------------------


def error_body(
    message: str,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    """OpenAI's error shape, which the `openai` client parses into its exceptions."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


Kind = Literal["text_completion", "chat.completion", "chat.completion.chunk"]


def envelope(kind: Kind, model: str, id: str | None = None, created: int | None = None) -> dict[str, Any]:
    prefix = "cmpl" if kind == "text_completion" else "chatcmpl"
    return {
        "id": id or f"{prefix}-{uuid.uuid4().hex}",
        "object": kind,
        "created": created or int(time.time()),
        "model": model,
    }


def usage(results: list[Decoded], n: int) -> dict[str, int]:
    # One prompt_tokens per prompt (not per sample), as OpenAI and vLLM count.
    prompt = sum(r.prompt_tokens for r in results[::n]) if n else 0
    completion = sum(r.completion_tokens for r in results)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _entry(token: str, logprob: float | None) -> dict[str, Any]:
    return {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))}


def chat_logprobs(entries: list[TokenLogprob], k: int) -> dict[str, Any]:
    """`choices[i].logprobs` of a chat completion (or chunk): one entry per generated token."""
    content = []
    for e in entries:
        item = _entry(e.token, e.logprob)
        item["top_logprobs"] = [_entry(t, lp) for t, lp in e.top[:k]]
        content.append(item)
    return {"content": content, "refusal": None}


def completion_logprobs(entries: list[TokenLogprob], k: int, offset: int = 0) -> dict[str, Any]:
    """`choices[i].logprobs` of a text completion: tokens, their logprobs, top k, text offsets."""
    tokens, logprobs, tops, offsets = [], [], [], []
    for e in entries:
        tokens.append(e.token)
        logprobs.append(e.logprob)
        ranked: dict[str, float] = {}
        for t, lp in e.top[:k]:
            # Two token ids can decode to the same string; a JSON object keeps one, the likelier.
            ranked[t] = max(lp, ranked.get(t, lp))
        if e.logprob is not None and k > 0:
            ranked.setdefault(e.token, e.logprob)  # the sampled token, as OpenAI includes it
        tops.append(ranked if e.logprob is not None else None)
        offsets.append(offset)
        offset += len(e.token)
    return {"tokens": tokens, "token_logprobs": logprobs, "top_logprobs": tops, "text_offset": offsets}
