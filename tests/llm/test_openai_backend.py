"""`OpenAILLM` against real HTTP servers on loopback.

Fast tests: `verbalrl serve` in-process in front of `FakeLLM`, plus small stub
servers that imitate other servers' behaviour (ignoring `n`, no logprobs,
503s, chat-only) and dead ports. Slow test: `verbalrl serve` in a subprocess
with the real SmolLM2-135M-Instruct, compared with the same model in-process.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from verbalrl.errors import BackendError, CapabilityError, ContextLengthError, ModelNotFoundError
from verbalrl.llm.base import LLM, GenerationConfig, Prompt
from verbalrl.llm.fake import FakeLLM, prompt_text
from verbalrl.llm.openai_backend import OpenAILLM, split_completion_tokens
from verbalrl.llm.server import serve_in_thread

CHAT = [{"role": "user", "content": "Is two plus two four?"}]
PROBS = {"Yes": 0.6, " Yes": 0.1, "No": 0.2}
CANDS = ["Yes", " Yes", "No", " No"]


@pytest.fixture
def fake() -> FakeLLM:
    return FakeLLM(lambda p: f"echo {prompt_text(p)}", probs=PROBS, name="fake")


@pytest.fixture
def llm(fake: FakeLLM) -> Iterator[OpenAILLM]:
    with serve_in_thread(fake, model_name="tiny") as srv, OpenAILLM("tiny", srv.url) as client:
        yield client


# ---- against verbalrl serve + FakeLLM -----------------------------------------------


def test_is_an_llm(llm: OpenAILLM) -> None:
    assert isinstance(llm, LLM)
    assert llm.name == "tiny" and llm.capabilities.chat and llm.capabilities.raw_prompts


def test_generate_routes_strings_to_completions_and_messages_to_chat(
    llm: OpenAILLM, fake: FakeLLM
) -> None:
    config = GenerationConfig(
        n=3, temperature=0.4, top_p=0.8, max_new_tokens=9, stop=("!",), seed=11
    )
    out = llm.generate(["one two", CHAT], config)
    assert [len(row) for row in out] == [3, 3]
    assert {c.text for c in out[0]} == {"echo one two"}
    assert {c.text for c in out[1]} == {"echo Is two plus two four?"}
    # The server got the raw string and the messages unchanged, with every sampling parameter.
    assert fake.calls[-2].prompts in (["one two"], [CHAT])
    assert {str(c.prompts) for c in fake.calls[-2:]} == {str(["one two"]), str([CHAT])}
    for call in fake.calls[-2:]:
        assert call.config == config
    # FakeLLM counts words: 2 prompt words; 3 completion words per choice.
    assert [c.prompt_tokens for c in out[0]] == [2, 2, 2]
    assert [c.completion_tokens for c in out[0]] == [3, 3, 3]
    assert all(c.finish_reason == "stop" for row in out for c in row)


def test_generate_keeps_batch_order_under_concurrency(llm: OpenAILLM) -> None:
    prompts: list[Prompt] = [f"prompt {i}" for i in range(12)]
    out = llm.generate(prompts, GenerationConfig(max_new_tokens=5))
    assert [row[0].text for row in out] == [f"echo prompt {i}" for i in range(12)]


def test_length_finish_reason_passes_through(llm: OpenAILLM) -> None:
    out = llm.generate(["a b c d e f"], GenerationConfig(max_new_tokens=2))
    assert out[0][0].text == "echo a" and out[0][0].finish_reason == "length"
    assert out[0][0].completion_tokens == 2


def test_next_token_probs_on_both_endpoints(llm: OpenAILLM) -> None:
    probs = llm.next_token_probs(["Q: yes?", CHAT], CANDS)
    for row in probs:
        assert row == {
            "Yes": pytest.approx(0.6),
            " Yes": pytest.approx(0.1),
            "No": pytest.approx(0.2),
            " No": 0.0,
        }


def test_server_error_is_backend_error_without_retries() -> None:
    calls: list[Prompt] = []

    def crash(prompt: Prompt) -> str:
        calls.append(prompt)
        raise RuntimeError("model exploded")

    with serve_in_thread(FakeLLM(crash)) as srv, OpenAILLM("fake", srv.url) as client:
        with pytest.raises(BackendError, match=r"500.*model exploded.*after 1 attempt\)"):
            client.generate(["x"])
    assert len(calls) == 1  # x-should-retry: false, so the client did not send it again


def test_unknown_model_and_context_length(fake: FakeLLM) -> None:
    def long(prompt: Prompt) -> str:
        raise ContextLengthError("prompt of 5000 tokens exceeds the context of 2048")

    with serve_in_thread(FakeLLM(long), model_name="real") as srv:
        with pytest.raises(ModelNotFoundError, match="wrong"):
            OpenAILLM("wrong", srv.url).generate(["x"])
        with pytest.raises(ContextLengthError, match="5000 tokens"):
            OpenAILLM("real", srv.url).generate(["x"])


def test_mode_restricts_prompt_kinds_before_any_request(fake: FakeLLM) -> None:
    # A dead URL proves nothing is sent: the error is about the prompt, not the connection.
    chat_only = OpenAILLM("m", "http://127.0.0.1:9/v1", mode="chat")
    assert not chat_only.capabilities.raw_prompts
    with pytest.raises(CapabilityError, match="chat messages"):
        chat_only.generate(["raw"])
    text_only = OpenAILLM("m", "http://127.0.0.1:9/v1", mode="completions")
    assert not text_only.capabilities.chat
    with pytest.raises(CapabilityError, match="raw string"):
        text_only.next_token_probs([CHAT], ["Yes"])
    with pytest.raises(ValueError, match="mode"):
        OpenAILLM("m", "http://x/v1", mode="both")  # type: ignore[arg-type]


def test_bad_arguments_fail_before_sending(llm: OpenAILLM) -> None:
    with pytest.raises(ValueError, match="empty"):
        llm.generate([])
    with pytest.raises(ValueError, match="distinct"):
        llm.next_token_probs(["x"], ["Yes", "Yes"])


# ---- per-choice token counts ----------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "texts", "finishes", "expected"),
    [
        (30, ["aaaa", "aaaa", "aaaa"], ["stop", "stop", "stop"], [10, 10, 10]),
        (26, ["a" * 9, "a" * 19], ["stop", "stop"], [9, 17]),  # proportional to len + 1
        (25, ["long", "x"], ["length", "stop"], [16, 9]),  # length-cut choice used max_tokens
        (10, ["", ""], ["stop", "stop"], [5, 5]),
        (7, ["abc", "abc", "abc"], ["stop", "stop", "stop"], [3, 2, 2]),
        (0, ["abc"], ["stop"], [0]),
    ],
)
def test_split_completion_tokens(
    total: int, texts: list[str], finishes: list[Any], expected: list[int]
) -> None:
    counts = split_completion_tokens(total, texts, finishes, max_tokens=16)
    assert counts == expected and sum(counts) == total


# ---- stub servers imitating other servers ---------------------------------------------

Responder = Callable[[str, dict[str, Any]], tuple[int, dict[str, Any]]]


class _Stub:
    """A canned-answer HTTP server that records every request it receives."""

    def __init__(self, respond: Responder) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append((self.path, body))
                status, payload = respond(self.path, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> _Stub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _chat_answer(texts: list[str], completion_tokens: int, logprobs: Any = None) -> dict[str, Any]:
    return {
        "id": "x",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {
                "index": i,
                "message": {"role": "assistant", "content": t},
                "finish_reason": "stop",
                "logprobs": logprobs,
            }
            for i, t in enumerate(texts)
        ],
        "usage": {
            "prompt_tokens": 4,
            "completion_tokens": completion_tokens,
            "total_tokens": 4 + completion_tokens,
        },
    }


def test_server_that_ignores_n_is_asked_again_with_new_seeds() -> None:
    with _Stub(lambda path, body: (200, _chat_answer(["hi there"], 2))) as stub:
        out = OpenAILLM("m", stub.url).generate([CHAT], GenerationConfig(n=3, seed=5))
    assert [c.text for c in out[0]] == ["hi there"] * 3
    assert [c.completion_tokens for c in out[0]] == [2, 2, 2]
    assert [(body["n"], body["seed"]) for _, body in stub.requests] == [(3, 5), (2, 6), (1, 7)]


def test_server_without_logprobs_raises_capability_error() -> None:
    with _Stub(lambda path, body: (200, _chat_answer(["Yes"], 1))) as stub:
        with pytest.raises(CapabilityError, match="no top_logprobs"):
            OpenAILLM("m", stub.url).next_token_probs([CHAT], ["Yes"])
    body = stub.requests[0][1]
    assert body["logprobs"] is True and body["top_logprobs"] == 20 and body["max_tokens"] == 1
    assert body["temperature"] == 0.0


def test_server_rejecting_logprobs_raises_capability_error() -> None:
    error = {
        "error": {
            "message": "logprobs is not supported",
            "type": "invalid_request_error",
            "param": "logprobs",
            "code": None,
        }
    }
    with _Stub(lambda path, body: (400, error)) as stub:
        with pytest.raises(CapabilityError, match="does not provide logprobs"):
            OpenAILLM("m", stub.url).next_token_probs([CHAT], ["Yes"])


def test_chat_only_server_says_which_endpoint_is_missing() -> None:
    error = {"error": {"message": "Not found", "type": "invalid_request_error"}}
    with _Stub(lambda path, body: (404, error)) as stub:
        with pytest.raises(CapabilityError, match=r"/completions answered 404.*endpoint"):
            OpenAILLM("m", stub.url).generate(["raw text"])


def test_overloaded_server_is_retried_a_bounded_number_of_times() -> None:
    error = {"error": {"message": "overloaded", "type": "server_error"}}
    with _Stub(lambda path, body: (503, error)) as stub:
        with pytest.raises(BackendError, match=r"503: overloaded \(after 2 attempts\)"):
            OpenAILLM("m", stub.url, max_retries=1).generate([CHAT])
    assert len(stub.requests) == 2


# ---- unreachable and silent servers --------------------------------------------------------


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again: connecting is refused


def test_unreachable_server_fails_after_bounded_retries() -> None:
    url = f"http://127.0.0.1:{_dead_port()}/v1"
    t0 = time.monotonic()
    with pytest.raises(BackendError) as info:
        OpenAILLM("m", url, timeout=2, max_retries=2).generate(["hello"])
    elapsed = time.monotonic() - t0
    assert f"{url}/completions unreachable after 3 attempts" in str(info.value)
    assert elapsed < 5  # backoff 0.5 s + 1 s (with jitter), no hanging


def test_silent_server_times_out() -> None:
    with socket.socket() as listener:
        # Accepts connections (the kernel's backlog) but never answers.
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        t0 = time.monotonic()
        with pytest.raises(BackendError, match="timed out after 2 attempts"):
            OpenAILLM("m", url, timeout=0.3, max_retries=1).generate([CHAT])
        assert time.monotonic() - t0 < 3


# ---- the real model behind verbalrl serve, in a subprocess ------------------------------

REAL = "smollm2-135m-instruct"


@pytest.fixture(scope="module")
def real_server() -> Iterator[str]:
    port = _dead_port()
    command = ["-m", "verbalrl.cli", "serve", "--model", REAL, "--port", str(port)]
    proc = subprocess.Popen(
        [sys.executable, *command],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # a first load de-quantises the GGUF (~20 s)
        while True:
            if proc.poll() is not None:
                pytest.fail(f"verbalrl serve exited: {proc.stderr.read() if proc.stderr else ''}")
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("verbalrl serve did not become healthy in 300 s")
            time.sleep(0.2)
        yield base + "/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def real_llm(real_server: str) -> Iterator[OpenAILLM]:
    with OpenAILLM(REAL, real_server, timeout=120) as client:
        yield client


@pytest.fixture(scope="module")
def local_model() -> Any:
    from verbalrl.llm.registry import load_llm

    return load_llm(REAL)


VERDICT_CHAT = [{"role": "user", "content": "Is 2 + 2 = 4 correct? Answer Yes or No."}]
VERDICT_RAW = "Question: Is the sky blue? Answer Yes or No.\nAnswer:"


@pytest.mark.slow
# (VERDICT_RAW often ends at once with <|im_end|>: an empty text, right but useless here.)
@pytest.mark.parametrize(
    "prompt", ["The capital of France is", VERDICT_CHAT], ids=["completions", "chat"]
)
def test_real_model_generates_n_samples(real_llm: OpenAILLM, prompt: Prompt) -> None:
    out = real_llm.generate(
        [prompt], GenerationConfig(n=2, temperature=0.8, max_new_tokens=12, seed=0)
    )
    assert len(out) == 1 and len(out[0]) == 2
    for c in out[0]:
        assert c.text.strip()
        assert c.prompt_tokens >= 5  # "The capital of France is" is 5 tokens; chat adds more
        assert 1 <= c.completion_tokens <= 12
        assert c.finish_reason in ("stop", "length")


@pytest.mark.slow
def test_real_model_next_token_probs_match_in_process(
    real_llm: OpenAILLM, local_model: Any
) -> None:
    prompts: list[Prompt] = [VERDICT_CHAT, VERDICT_RAW]
    remote = real_llm.next_token_probs(prompts, CANDS)
    assert real_llm.next_token_probs(prompts, CANDS) == remote  # greedy: deterministic
    # The server decodes the two concurrent requests in one left-padded batch; padding shifts
    # bf16 results by a few percent (measured: 0.096 against 0.100), hence rel=6e-2 below.
    local = [local_model.next_token_probs([p], CANDS)[0] for p in prompts]
    for r_row, l_row in zip(remote, local, strict=True):
        assert all(0.0 <= p <= 1.0 for p in r_row.values())
        assert sum(r_row.values()) <= 1.0 + 1e-6
        assert max(r_row.values()) > 0.01  # the model does consider Yes/No here
        for cand in CANDS:
            if r_row[cand] > 0:
                assert r_row[cand] == pytest.approx(l_row[cand], abs=2e-3, rel=6e-2), cand
            else:
                # Outside the server's top 20, so below the 20th probability (at most 1/20).
                assert l_row[cand] <= 0.05, cand
    # And the server's numbers are the backend's own top_logprobs.
    top = dict(local_model.top_logprobs([VERDICT_CHAT], 20)[0])
    for cand in CANDS:
        expected = math.exp(top[cand]) if cand in top else 0.0
        assert remote[0][cand] == pytest.approx(expected, abs=2e-3, rel=6e-2)
