"""The replies of `/v1/completions` and `/v1/chat/completions`: whole JSON or a server-sent-event stream.

A request becomes rows (prompt x sample, choice `i * n + j`), submitted to
the engine at once, so a bad request (context too long, a feature the model
lacks) fails with a 400 before a stream starts. Without `stream` the reply
is one JSON body. With it, the reply is a `Stream` of OpenAI chunks: for
chat a first chunk with the role, then content deltas as the engine
decodes them (with their tokens' logprobs when asked), a last chunk per
choice with its `finish_reason`, a usage chunk when
`stream_options.include_usage`, then `[DONE]` (written by `server.py`).
`echo` (completions) puts the prompt, and its logprobs, before the text.

In scope: `Completions`, `Chat`, `Stream`. Left out: HTTP (`server.py`),
validation (`server_schema.py`), decoding (`server_engine.py`).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .decode import Decoded, TokenLogprob
from .server_engine import Row, ServedPrompt
from .server_schema import (
    ChatRequest,
    CompletionRequest,
    chat_logprobs,
    completion_logprobs,
    envelope,
    usage,
)

if TYPE_CHECKING:
    from .server import ModelServer

POLL = 0.1  # seconds between checks that a stream's batch is still running
# An extra top-level field (clients ignore unknown fields) for a model served through its
# `LLM` protocol only, so a reader of the raw response knows not every token has logprobs.
LOGPROBS_NOTE = {"logprobs_scope": "first generated token only"}


# The handler's connection, for this thread: `CONNECTION.gone()` says whether its client hung up.
CONNECTION = threading.local()


@dataclass
class Stream:
    """A streamed reply: the chunks to send, and what to do when the client goes away."""

    chunks: Iterator[dict[str, Any]]
    cancel: Callable[[], None]


Reply = dict[str, Any] | Stream


class _Reply:
    """What both endpoints share: rows, submission, waiting, streaming."""

    def __init__(self, server: ModelServer, req: CompletionRequest | ChatRequest) -> None:
        self.server = server
        self.req = req
        self.n = req.n
        self.events: queue.Queue[tuple[int, str, list[TokenLogprob]]] = queue.Queue()
        self.rows: list[Row] = []

    def _rows(self, prompts: Sequence[ServedPrompt], logprobs: int | None) -> list[Row]:
        config = self.req.config().model_copy(update={"n": 1})
        rows: list[Row] = []
        for prompt in prompts:
            for _ in range(self.n):
                index = len(rows)
                on_text = (lambda d, t, i=index: self.events.put((i, d, t))) if self.req.stream else None
                rows.append(Row(prompt, config, self.req.max_tokens_given, logprobs, on_text))
        return rows

    def _note(self, logprobs: bool) -> dict[str, str]:
        return LOGPROBS_NOTE if logprobs and not self.server.engine.batched else {}

    def _submit(self) -> Future[list[Decoded]] | None:
        return self.server.engine.submit(self.rows) if self.rows else None

    def _cancel(self) -> None:
        for row in self.rows:
            row.cancelled.set()

    def _wait(self, future: Future[list[Decoded]]) -> list[Decoded]:
        """The results; a client that hangs up meanwhile has its rows cancelled (no leaked work)."""
        gone = getattr(CONNECTION, "gone", None)
        while True:
            try:
                return future.result(timeout=POLL)
            except TimeoutError:
                if gone is not None and gone():
                    self._cancel()
                    gone = None  # cancelled once; the batch ends these rows at its next step

    def _deltas(self, future: Future[list[Decoded]] | None) -> Iterator[tuple[int, str, list[TokenLogprob]]]:
        """The rows' text as it is decoded, until the batch ends (then the rest of the queue)."""
        while future is not None:
            try:
                yield self.events.get(timeout=POLL)
            except queue.Empty:
                if future.done():
                    break
        while not self.events.empty():
            yield self.events.get_nowait()


