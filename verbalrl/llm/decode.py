"""A batched decoding loop with per-row settings: what `verbalrl serve` needs from a local model.

`TransformersLLM.generate` uses Hugging Face's `generate`, which takes one
sampling setting for the whole batch and reports nothing until it ends. A
server batching several clients' requests needs each row to keep its own
temperature, top_p, token limit, stop strings and seed (a seeded request
gives the same text whatever it is batched with), to stream its text as it
is decoded, to report the log-probability of every sampled token, and to
stop when its client goes away. `decode` is that loop: one prefill of the
left-padded batch, then one forward pass per step over the rows still
running (finished rows leave the KV cache).

In scope: `DecodeRequest` (one row) and `Decoded` (its result), `decode`,
and `prompt_logprobs` (the log-probability of each prompt token, for
`echo`). Log-probabilities are the model's own (before temperature and
top_p), as vLLM and OpenAI report them. Streamed text never includes a
stop string or a partial one, nor half of a multi-byte character.
Left out: scheduling (`batcher.py`), HTTP (`server.py`).
"""

from __future__ import annotations

import inspect
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

TopK = list[tuple[str, float]]


@dataclass(frozen=True)
class TokenLogprob:
    """One generated (or prompt) token: its text, log-probability and the top alternatives."""

    token: str
    logprob: float | None
    top: TopK = field(default_factory=list)


@dataclass
class DecodeRequest:
    """One row to decode. `logprobs`: None reports none; k >= 0 the sampled token plus the top k.

    `on_text(delta, tokens)` is called from the decoding thread as text is
    released (streaming), with the logprobs of the tokens that text came
    from (empty unless `logprobs` is set). Setting `cancelled` ends the row at
    the next step (a client that went away), with finish reason "cancelled".
    """

    ids: list[int]
    max_new_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    logprobs: int | None = None
    on_text: Callable[[str, list[TokenLogprob]], None] | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)


@dataclass
class Decoded:
    """A decoded row: its text (stop string cut), token ids, finish reason and logprobs if asked."""

    text: str
    finish_reason: Literal["stop", "length", "cancelled"]
    prompt_tokens: int
    completion_tokens: int  # the end-of-sequence token included, as `TransformersLLM` counts
    ids: list[int] = field(default_factory=list)
    logprobs: list[TokenLogprob] = field(default_factory=list)


class _Row:
    """The running state of one row: ids so far, text released, logprobs, its sampler."""

    def __init__(self, request: DecodeRequest, tokenizer: Any, eos: set[int], limit: int) -> None:
        self.req = request
        self.tokenizer = tokenizer
        self.eos = eos
        self.limit = limit
        self.ids: list[int] = []
        self.logprobs: list[TokenLogprob] = []
        self.sent = 0  # characters of text released to on_text
        self.unsent_from = 0  # index into logprobs of the first token not yet released
        self.text = ""
        self.finish: Literal["stop", "length", "cancelled"] | None = None
        self.eos_hit = False
        self.generator = torch.Generator()
        self.generator.manual_seed(
            request.seed if request.seed is not None else int(torch.randint(0, 2**62, (1,)).item())
        )

    def add(self, token: int, entry: TokenLogprob | None) -> None:
        if token in self.eos:
            self.finish, self.eos_hit = "stop", True
            if entry is not None:  # reported with empty text, so its distribution is not lost
                self.logprobs.append(TokenLogprob("", entry.logprob, entry.top))
            self.release(final=True)
            return
        self.ids.append(token)
        if entry is not None:
            self.logprobs.append(entry)
        self.text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        cut = _first_stop(self.text, self.req.stop)
        if cut is not None:
            self.text = self.text[:cut]
            self.finish = "stop"
        elif len(self.ids) >= self.limit:
            self.finish = "length"
        self.release(final=self.finish is not None)

    def release(self, final: bool) -> None:
        """Call on_text with the text that can no longer change (all of it when the row ends)."""
        safe = len(self.text) if final else _safe_length(self.text, self.req.stop)
        if safe <= self.sent and not (final and self.unsent_from < len(self.logprobs)):
            return
        delta = self.text[self.sent : max(safe, self.sent)]
        tokens = self.logprobs[self.unsent_from :]
        self.sent = max(safe, self.sent)
        self.unsent_from = len(self.logprobs)
        if self.req.on_text is not None and (delta or tokens):
            self.req.on_text(delta, tokens)

    def result(self, prompt_tokens: int) -> Decoded:
        finish = self.finish or "length"
        generated = len(self.ids) + int(self.eos_hit)
        return Decoded(self.text, finish, prompt_tokens, generated, self.ids, self.logprobs)


def _first_stop(text: str, stop: Sequence[str]) -> int | None:
    cuts = [i for s in stop if (i := text.find(s)) != -1]
    return min(cuts) if cuts else None


def _safe_length(text: str, stop: Sequence[str]) -> int:
    """How much of `text` is final: not a half character, not a prefix of a stop string at its end."""
    end = len(text)
    if text.endswith("\ufffd"):  # an incomplete UTF-8 sequence decodes to the replacement char
        end = len(text.rstrip("\ufffd"))
    for s in stop:
        for k in range(min(len(s) - 1, end), 0, -1):
            if text[:end].endswith(s[:k]):
                end -= k
                break
    return end


