"""What `verbalrl serve` asks of its model: rows to complete, tokens, prompt logprobs.

Two engines behind one interface:

- `BatchedEngine`, for a model that can `decode` rows with their own
  settings (`TransformersLLM`): concurrent requests are batched
  (`batcher.py`), text streams as it is decoded, every generated token has
  its log-probability, prompts may be token ids, `echo` reports the
  prompt's logprobs, `/tokenize` works, and a request that does not fit the
  context is refused before any work (vLLM's rule and message).
- `ProtocolEngine`, for any other `LLM` (a scripted model, a proxied
  server): calls `generate` one request at a time under a lock; a stream is
  one chunk; logprobs cover the first generated position only (the model's
  `top_logprobs`, enough for next-token-probability clients such as GenRM);
  token-id prompts, `echo` and `/tokenize` are refused with a clear error.

In scope: `Row` (one prompt x one sample with its settings and stream
callback), `make_engine`, the two engines. `submit(rows)` checks the rows at
once (so a bad request fails before a stream starts) and returns a future. Left out: HTTP (`server.py`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..errors import CapabilityError, ContextLengthError
from .base import LLM, GenerationConfig, Prompt
from .batcher import Batcher
from .decode import Decoded, DecodeRequest, TokenLogprob

OnText = Callable[[str, list[TokenLogprob]], None]
# A prompt as a client sends it: text, chat messages, or token ids (completions only).
ServedPrompt = Prompt | list[int]


@dataclass
class Row:
    """One completion to make: a prompt, its sampling settings, logprobs wanted, a stream callback."""

    prompt: ServedPrompt
    config: GenerationConfig  # n is ignored: a row is one sample
    max_tokens_given: bool = True  # False: the default limit, shortened to fit the context
    logprobs: int | None = None
    on_text: OnText | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)


class BatchedEngine:
    """A local model that decodes rows in batches (`TransformersLLM`)."""

    batched = True

    def __init__(self, llm: Any, *, max_rows: int = 32, window: float = 0.02, max_queued: int = 256) -> None:
        self.llm = llm
        self.context_length = int(llm.context_length)
        self.batcher = Batcher(llm.decode, max_rows=max_rows, window=window, max_queued=max_queued)

    def close(self) -> None:
        self.batcher.close()

    def tokenize(self, prompt: ServedPrompt) -> list[int]:
        if isinstance(prompt, list) and all(isinstance(t, int) for t in prompt):
            return self._known(prompt)  # type: ignore[arg-type]
        return list(self.llm.encode(prompt))

    def detokenize(self, ids: Sequence[int]) -> str:
        return str(self.llm.detokenize(self._known(ids)))

    def _known(self, ids: Sequence[int]) -> list[int]:
        """Token ids the model has (a 400 names the first that is not)."""
        vocab = len(self.llm.tokenizer)
        bad = next((t for t in ids if not 0 <= t < vocab), None)
        if bad is not None:
            raise ValueError(f"token id {bad} is not in the model's vocabulary (0 to {vocab - 1})")
        return list(ids)

    def tokenizer_info(self) -> dict[str, Any]:
        tok = self.llm.tokenizer
        return {
            "eos_token": tok.eos_token,
            "bos_token": tok.bos_token,
            "pad_token": tok.pad_token,
            "chat_template": getattr(tok, "chat_template", None),
            "model_max_length": self.context_length,
        }

    def submit(self, rows: Sequence[Row]) -> Future[list[Decoded]]:
        """Check every row (context, tokens) now, then queue them; the future gives the results."""
        requests = []
        for row in rows:
            ids = self.tokenize(row.prompt)
            if not ids:
                raise ValueError("the prompt encodes to no tokens")
            requests.append(self._request(row, ids))
        return self.batcher.submit(requests)

    def _request(self, row: Row, ids: list[int]) -> DecodeRequest:
        room = self.context_length - len(ids)
        limit = row.config.max_new_tokens
        if not row.max_tokens_given:
            limit = min(limit, room)
        if limit > room or room < 1:
            raise ContextLengthError(
                f"This model's maximum context length is {self.context_length} tokens. However, you "
                f"requested {len(ids) + limit} tokens ({len(ids)} in the prompt, {limit} in the "
                "completion). Please reduce the length of the prompt or the completion."
            )
        cfg = row.config
        return DecodeRequest(
            ids=ids,
            max_new_tokens=limit,
            temperature=cfg.temperature,
            top_p=cfg.top_p,
            stop=cfg.stop,
            seed=cfg.seed,
            logprobs=row.logprobs,
            on_text=row.on_text,
            cancelled=row.cancelled,
        )

    def prompt_logprobs(self, prompt: ServedPrompt, k: int) -> list[TokenLogprob]:
        return list(self.llm.prompt_logprobs(self.tokenize(prompt), k))


class ProtocolEngine:
    """Any `LLM`: one `generate` call at a time; first-position logprobs where the model has them."""

    batched = False
    context_length = None

    def __init__(self, llm: LLM) -> None:
        self.llm = llm
        self.lock = threading.Lock()
        # One worker: model calls run one at a time, in arrival order.
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="verbalrl-serve-model")

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    def _refuse(self, what: str) -> CapabilityError:
        return CapabilityError(
            f"model `{self.llm.name}` ({type(self.llm).__name__}) does not provide {what}; "
            "that needs a local transformers model behind verbalrl serve"
        )

    def tokenize(self, prompt: ServedPrompt) -> list[int]:
        raise self._refuse("tokenization")

    def detokenize(self, ids: Sequence[int]) -> str:
        raise self._refuse("detokenization")

    def tokenizer_info(self) -> dict[str, Any]:
        raise self._refuse("tokenizer info")

    def prompt_logprobs(self, prompt: ServedPrompt, k: int) -> list[TokenLogprob]:
        raise self._refuse("echo with prompt logprobs")

    def submit(self, rows: Sequence[Row]) -> Future[list[Decoded]]:
        """Refuse what this model cannot do now (token ids, logprobs), then queue the call."""
        prompts: list[Prompt] = []
        for row in rows:
            if isinstance(row.prompt, list) and row.prompt and isinstance(row.prompt[0], int):
                raise self._refuse("prompts of token ids")
            prompts.append(row.prompt)  # type: ignore[arg-type]
        # Logprobs first: a model without them fails before spending time on sampling.
        tops = self._tops(prompts) if any(r.logprobs is not None for r in rows) else None
        return self.pool.submit(self._complete, list(rows), prompts, tops)

    def _complete(
        self, rows: list[Row], prompts: list[Prompt], tops: list[list[tuple[str, float]]] | None
    ) -> list[Decoded]:
        # Rows of one request share settings; a request's n samples come back from one call.
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i, row in enumerate(rows):
            key = (repr(row.prompt), row.config.model_dump_json(exclude={"n"}))
            groups.setdefault(key, []).append(i)
        results: list[Decoded | None] = [None] * len(rows)
        for members in groups.values():
            config = rows[members[0]].config.model_copy(update={"n": len(members)})
            with self.lock:
                (row_out,) = self.llm.generate([prompts[members[0]]], config)
            for i, c in zip(members, row_out, strict=False):
                entries = []
                if tops is not None and rows[i].logprobs is not None:
                    entries = [_first_entry(c.text, tops[i], rows[i].logprobs or 0)]
                decoded = Decoded(c.text, c.finish_reason, c.prompt_tokens, c.completion_tokens, [], entries)
                if rows[i].on_text is not None:
                    rows[i].on_text(c.text, entries)  # type: ignore[misc]
                results[i] = decoded
        return [r for r in results if r is not None]

    def _tops(self, prompts: list[Prompt]) -> list[list[tuple[str, float]]]:
        top = getattr(self.llm, "top_logprobs", None)
        if top is None:
            raise self._refuse("logprobs")
        try:
            with self.lock:
                return list(top(prompts, 20))
        except CapabilityError as err:
            raise self._refuse(f"logprobs ({err})") from err


UNLIKELY = -9999.0  # OpenAI's logprob for a token outside the reported top-k


def _first_entry(text: str, top: list[tuple[str, float]], k: int) -> TokenLogprob:
    """The first position only: the longest top token the text starts with, else ("", UNLIKELY)."""
    matches = [(tok, lp) for tok, lp in top if tok and text.startswith(tok)]
    token, logprob = max(matches, key=lambda m: (len(m[0]), m[1])) if matches else ("", UNLIKELY)
    return TokenLogprob(token, logprob, top[:k])


def make_engine(llm: LLM, **batching: Any) -> BatchedEngine | ProtocolEngine:
    """A batching engine for a model that can `decode` rows, else the one-call-at-a-time engine."""
    if callable(getattr(llm, "decode", None)) and hasattr(llm, "context_length"):
        return BatchedEngine(llm, **batching)
    return ProtocolEngine(llm)
