"""`OpenAILLM`: the `LLM` protocol over any OpenAI-compatible HTTP server.

Works with `verbalrl serve`, `vllm serve`, the llama.cpp server, Ollama and
OpenAI itself. In scope: string prompts through `/v1/completions`, chat
messages through `/v1/chat/completions`, `n` samples per prompt, next-token
probabilities from the server's `top_logprobs`, timeouts and bounded retries
(the `openai` client's own), and errors that say which server failed and why.
Left out: streaming, tools, images, and any client-side tokenizer (token
counts come from the server's `usage`).

Per-choice token counts: with `n > 1` servers report one aggregate
`usage.completion_tokens`. Choices that ended by `length` used exactly
`max_tokens`; the rest of the total is split among the other choices in
proportion to their text length (largest-remainder rounding, so the counts
add up to the server's total). `prompt_tokens` is the server's count for
that prompt, repeated on each of its choices. A server that sends no `usage`
gives 0 for both.

Servers that ignore `n` (Ollama, some llama.cpp builds) return fewer choices;
the missing ones are requested again (with `seed + k` when a seed is set, so
the extra samples differ from the first).
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Literal

from ..errors import (
    BackendError,
    CapabilityError,
    ContextLengthError,
    ModelNotFoundError,
    ServiceUnavailableError,
)
from .base import (
    Capabilities,
    Completion,
    FinishReason,
    GenerationConfig,
    Message,
    Prompt,
    candidate_probs,
    truncate_at_stop,
    validate_candidates,
    validate_prompts,
)

if TYPE_CHECKING:
    import openai

log = logging.getLogger(__name__)

Mode = Literal["chat", "completions", "auto"]
Endpoint = Literal["chat", "completions"]


def _import_openai() -> Any:
    try:
        import openai
    except ImportError as err:  # pragma: no cover - the dev environment has it
        raise ImportError(
            "OpenAILLM needs the `openai` package: pip install 'verbalrl[openai]'"
        ) from err
    return openai


class OpenAILLM:
    """A model served behind an OpenAI-compatible API.

    `mode="auto"` sends string prompts to `/v1/completions` and message lists
    to `/v1/chat/completions`; `"chat"` accepts only message lists (OpenAI's
    chat models have no completions endpoint) and `"completions"` only
    strings. `max_retries` retries connection errors, timeouts, 408/409/429
    and 5xx answers with exponential backoff (0.5 s, 1 s, 2 s, ...), so an
    unreachable server fails after `max_retries + 1` attempts. Prompts of a
    batch go out concurrently, at most `max_concurrency` at a time.
    `top_logprobs` is how many alternatives `next_token_probs` asks for
    (20 is the most OpenAI's chat API and vLLM's default allow).
    `retry_wait`: when the server stays unreachable or overloaded (429, 502,
    503, 504) after those retries, keep trying for up to this many seconds
    (backoff 1, 2, 4, 5, 5, ... s) before `ServiceUnavailableError`: a model
    server restarted mid-run costs a pause, not the run. `load_llm("openai:...")`
    takes it from `$VERBALRL_RETRY_WAIT` (`verbalrl run --retry-wait`).
    """

    def __init__(
        self,
        model: str,
        base_url: str,
        api_key: str | None = None,
        timeout: float = 60,
        max_retries: int = 2,
        mode: Mode = "auto",
        *,
        max_concurrency: int = 8,
        top_logprobs: int = 20,
        retry_wait: float = 0.0,
    ) -> None:
        if mode not in ("chat", "completions", "auto"):
            raise ValueError(f"mode must be 'chat', 'completions' or 'auto', got {mode!r}")
        if timeout <= 0 or max_retries < 0 or max_concurrency < 1 or not 1 <= top_logprobs <= 20:
            raise ValueError(
                "need timeout > 0, max_retries >= 0, max_concurrency >= 1, 1 <= top_logprobs <= 20"
            )
        if retry_wait < 0:
            raise ValueError("retry_wait must be >= 0 seconds")
        self.retry_wait = float(retry_wait)
        sdk = _import_openai()
        self.name = model
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.mode: Mode = mode
        self.max_retries = max_retries
        self.max_concurrency = max_concurrency
        self.top_logprobs = top_logprobs
        self.capabilities = Capabilities(
            chat=mode != "completions",
            raw_prompts=mode != "chat",
            # Not knowable before asking: a server without logprobs raises CapabilityError.
            next_token_probs=True,
            seed=True,
        )
        # Local servers accept any key, but the client refuses to start without one.
        key = api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"
        self._client: openai.OpenAI = sdk.OpenAI(
            base_url=self.base_url, api_key=key, timeout=timeout, max_retries=max_retries
        )

    def __repr__(self) -> str:
        return f"OpenAILLM(model={self.model!r}, base_url={self.base_url!r}, mode={self.mode!r})"

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def __enter__(self) -> OpenAILLM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the LLM protocol -------------------------------------------------

    def generate(
        self, prompts: Sequence[Prompt], config: GenerationConfig | None = None
    ) -> list[list[Completion]]:
        config = config or GenerationConfig()
        items = validate_prompts(prompts)
        for prompt in items:
            self._endpoint(prompt)  # fail before sending anything
        return self._map(lambda p: self._generate_one(p, config), items)

    def next_token_probs(
        self, prompts: Sequence[Prompt], candidates: Sequence[str]
    ) -> list[dict[str, float]]:
        items = validate_prompts(prompts)
        cands = validate_candidates(candidates)
        for prompt in items:
            self._endpoint(prompt)
        tops = self._map(self._top_one, items)
        return [candidate_probs(top, cands) for top in tops]

    # ---- one prompt -------------------------------------------------------

    def _generate_one(self, prompt: Prompt, config: GenerationConfig) -> list[Completion]:
        out: list[Completion] = []
        # Bounded: each round adds at least one choice or raises.
        for round_ in range(config.n):
            want = config.n - len(out)
            seed = None if config.seed is None else config.seed + round_
            params: dict[str, Any] = {
                "n": want,
                "temperature": config.temperature,
                "top_p": config.top_p,
                "max_tokens": config.max_new_tokens,
            }
            if config.stop:
                params["stop"] = list(config.stop)
            if seed is not None:
                params["seed"] = seed
            endpoint, response = self._create(prompt, params)
            choices = sorted(response.choices, key=lambda c: c.index)[:want]
            if not choices:
                raise BackendError(f"{self._url(endpoint)} returned no choices")
            out.extend(_completions(endpoint, response, choices, config))
            if len(out) >= config.n:
                break
        return out

    def _top_one(self, prompt: Prompt) -> list[tuple[str, float]]:
        """The next-token (token, logprob) pairs the server reports for `prompt`."""
        params: dict[str, Any] = {"max_tokens": 1, "temperature": 0.0, "n": 1}
        if isinstance(prompt, str):  # /v1/completions: logprobs is the top-k count
            params["logprobs"] = self.top_logprobs
        else:
            params["logprobs"] = True
            params["top_logprobs"] = self.top_logprobs
        endpoint, response = self._create(prompt, params)
        pairs = _first_position_logprobs(endpoint, response)
        if not pairs:
            raise CapabilityError(
                f"{self._url(endpoint)} (model {self.model!r}) returned no top_logprobs, so "
                "next-token probabilities are unavailable from this server; use a server that "
                "supports logprobs (verbalrl serve, vllm serve, OpenAI chat) or a local backend"
            )
        return pairs

    # ---- transport --------------------------------------------------------

    def _endpoint(self, prompt: Prompt) -> Endpoint:
        if isinstance(prompt, str):
            if self.mode == "chat":
                raise CapabilityError(
                    "OpenAILLM(mode='chat') takes chat messages, not raw strings; wrap the "
                    "prompt as [{'role': 'user', 'content': ...}] or use mode='auto'"
                )
            return "completions"
        if self.mode == "completions":
            raise CapabilityError(
                "OpenAILLM(mode='completions') takes raw string prompts, not chat messages; "
                "use mode='auto' or 'chat' to send messages to /v1/chat/completions"
            )
        return "chat"

    def _url(self, endpoint: Endpoint) -> str:
        return f"{self.base_url}/{'chat/completions' if endpoint == 'chat' else 'completions'}"

    def _create(self, prompt: Prompt, params: dict[str, Any]) -> tuple[Endpoint, Any]:
        """One request; an unreachable or overloaded server is retried for up to `retry_wait` s."""
        waited, delay, rounds = 0.0, 1.0, 0
        while True:
            try:
                return self._create_once(prompt, params)
            except ServiceUnavailableError as err:
                rounds += 1
                if waited + delay > self.retry_wait:
                    if self.retry_wait <= 0:
                        raise
                    raise ServiceUnavailableError(
                        f"{err}; still no answer after waiting {waited:.0f} s ({rounds} rounds of "
                        "attempts): start the server again, then resume the run (`verbalrl run "
                        "--resume RUN_ID`); nothing finished is lost"
                    ) from err
                log.warning("model server unavailable (%s); retrying in %.0f s", err, delay)
                time.sleep(delay)
                waited += delay
                delay = min(2 * delay, 5.0)

    def _create_once(self, prompt: Prompt, params: dict[str, Any]) -> tuple[Endpoint, Any]:
        sdk = _import_openai()
        endpoint = self._endpoint(prompt)
        response: Any
        try:
            if isinstance(prompt, str):
                response = self._client.completions.create(
                    model=self.model, prompt=prompt, **params
                )
            else:
                messages: list[Message] = prompt
                response = self._client.chat.completions.create(
                    model=self.model,
                    messages=messages,  # type: ignore[arg-type]
                    **params,
                )
        except sdk.APIConnectionError as err:
            # APITimeoutError is a subclass: both mean no answer came back.
            what = "timed out" if isinstance(err, sdk.APITimeoutError) else "unreachable"
            raise ServiceUnavailableError(
                f"{self._url(endpoint)} {what} after {self.max_retries + 1} attempts "
                f"({err.__cause__ or err}); is the server running at {self.base_url}?"
            ) from err
        except sdk.APIStatusError as err:
            raise self._status_error(endpoint, err) from err
        return endpoint, response

    def _status_error(self, endpoint: Endpoint, err: openai.APIStatusError) -> Exception:
        message = _error_message(err)
        code = _error_code(err)
        where = f"{self._url(endpoint)} answered {err.status_code}: {message}"
        low = message.lower()
        if code == "context_length_exceeded" or "context length" in low:
            return ContextLengthError(where)
        if err.status_code == 404:
            if code == "model_not_found" or self.model in message:
                return ModelNotFoundError(f"{where} (the server does not serve {self.model!r})")
            return CapabilityError(
                f"{where}; the server may lack this endpoint (mode={self.mode!r})"
            )
        if err.status_code == 400 and "logprob" in low:
            return CapabilityError(f"{where}; this server does not provide logprobs")
        if err.status_code in (401, 403):
            return BackendError(f"{where}; check api_key")
        if err.status_code >= 500 or err.status_code in (408, 409, 429):
            # The client retries these unless the server said not to (verbalrl serve's 500s).
            retried = err.response.headers.get("x-should-retry") != "false"
            attempts = self.max_retries + 1 if retried else 1
            message = f"{where} (after {attempts} attempt{'s' * (attempts > 1)})"
            if err.status_code in (429, 502, 503, 504):  # overloaded or restarting: worth waiting for
                return ServiceUnavailableError(message)
            return BackendError(message)
        return BackendError(where)

    def _map(self, fn: Any, items: list[Prompt]) -> list[Any]:
        if len(items) == 1:
            return [fn(items[0])]
        workers = min(self.max_concurrency, len(items))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="openai-llm") as pool:
            return list(pool.map(fn, items))


# ---- response parsing (pure functions) ------------------------------------


def _completions(
    endpoint: Endpoint, response: Any, choices: list[Any], config: GenerationConfig
) -> list[Completion]:
    texts: list[str] = []
    finishes: list[FinishReason] = []
    for choice in choices:
        raw = choice.text if endpoint == "completions" else choice.message.content
        # Servers drop stop strings already; cutting again guards those that do not.
        text, stopped = truncate_at_stop(raw or "", config.stop)
        texts.append(text)
        # content_filter, tool_calls, None...: the text ended for a reason other than length.
        finishes.append("length" if choice.finish_reason == "length" and not stopped else "stop")
    usage = getattr(response, "usage", None)
    prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
    total = int(getattr(usage, "completion_tokens", 0) or 0)
    counts = split_completion_tokens(total, texts, finishes, config.max_new_tokens)
    return [
        Completion(text=t, prompt_tokens=prompt_tokens, completion_tokens=c, finish_reason=f)
        for t, c, f in zip(texts, counts, finishes, strict=True)
    ]


def split_completion_tokens(
    total: int, texts: Sequence[str], finishes: Sequence[FinishReason], max_tokens: int
) -> list[int]:
    """Split an aggregate completion-token count over choices; the parts add up to `total`.

    A choice cut by `length` used `max_tokens` (when the total allows it); the
    remainder goes to the other choices in proportion to `len(text) + 1`
    (the +1 stands for the end-of-sequence token, so empty texts get a share).
    """
    if not texts:
        return []
    counts = [0] * len(texts)
    rest = total
    for i, finish in enumerate(finishes):
        if finish == "length" and rest >= max_tokens:
            counts[i] = max_tokens
            rest -= max_tokens
    others = [i for i, f in enumerate(finishes) if f != "length" or counts[i] == 0]
    if not others:
        # Only length-cut choices: give any surplus (a server counting differently) to the first.
        counts[0] += rest
        return counts
    weights = [len(texts[i]) + 1 for i in others]
    shares = [rest * w / sum(weights) for w in weights]
    floors = [math.floor(s) for s in shares]
    leftover = rest - sum(floors)
    by_remainder = sorted(range(len(others)), key=lambda j: floors[j] - shares[j])
    for j in by_remainder[:leftover]:
        floors[j] += 1
    for i, part in zip(others, floors, strict=True):
        counts[i] += part
    return counts


def _first_position_logprobs(endpoint: Endpoint, response: Any) -> list[tuple[str, float]]:
    """(token, logprob) pairs at the first generated position: the top ones and the chosen one."""
    if not response.choices:
        return []
    logprobs = response.choices[0].logprobs
    if logprobs is None:
        return []
    pairs: list[tuple[str, float]] = []
    if endpoint == "chat":
        content = logprobs.content or []
        if not content:
            return []
        first = content[0]
        pairs = [(t.token, t.logprob) for t in first.top_logprobs or []]
        if pairs:
            pairs.append((first.token, first.logprob))
    else:
        tops = logprobs.top_logprobs or []
        if not tops or not tops[0]:
            return []
        pairs = list(tops[0].items())
        if logprobs.tokens and logprobs.token_logprobs:
            pairs.append((logprobs.tokens[0], logprobs.token_logprobs[0]))
    return [(tok, float(lp)) for tok, lp in pairs if lp is not None]


def _error_message(err: Any) -> str:
    body = err.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
        if body.get("message"):
            return str(body["message"])
    return str(err.message)


def _error_code(err: Any) -> str | None:
    body = err.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("code") is not None:
            return str(inner["code"])
    return getattr(err, "code", None)