def cache_arg(model: Any) -> str:
    """The forward argument that takes a KV cache: `cache` (transformers 5.x) or `past_key_values`.

    Passing the old name to a new version works but warns on every load; this asks the model.
    """
    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # a PEFT wrapper
    params = inspect.signature(type(base).forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def output_cache(out: Any) -> Any:
    """The KV cache a forward pass returned, under whichever name this transformers version uses."""
    return out["cache"] if "cache" in out else out["past_key_values"]


def _sample(logits: torch.Tensor, req: DecodeRequest, generator: torch.Generator) -> int:
    if req.temperature == 0:
        return int(logits.argmax())
    probs = torch.softmax(logits / req.temperature, dim=-1)
    if req.top_p < 1.0:
        sorted_probs, order = probs.sort(descending=True)
        drop = sorted_probs.cumsum(-1) - sorted_probs > req.top_p
        sorted_probs[drop] = 0.0
        probs = torch.zeros_like(probs).scatter(0, order, sorted_probs)
    return int(torch.multinomial(probs, 1, generator=generator))


_TEXTS: weakref.WeakKeyDictionary[Any, dict[int, str]] = weakref.WeakKeyDictionary()


def token_text(tokenizer: Any, token: int) -> str:
    """The text of one token id, cached per tokenizer: top-20 logprobs of every token decode many."""
    texts = _TEXTS.setdefault(tokenizer, {})
    text = texts.get(token)
    if text is None:
        text = texts[token] = str(tokenizer.decode([token]))
    return text


def _entry(tokenizer: Any, logprobs: torch.Tensor, token: int, k: int) -> TokenLogprob:
    top: TopK = []
    if k > 0:
        values, indices = logprobs.topk(k)
        top = [(token_text(tokenizer, int(i)), float(v)) for v, i in zip(values, indices, strict=True)]
    return TokenLogprob(token_text(tokenizer, token), float(logprobs[token]), top)


@torch.inference_mode()
def decode(
    model: Any,
    tokenizer: Any,
    eos_ids: set[int],
    requests: Sequence[DecodeRequest],
    context_length: int,
) -> list[Decoded]:
    """Decode every request as one batch; results in request order.

    Each row stops at an end-of-sequence token, a stop string, its token
    limit (also capped by the context), or when cancelled.
    """
    if not requests:
        return []
    device = next(model.parameters()).device
    limits = [max(1, min(r.max_new_tokens, context_length - len(r.ids))) for r in requests]
    rows = [_Row(r, tokenizer, eos_ids, limit) for r, limit in zip(requests, limits, strict=True)]
    cache_kw = cache_arg(model)
    pad = int(tokenizer.pad_token_id)
    width = max(len(r.ids) for r in requests)
    input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(requests):  # left padding: every row's next token is at the right edge
        input_ids[i, width - len(r.ids) :] = torch.tensor(r.ids)
        mask[i, width - len(r.ids) :] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    out = model(
        input_ids=input_ids.to(device),
        attention_mask=mask.to(device),
        position_ids=positions.to(device),
        use_cache=True,
        logits_to_keep=1,
    )
    cache, logits = output_cache(out), out.logits[:, -1].float()
    active = list(range(len(rows)))  # row index of each batch line
    next_pos = positions[:, -1] + 1
    while True:
        logprobs = torch.log_softmax(logits, dim=-1)
        tokens: list[int] = []
        for line, i in enumerate(active):
            row = rows[i]
            token = _sample(logits[line], row.req, row.generator)
            k = row.req.logprobs
            row.add(token, None if k is None else _entry(tokenizer, logprobs[line], token, k))
            if row.finish is None and row.req.cancelled.is_set():
                row.finish = "cancelled"
            tokens.append(token)
        keep = [line for line, i in enumerate(active) if rows[i].finish is None]
        if not keep:
            break
        if len(keep) < len(active):
            index = torch.tensor(keep, device=device)
            cache.batch_select_indices(index)
            mask, next_pos = mask[keep], next_pos[keep]
            tokens = [tokens[line] for line in keep]
            active = [active[line] for line in keep]
        mask = torch.cat([mask, torch.ones((len(active), 1), dtype=torch.long)], dim=-1)
        out = model(
            input_ids=torch.tensor(tokens, device=device).unsqueeze(-1),
            attention_mask=mask.to(device),
            position_ids=next_pos.unsqueeze(-1).to(device),
            use_cache=True,
            **{cache_kw: cache},
        )
        cache, logits = output_cache(out), out.logits[:, -1].float()
        next_pos = next_pos + 1
    return [row.result(len(r.ids)) for row, r in zip(rows, requests, strict=True)]


@torch.inference_mode()
def prompt_logprobs(model: Any, tokenizer: Any, ids: list[int], k: int) -> list[TokenLogprob]:
    """Each prompt token's log-probability given the tokens before it (the first has none) and top k."""
    device = next(model.parameters()).device
    logits = model(input_ids=torch.tensor([ids], device=device)).logits[0].float()
    logprobs = torch.log_softmax(logits, dim=-1)
    entries = [TokenLogprob(token_text(tokenizer, ids[0]), None)]
    for pos in range(1, len(ids)):
        entries.append(_entry(tokenizer, logprobs[pos - 1], ids[pos], k))
    return entries