class Completions(_Reply):
    req: CompletionRequest

    def reply(self) -> Reply:
        req = self.req
        self.prompts = req.prompts()
        generate = req.max_tokens != 0
        self.rows = self._rows(self.prompts, req.logprobs) if generate else []
        self.echo = [self._echo(p) for p in self.prompts] if req.echo else None
        future = self._submit()
        if req.stream:
            return Stream(self._stream(future), self._cancel)
        results = self._wait(future) if future is not None else []
        choices = []
        for i in range(len(self.prompts) * (self.n if generate else 1)):
            p = i // self.n if generate else i
            result = results[i] if generate else None
            choices.append(self._choice(i, p, result))
        body = {**envelope("text_completion", self.server.model_name), "choices": choices}
        rows = results or [Decoded("", "length", len(e[1]), 0) for e in self.echo or []]
        note = self._note(req.logprobs is not None)
        return {**body, "usage": usage(rows, self.n if generate else 1), **note}

    def _echo(self, prompt: ServedPrompt) -> tuple[str, list[TokenLogprob]]:
        engine = self.server.engine
        text = engine.detokenize(prompt) if not isinstance(prompt, str) else prompt  # type: ignore[arg-type]
        entries = engine.prompt_logprobs(prompt, self.req.logprobs) if self.req.logprobs is not None else []
        return text, entries

    def _choice(self, index: int, prompt: int, result: Decoded | None) -> dict[str, Any]:
        text, entries = "", []
        if self.echo is not None:
            text, entries = self.echo[prompt][0], list(self.echo[prompt][1])
        if result is not None:
            text += result.text
            entries += result.logprobs
        logprobs = completion_logprobs(entries, self.req.logprobs) if self.req.logprobs is not None else None
        finish = result.finish_reason if result is not None else "length"
        return {"index": index, "text": text, "logprobs": logprobs, "finish_reason": finish}

    def _stream(self, future: Future[list[Decoded]] | None) -> Iterator[dict[str, Any]]:
        head = envelope("text_completion", self.server.model_name)
        k = self.req.logprobs
        if self.echo is not None:
            for i in range(len(self.rows)):
                text, entries = self.echo[i // self.n]
                yield self._chunk(head, i, text, completion_logprobs(entries, k) if k is not None else None)
        for i, delta, tokens in self._deltas(future):
            yield self._chunk(head, i, delta, completion_logprobs(tokens, k) if k is not None else None)
        results = future.result() if future is not None else []
        for i, result in enumerate(results):
            yield {**head, "choices": [{"index": i, "text": "", "logprobs": None,
                                        "finish_reason": result.finish_reason}]}
        if self.req.include_usage:
            yield {**head, "choices": [], "usage": usage(results, self.n)}

    @staticmethod
    def _chunk(head: dict[str, Any], index: int, text: str, logprobs: Any) -> dict[str, Any]:
        choice = {"index": index, "text": text, "logprobs": logprobs, "finish_reason": None}
        return {**head, "choices": [choice]}


class Chat(_Reply):
    req: ChatRequest

    def reply(self) -> Reply:
        req = self.req
        k = (req.top_logprobs or 0) if req.logprobs else None
        self.rows = self._rows([req.prompt()], k)
        future = self._submit()
        if req.stream:
            return Stream(self._stream(future), self._cancel)
        assert future is not None
        results = self._wait(future)
        choices = []
        for j, result in enumerate(results):
            choices.append({
                "index": j,
                "message": {"role": "assistant", "content": result.text},
                "logprobs": chat_logprobs(result.logprobs, k) if k is not None else None,
                "finish_reason": result.finish_reason,
            })
        body = envelope("chat.completion", self.server.model_name)
        return {**body, "choices": choices, "usage": usage(results, self.n), **self._note(req.logprobs)}

    def _stream(self, future: Future[list[Decoded]] | None) -> Iterator[dict[str, Any]]:
        head = envelope("chat.completion.chunk", self.server.model_name)
        k = (self.req.top_logprobs or 0) if self.req.logprobs else None
        for j in range(len(self.rows)):
            yield self._chunk(head, j, {"role": "assistant", "content": ""}, None)
        for j, delta, tokens in self._deltas(future):
            logprobs = chat_logprobs(tokens, k) if k is not None else None
            yield self._chunk(head, j, {"content": delta}, logprobs)
        assert future is not None
        results = future.result()
        for j, result in enumerate(results):
            yield self._chunk(head, j, {}, None, result.finish_reason)
        if self.req.include_usage:
            yield {**head, "choices": [], "usage": usage(results, self.n)}

    @staticmethod
    def _chunk(
        head: dict[str, Any], index: int, delta: dict[str, Any], logprobs: Any, finish: str | None = None
    ) -> dict[str, Any]:
        choice = {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
        return {**head, "choices": [choice]}
