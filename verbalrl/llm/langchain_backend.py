"""`LangChainLLM`: any LangChain chat model (`ChatOpenAI`, `ChatAnthropic`, `ChatOllama`, ...) as an `LLM`.

A LangGraph user already holds a `BaseChatModel`; this backend lets it drive
every agent: `LangChainLLM(chat_model)` or `load_llm(chat_model)`.

In scope: `generate` through `Runnable.batch` (and `agenerate` through
`abatch`), so the model's callbacks fire inside a graph node and LangGraph's
`stream_mode="messages"` sees its tokens tagged with the node that asked;
`n` samples (one call each, `seed + k` when seeded, so samples differ on a
seeded server); stop sequences; token counts from each reply's
`usage_metadata` (each sample is its own call, so each has its own count; a
provider that reports none gives 0 and a warning: a streaming `ChatOpenAI`,
as in messages mode, reports usage only with `stream_usage=True`); and `next_token_probs` from the reply's
`logprobs` where the provider returns them (OpenAI-compatible servers do:
`verbalrl serve`, vLLM, OpenAI). A provider without them raises
`CapabilityError` naming the provider.

What a chat API cannot do: continue a prefilled assistant turn. A prompt
whose last message is the assistant's (GenRM-CoT's verdict step) and a raw
string prompt (no chat template) raise `CapabilityError`; `capabilities`
says so up front (`prefill=False`, `raw_prompts=False`), so `GenRMCoTVerifier`
refuses such a model when it is built. Use a local backend for GenRM-CoT.

Sampling settings (`temperature`, `top_p`, `max_tokens`, `seed`) go to each
call as keyword arguments, which OpenAI-style chat models pass to the API.
A provider that rejects one of them: `LangChainLLM(model, sampling=False)`
uses the chat model's own settings and sends only the stop sequences.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ..errors import BackendError, CapabilityError, VerbalRLError
from .base import (
    Capabilities,
    Completion,
    FinishReason,
    GenerationConfig,
    Prompt,
    candidate_probs,
    truncate_at_stop,
    validate_candidates,
    validate_prompts,
)

log = logging.getLogger(__name__)

_LENGTH_REASONS = frozenset({"length", "max_tokens", "MAX_TOKENS"})


def _base_chat_model() -> type:
    from langchain_core.language_models import BaseChatModel

    return BaseChatModel


def is_chat_model(obj: object) -> bool:
    """Whether `obj` is a LangChain chat model (without importing LangChain for a plain string)."""
    if isinstance(obj, str | bytes) or obj is None:
        return False
    try:
        return isinstance(obj, _base_chat_model())
    except ImportError:  # pragma: no cover - langgraph depends on langchain-core
        return False


class LangChainLLM:
    """The `LLM` protocol over a LangChain `BaseChatModel`.

    `name`: defaults to the chat model's `model_name`/`model` field, else its
    type. `max_concurrency`: calls in flight at once in `batch`.
    `top_logprobs`: alternatives `next_token_probs` asks for.
    """

    emits_messages = True  # LangChain's callbacks report every call (graphs need not)

    def __init__(
        self,
        chat_model: Any,
        *,
        name: str | None = None,
        sampling: bool = True,
        max_concurrency: int = 8,
        top_logprobs: int = 20,
    ) -> None:
        if not is_chat_model(chat_model):
            raise TypeError(
                f"LangChainLLM needs a LangChain chat model (a BaseChatModel such as ChatOpenAI), "
                f"got {type(chat_model).__name__}"
            )
        if max_concurrency < 1 or not 1 <= top_logprobs <= 20:
            raise ValueError("need max_concurrency >= 1 and 1 <= top_logprobs <= 20")
        self.chat_model = chat_model
        self.provider = _provider(chat_model)
        self.name = name or _model_name(chat_model) or self.provider
        self.sampling = sampling
        self.max_concurrency = max_concurrency
        self.top_logprobs = top_logprobs
        # next_token_probs is not knowable before asking: a provider without logprobs raises then.
        self.capabilities = Capabilities(chat=True, raw_prompts=False, prefill=False, seed=sampling)
        self._warned = False

    def __repr__(self) -> str:
        return f"LangChainLLM({type(self.chat_model).__name__}, name={self.name!r})"

    # ---- the LLM protocol -------------------------------------------------

    def generate(
        self, prompts: Sequence[Prompt], config: GenerationConfig | None = None
    ) -> list[list[Completion]]:
        config = config or GenerationConfig()
        items = self._check(prompts)
        with self._provider_errors():
            calls = self._calls(items, config)
            replies = self._runner().batch(calls, {"max_concurrency": self.max_concurrency})
        return self._rows(items, replies, config)

    async def agenerate(
        self, prompts: Sequence[Prompt], config: GenerationConfig | None = None
    ) -> list[list[Completion]]:
        """`generate` through `Runnable.abatch` (for async graphs and servers)."""
        config = config or GenerationConfig()
        items = self._check(prompts)
        with self._provider_errors():
            calls = self._calls(items, config)
            replies = await self._runner().abatch(calls, {"max_concurrency": self.max_concurrency})
        return self._rows(items, replies, config)

    def next_token_probs(
        self, prompts: Sequence[Prompt], candidates: Sequence[str]
    ) -> list[dict[str, float]]:
        items = self._check(prompts)
        cands = validate_candidates(candidates)
        kwargs = {"max_tokens": 1, "temperature": 0.0, "logprobs": True, "top_logprobs": self.top_logprobs}
        calls = [{"messages": to_langchain_messages(p), "kwargs": kwargs} for p in items]
        # A one-token scoring call is not a message for LangGraph's messages stream (still traced).
        options: Any = {"max_concurrency": self.max_concurrency, "tags": ["nostream"]}
        try:
            replies = self._runner().batch(calls, options)
        except Exception as err:
            raise CapabilityError(
                f"{self.provider} ({self.name}) failed when asked for logprobs: {err}; this provider "
                "may not return next-token probabilities (GenRM needs them): use an OpenAI-compatible "
                "server that does (verbalrl serve, vLLM) or a local backend"
            ) from err
        out = []
        for reply in replies:
            pairs = _first_logprobs(reply)
            if not pairs:
                raise CapabilityError(
                    f"{self.provider} ({self.name}) returned no logprobs, so next-token probabilities "
                    "are unavailable through it; GenRM needs them: use an OpenAI-compatible server "
                    "that returns logprobs (verbalrl serve, vLLM) or a local backend"
                )
            out.append(candidate_probs(pairs, cands))
        return out

    # ---- helpers ------------------------------------------------------------

    def _check(self, prompts: Sequence[Prompt]) -> list[Prompt]:
        items = validate_prompts(prompts)
        for i, prompt in enumerate(items):
            if isinstance(prompt, str):
                raise CapabilityError(
                    f"prompts[{i}] is a raw string; a chat model ({self.provider}) takes chat messages "
                    "only: wrap it as [{'role': 'user', 'content': ...}]"
                )
            if prompt[-1]["role"] == "assistant":
                raise CapabilityError(
                    f"prompts[{i}] ends with an assistant turn to continue (a prefill, as GenRM-CoT's "
                    f"verdict step needs); a chat API ({self.provider}) cannot continue a partial "
                    "assistant message: use a local backend (transformers, vLLM) for this"
                )
        return items

    def _calls(self, items: list[Prompt], config: GenerationConfig) -> list[dict[str, Any]]:
        calls = []
        for prompt in items:
            messages = to_langchain_messages(prompt)
            for k in range(config.n):
                kwargs: dict[str, Any] = {}
                if config.stop:
                    kwargs["stop"] = list(config.stop)
                if self.sampling:
                    kwargs["temperature"] = config.temperature
                    kwargs["max_tokens"] = config.max_new_tokens
                    if config.top_p < 1.0:
                        kwargs["top_p"] = config.top_p
                    if config.seed is not None:
                        kwargs["seed"] = config.seed + k
                calls.append({"messages": messages, "kwargs": kwargs})
        return calls

    def _runner(self) -> Any:
        """A runnable that invokes the chat model with per-call keyword arguments (seeds differ)."""
        from langchain_core.runnables import RunnableLambda

        model = self.chat_model

        def call(item: dict[str, Any], config: Any) -> Any:
            return model.invoke(item["messages"], config, **item["kwargs"])

        async def acall(item: dict[str, Any], config: Any) -> Any:
            return await model.ainvoke(item["messages"], config, **item["kwargs"])

        return RunnableLambda(call, afunc=acall, name="verbalrl_generate")

    def _rows(
        self, items: list[Prompt], replies: list[Any], config: GenerationConfig
    ) -> list[list[Completion]]:
        rows: list[list[Completion]] = []
        for i in range(len(items)):
            row = replies[i * config.n : (i + 1) * config.n]
            rows.append([_completion(reply, config) for reply in row])
        if not self._warned and any(c.completion_tokens == 0 and c.text for row in rows for c in row):
            self._warned = True
            log.warning(
                "%s (%s) reported no token usage, so generated-token counts and token budgets read 0; "
                "a streamed ChatOpenAI needs stream_usage=True", self.provider, self.name,
            )
        return rows

    @contextmanager
    def _provider_errors(self) -> Iterator[None]:
        """A provider's own exception becomes a `BackendError` naming it (ours pass through)."""
        try:
            yield
        except VerbalRLError:
            raise
        except Exception as err:
            raise BackendError(
                f"{self.provider} ({self.name}) failed to generate: {type(err).__name__}: {err}"
            ) from err


