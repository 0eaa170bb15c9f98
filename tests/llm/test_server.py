"""`verbalrl serve`'s HTTP server: OpenAI shapes, validation, errors, locking, clean stop.

Runs the server in-process on a free loopback port in front of `FakeLLM`,
and talks to it both with raw HTTP (status codes, exact JSON) and with the
`openai` client (that its parser accepts our shapes).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence

import httpx
import openai
import pytest

from verbalrl.errors import ContextLengthError, VerbalRLError
from verbalrl.llm.base import Completion, GenerationConfig, Prompt
from verbalrl.llm.fake import FakeLLM, prompt_text
from verbalrl.llm.server import ModelServer, make_server, serve_in_thread

PROBS = {"Yes": 0.5, "Y": 0.2, " Yes": 0.1, "No": 0.05}
CHAT = [{"role": "user", "content": "Is it?"}]


def _reply(prompt: Prompt) -> str:
    text = prompt_text(prompt)
    if "too long" in text:
        raise ContextLengthError("prompt of 9000 tokens does not fit the context of 2048")
    if "crash" in text:
        raise RuntimeError("boom")
    return f"Yes, {text} indeed"


@pytest.fixture
def fake() -> FakeLLM:
    return FakeLLM(_reply, probs=PROBS, name="fake")


@pytest.fixture
def server(fake: FakeLLM) -> Iterator[ModelServer]:
    with serve_in_thread(fake, model_name="tiny") as srv:
        yield srv


@pytest.fixture
def http(server: ModelServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url.removesuffix("/v1"), timeout=10) as client:
        yield client


def test_health_and_models(http: httpx.Client) -> None:
    assert http.get("/health").json() == {"status": "ok", "model": "tiny"}
    models = http.get("/v1/models").json()
    assert models["object"] == "list"
    assert [m["id"] for m in models["data"]] == ["tiny"]


def test_chat_completion_shape_and_usage(http: httpx.Client, fake: FakeLLM) -> None:
    body = {
        "model": "tiny",
        "messages": CHAT,
        "n": 2,
        "max_tokens": 50,
        "temperature": 0.3,
        "top_p": 0.9,
        "stop": ["\n"],
        "seed": 7,
    }
    r = http.post("/v1/chat/completions", json=body)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["object"] == "chat.completion" and data["id"].startswith("chatcmpl-")
    assert data["model"] == "tiny"
    assert [c["index"] for c in data["choices"]] == [0, 1]
    for choice in data["choices"]:
        assert choice["message"] == {"role": "assistant", "content": "Yes, Is it? indeed"}
        assert choice["finish_reason"] == "stop" and choice["logprobs"] is None
    # FakeLLM counts words: 2 prompt words once, 4 completion words per choice.
    assert data["usage"] == {"prompt_tokens": 2, "completion_tokens": 8, "total_tokens": 10}
    config = fake.calls[-1].config
    assert config == GenerationConfig(
        n=2, temperature=0.3, top_p=0.9, max_new_tokens=50, stop=("\n",), seed=7
    )
    assert fake.calls[-1].prompts == [CHAT]


def test_completions_orders_choices_prompt_major(http: httpx.Client, fake: FakeLLM) -> None:
    r = http.post("/v1/completions", json={"model": "tiny", "prompt": ["a b", "c"], "n": 2})
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["object"] == "text_completion" and data["id"].startswith("cmpl-")
    texts = [(c["index"], c["text"]) for c in data["choices"]]
    assert texts == [
        (0, "Yes, a b indeed"),
        (1, "Yes, a b indeed"),
        (2, "Yes, c indeed"),
        (3, "Yes, c indeed"),
    ]
    assert data["usage"]["prompt_tokens"] == 3  # 2 + 1 words, once per prompt
    # OpenAI's default max_tokens for completions is 16.
    assert fake.calls[-1].config is not None and fake.calls[-1].config.max_new_tokens == 16


def test_chat_logprobs_cover_first_token_and_parse_in_openai_client(server: ModelServer) -> None:
    client = openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0)
    r = client.chat.completions.create(
        model="tiny",
        messages=CHAT,  # type: ignore[arg-type]
        logprobs=True,
        top_logprobs=3,
        max_tokens=5,
    )
    assert r.choices[0].logprobs is not None and r.choices[0].logprobs.content is not None
    content = r.choices[0].logprobs.content
    assert len(content) == 1  # only the first generated position
    # "Yes, ..." starts with both "Y" and "Yes": the longest match is the token.
    assert content[0].token == "Yes"
    assert content[0].logprob == pytest.approx(math.log(0.5))
    assert content[0].bytes == list(b"Yes")
    tops = [(t.token, t.logprob) for t in content[0].top_logprobs]
    assert tops == [(t, pytest.approx(math.log(p))) for t, p in list(PROBS.items())[:3]]
    assert r.model_extra == {"logprobs_scope": "first generated token only"}


def test_completion_logprobs_shape_parses_in_openai_client(server: ModelServer) -> None:
    client = openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0)
    r = client.completions.create(model="tiny", prompt="x", logprobs=2, max_tokens=5)
    lp = r.choices[0].logprobs
    assert lp is not None and lp.top_logprobs is not None
    assert lp.tokens == ["Yes"] and lp.text_offset == [0]
    assert lp.token_logprobs == [pytest.approx(math.log(0.5))]
    assert lp.top_logprobs[0] == {
        "Yes": pytest.approx(math.log(0.5)),
        "Y": pytest.approx(math.log(0.2)),
    }


def test_sampled_token_outside_top_k_is_reported_as_unlikely(http: httpx.Client) -> None:
    body = {"messages": [{"role": "user", "content": "x"}], "logprobs": True, "top_logprobs": 1}
    with serve_in_thread(FakeLLM(["Maybe"], probs=PROBS)) as srv:
        r = httpx.post(srv.url + "/chat/completions", json=body, timeout=10)
    entry = r.json()["choices"][0]["logprobs"]["content"][0]
    assert (entry["token"], entry["logprob"]) == ("", -9999.0)
    assert [t["token"] for t in entry["top_logprobs"]] == ["Yes"]


@pytest.mark.parametrize(
    ("route", "body", "param"),
    [
        ("/v1/chat/completions", {"model": "tiny"}, "messages"),
        ("/v1/chat/completions", {"messages": []}, "messages"),
        ("/v1/chat/completions", {"messages": CHAT, "n": 0}, "n"),
        ("/v1/chat/completions", {"messages": CHAT, "temperature": 3}, "temperature"),
        ("/v1/chat/completions", {"messages": CHAT, "stream_options": {"include_usage": True}}, None),
        ("/v1/chat/completions", {"messages": CHAT, "top_logprobs": 2}, None),
        ("/v1/chat/completions", {"messages": [{"role": "robot", "content": "x"}]}, "messages"),
        ("/v1/completions", {"prompt": ""}, "prompt"),
        ("/v1/completions", {"prompt": "x", "max_tokens": 0}, None),  # only with echo
        ("/v1/completions", {"prompt": "x", "max_tokens": -1}, "max_tokens"),
        ("/v1/completions", {"prompt": "x", "logprobs": 21}, "logprobs"),
    ],
)
def test_bad_requests_answer_400_with_openai_error(
    http: httpx.Client, route: str, body: dict[str, object], param: str | None
) -> None:
    r = http.post(route, json=body)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["message"]
    if param is not None:
        assert error["param"].split(".")[0] == param


def test_malformed_json_and_routes(http: httpx.Client) -> None:
    r = http.post(
        "/v1/chat/completions", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"
    assert http.get("/v1/nothing").status_code == 404
    assert http.get("/v1/chat/completions").status_code == 405
    r = http.post("/v1/chat/completions", json={"model": "other", "messages": CHAT})
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"


def test_context_length_error_is_400(http: httpx.Client) -> None:
    r = http.post("/v1/completions", json={"prompt": "this is too long"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "context_length_exceeded"
    assert r.json()["error"]["param"] == "prompt"
    assert "does not fit" in r.json()["error"]["message"]


def test_unexpected_error_is_500_and_server_survives(http: httpx.Client) -> None:
    r = http.post("/v1/completions", json={"prompt": "crash now"})
    assert r.status_code == 500
    assert r.json()["error"]["type"] == "server_error" and "boom" in r.json()["error"]["message"]
    assert r.headers["x-should-retry"] == "false"  # a model bug will not go away on retry
    assert http.post("/v1/completions", json={"prompt": "fine"}).status_code == 200


def test_error_with_unread_body_keeps_connection_usable(http: httpx.Client) -> None:
    # Same keep-alive connection: a 404 must consume its body or the next request breaks.
    assert http.post("/v1/unknown", json={"prompt": "x" * 5000}).status_code == 404
    assert http.post("/v1/completions", json={"prompt": "ok"}).status_code == 200


def test_logprobs_from_model_without_them_is_400() -> None:
    class NoLogprobs:
        name = "plain"

        def generate(
            self, prompts: Sequence[Prompt], config: GenerationConfig | None = None
        ) -> list[list[Completion]]:
            raise AssertionError("must refuse before sampling")

    for llm in (NoLogprobs(), FakeLLM(["x"])):  # no method / method that cannot answer
        with serve_in_thread(llm) as srv:  # type: ignore[arg-type]
            r = httpx.post(
                srv.url + "/chat/completions", timeout=10, json={"messages": CHAT, "logprobs": True}
            )
        assert r.status_code == 400
        assert "does not provide logprobs" in r.json()["error"]["message"]


def test_model_calls_are_serialised() -> None:
    active = 0
    peak = 0
    guard = threading.Lock()

    def slow(prompt: Prompt) -> str:
        nonlocal active, peak
        with guard:
            active += 1
            peak = max(peak, active)
        time.sleep(0.05)
        with guard:
            active -= 1
        return prompt_text(prompt)

    with serve_in_thread(FakeLLM(slow)) as srv:
        results: list[httpx.Response] = []

        def call(i: int) -> None:
            results.append(
                httpx.post(srv.url + "/completions", json={"prompt": f"p{i}"}, timeout=10)
            )

        threads = [threading.Thread(target=call, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(r.json()["choices"][0]["text"] for r in results) == [f"p{i}" for i in range(6)]
    assert peak == 1


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_stops_cleanly_on_signal(sig: signal.Signals) -> None:
    # A shell starts background jobs with SIGINT ignored, and children inherit that: restore Python's
    # handler first, so the test checks the server and not how pytest was launched (`cmd &`).
    code = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler);"
        "from verbalrl.llm.fake import FakeLLM; from verbalrl.llm.server import serve;"
        "serve(FakeLLM(['hi']), '127.0.0.1', int(sys.argv[1]), model_name='f')"
    )
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(port)],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        _wait_health(f"http://127.0.0.1:{port}", proc, 30)
        proc.send_signal(sig)
        # generous: a loaded 2-core machine once needed more than 10 s here (session 4 note)
        _, err = proc.communicate(timeout=45)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "stopped" in err
    assert "Traceback" not in err


def test_port_in_use_is_a_clear_error(server: ModelServer) -> None:
    host, port = server.server_address[:2]
    with pytest.raises(VerbalRLError, match=f"cannot listen on 127.0.0.1:{port}"):
        make_server(FakeLLM(), "127.0.0.1", int(port))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_health(base: str, proc: subprocess.Popen[str], limit: float) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert proc.poll() is None, "server exited early"
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{base} did not become healthy in {limit} s")


def test_request_json_roundtrip_is_plain_json(http: httpx.Client) -> None:
    # The raw body is standard JSON (no NaN, no Python reprs) that any client can read.
    r = http.post(
        "/v1/chat/completions", json={"messages": CHAT, "logprobs": True, "top_logprobs": 4}
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = json.loads(r.text, parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}"))
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant" and isinstance(choice["message"]["content"], str)
    assert all(len(t["top_logprobs"]) <= 4 for t in choice["logprobs"]["content"])