# ---- conversions (pure functions) ------------------------------------------


def _provider(chat_model: Any) -> str:
    try:
        return str(chat_model._llm_type)
    except Exception:  # noqa: BLE001 - a type name is enough for messages
        return type(chat_model).__name__


def _model_name(chat_model: Any) -> str | None:
    for field in ("model_name", "model", "model_id"):
        value = getattr(chat_model, field, None)
        if isinstance(value, str) and value:
            return value
    return None


def to_langchain_messages(prompt: Prompt) -> list[Any]:
    """A prompt as LangChain messages (a raw string becomes one human message)."""
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    if isinstance(prompt, str):
        return [HumanMessage(content=prompt)]
    kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    return [kinds[m["role"]](content=m["content"]) for m in prompt]


def message_text(message: Any) -> str:
    """The text of a LangChain message: string content, or its text blocks joined."""
    content = getattr(message, "content", message)
    if isinstance(content, str):
        return content
    parts = []
    for block in content or []:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
    return "".join(parts)


def _completion(reply: Any, config: GenerationConfig) -> Completion:
    text, stopped = truncate_at_stop(message_text(reply), config.stop)
    meta = getattr(reply, "response_metadata", None) or {}
    reason = meta.get("finish_reason") or meta.get("stop_reason") or meta.get("done_reason")
    finish: FinishReason = "length" if reason in _LENGTH_REASONS and not stopped else "stop"
    usage = getattr(reply, "usage_metadata", None) or {}
    prompt_tokens = int(usage.get("input_tokens", 0) or 0)
    completion_tokens = int(usage.get("output_tokens", 0) or 0)
    if not usage:  # some integrations only fill the OpenAI-style token_usage
        counts = meta.get("token_usage") or {}
        prompt_tokens = int(counts.get("prompt_tokens", 0) or 0)
        completion_tokens = int(counts.get("completion_tokens", 0) or 0)
    return Completion(
        text=text, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, finish_reason=finish
    )


def _first_logprobs(reply: Any) -> list[tuple[str, float]]:
    """(token, logprob) pairs at the first generated position, in OpenAI's chat format."""
    meta = getattr(reply, "response_metadata", None) or {}
    logprobs = meta.get("logprobs") or {}
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not content:
        return []
    first = content[0]
    pairs = [(t["token"], float(t["logprob"])) for t in first.get("top_logprobs") or []]
    if "token" in first and first.get("logprob") is not None:
        pairs.append((first["token"], float(first["logprob"])))
    return pairs
