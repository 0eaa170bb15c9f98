"""`verbalrl serve` in front of a real model, used through real clients: the openai SDK and LangChain.

The model is a tiny random Llama (context 512) for shapes and limits, and the
embedded SmolLM2 where text must make sense. Everything runs on loopback.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import httpx
import openai
import pytest
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from verbalrl.llm.server import ModelServer, serve_in_thread

CHAT = [{"role": "user", "content": "Say something."}]


@pytest.fixture(scope="module")
def tiny_server(tiny_llm) -> Iterator[ModelServer]:
    with serve_in_thread(tiny_llm, model_name="tiny") as srv:
        yield srv


@pytest.fixture(scope="module")
def client(tiny_server: ModelServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=tiny_server.url, api_key="unused", max_retries=0)


def test_chat_stream_joins_to_the_unstreamed_reply_with_usage_last(client: openai.OpenAI) -> None:
    args = {"model": "tiny", "messages": CHAT, "max_tokens": 12, "temperature": 0}
    whole = client.chat.completions.create(**args)  # type: ignore[call-overload]
    chunks = list(client.chat.completions.create(**args, stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["length"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 12 == whole.usage.completion_tokens  # type: ignore[union-attr]


def test_completions_stream_n_choices_prompt_major(client: openai.OpenAI) -> None:
    stream = client.completions.create(
        model="tiny", prompt=["One", "Two"], n=2, max_tokens=4, temperature=0.8, seed=1, stream=True
    )
    texts: dict[int, str] = {}
    for chunk in stream:
        for choice in chunk.choices:
            texts[choice.index] = texts.get(choice.index, "") + choice.text
    assert sorted(texts) == [0, 1, 2, 3] and all(texts.values())


def test_logprobs_cover_every_generated_token_with_the_true_logprob(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(
        model="tiny", messages=CHAT, max_tokens=8, temperature=1.0, seed=4, logprobs=True, top_logprobs=3
    )  # type: ignore[call-overload]
    content = r.choices[0].logprobs.content  # type: ignore[union-attr]
    assert len(content) == r.usage.completion_tokens == 8  # type: ignore[union-attr]
    assert "".join(t.token for t in content) == r.choices[0].message.content
    for entry in content:  # sampled at T=1: often outside the top 3, yet its logprob is real
        assert entry.logprob > -9999 and len(entry.top_logprobs) == 3
        assert entry.logprob <= entry.top_logprobs[0].logprob + 1e-6


def test_echo_gives_prompt_logprobs_for_token_id_prompts(client: openai.OpenAI, tiny_llm) -> None:
    ids = tiny_llm.encode("The cat sat on the mat")
    r = client.completions.create(
        model="tiny", prompt=[ids], max_tokens=1, temperature=0, logprobs=1, echo=True
    )
    lp = r.choices[0].logprobs
    assert lp is not None and lp.token_logprobs is not None and lp.top_logprobs is not None
    assert len(lp.token_logprobs) == len(ids) + 1 and lp.token_logprobs[0] is None
    assert r.choices[0].text.startswith("The cat sat on the mat")
    expected = [e.logprob for e in tiny_llm.prompt_logprobs(ids, 1)[1:]]
    assert lp.token_logprobs[1 : len(ids)] == pytest.approx(expected, abs=1e-4)
    # max_tokens=0 with echo: the prompt's logprobs only
    r0 = client.completions.create(model="tiny", prompt="The cat", max_tokens=0, logprobs=0, echo=True)
    assert r0.choices[0].text == "The cat" and r0.usage.completion_tokens == 0  # type: ignore[union-attr]


def test_tokenize_detokenize_and_model_by_id(tiny_server: ModelServer, tiny_llm) -> None:
    base = tiny_server.url.removesuffix("/v1")
    tokens = httpx.post(base + "/tokenize", json={"prompt": "hello world"}).json()
    assert tokens["tokens"] == tiny_llm.encode("hello world") and tokens["max_model_len"] == 512
    chat = httpx.post(base + "/tokenize", json={"messages": CHAT}).json()
    assert chat["tokens"] == tiny_llm.encode(CHAT)
    text = httpx.post(base + "/detokenize", json={"tokens": tokens["tokens"]}).json()
    assert text == {"prompt": "hello world"}
    info = httpx.get(base + "/tokenizer_info").json()
    assert info["eos_token"] == tiny_llm.tokenizer.eos_token and info["chat_template"]
    card = httpx.get(tiny_server.url + "/models/tiny").json()
    assert card["id"] == "tiny" and card["max_model_len"] == 512
    missing = httpx.get(tiny_server.url + "/models/other")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"


def test_a_prompt_near_the_context_limit_is_refused_not_clamped(client: openai.OpenAI) -> None:
    long = [{"role": "user", "content": "word " * 480}]
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="tiny", messages=long, max_tokens=100)  # type: ignore[arg-type]
    message = err.value.body["message"]  # type: ignore[index]
    assert "maximum context length is 512 tokens" in message and "100 in the completion" in message
    # without max_tokens the default shrinks to what fits, as vLLM does
    ok = client.chat.completions.create(model="tiny", messages=long, temperature=0)  # type: ignore[arg-type]
    assert ok.usage.prompt_tokens + ok.usage.completion_tokens <= 512  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("extra", "param", "words"),
    [
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}, "tools", "tools"),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}}, "response_format",
         "constrained decoding"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
         "messages.0", "image_url"),
        ({"messages": [*CHAT, {"role": "assistant", "content": None, "tool_calls": [{"id": "c1"}]},
                       {"role": "tool", "tool_call_id": "c1", "content": "4"}]}, "messages.1", "tool calls"),
        ({"logit_bias": {"12": 5}}, "logit_bias", "logit_bias"),
    ],
)
def test_what_the_server_does_not_do_is_refused_by_name(
    tiny_server: ModelServer, extra: dict, param: str, words: str
) -> None:
    r = httpx.post(tiny_server.url + "/chat/completions", json={"messages": CHAT, **extra}, timeout=30)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["param"] == param and words in error["message"]


@pytest.fixture
def finished(tiny_server: ModelServer, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """(finish reason, tokens) of every row the server decodes during the test."""
    batcher = tiny_server.engine.batcher  # type: ignore[union-attr]
    rows: list[tuple[str, int]] = []
    decode = batcher._decode

    def recording(requests):  # type: ignore[no-untyped-def]
        out = decode(requests)
        rows.extend((d.finish_reason, d.completion_tokens) for d in out)
        return out

    monkeypatch.setattr(batcher, "_decode", recording)
    return rows


def test_a_client_that_leaves_mid_stream_frees_its_rows(
    tiny_server: ModelServer, finished: list[tuple[str, int]]
) -> None:
    body = {"messages": CHAT, "max_tokens": 400, "temperature": 0, "stream": True}
    with httpx.stream("POST", tiny_server.url + "/chat/completions", json=body, timeout=30) as r:
        for line in r.iter_lines():
            if line.startswith("data: {") and json.loads(line[6:])["choices"][0]["delta"].get("content"):
                break  # leave after the first token
    # the server notices at its next write and cancels the row: far fewer than 400 tokens decoded
    body = {"messages": CHAT, "max_tokens": 2}
    r2 = httpx.post(tiny_server.url + "/chat/completions", json=body, timeout=30)
    assert r2.status_code == 200
    reason, tokens = finished[0]
    assert reason == "cancelled" and tokens < 400


def test_concurrent_clients_are_decoded_in_shared_batches(
    tiny_server: ModelServer, client: openai.OpenAI
) -> None:
    before = tiny_server.engine.batcher.batches  # type: ignore[union-attr]
    replies: list[str] = []

    def call(i: int) -> None:
        r = client.completions.create(model="tiny", prompt=f"Client {i}", max_tokens=16, temperature=0)
        replies.append(r.choices[0].text)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(replies) == 8
    assert tiny_server.engine.batcher.batches - before < 8  # type: ignore[union-attr]


def test_langchain_chat_openai_invokes_streams_and_fails_clearly_on_structured_output(smollm) -> None:
    with serve_in_thread(smollm, model_name="smol") as srv:
        chat = ChatOpenAI(model="smol", base_url=srv.url, api_key="unused", temperature=0, max_tokens=12,
                          max_retries=0)
        reply = chat.invoke("What is 2 + 2?")
        assert reply.content and reply.usage_metadata["output_tokens"] > 0  # type: ignore[index]
        streamed = "".join(str(c.content) for c in chat.stream("What is 2 + 2?"))
        assert streamed == reply.content

        class Answer(BaseModel):
            value: int

        with pytest.raises(openai.BadRequestError, match="response_format|tools"):
            chat.with_structured_output(Answer).invoke("What is 2 + 2?")


def test_token_ids_outside_the_vocabulary_and_oversized_requests_are_400(tiny_server: ModelServer) -> None:
    base = tiny_server.url.removesuffix("/v1")
    bad = httpx.post(base + "/detokenize", json={"tokens": [1, -5]})
    assert bad.status_code == 400 and "token id -5 is not in the model's" in bad.json()["error"]["message"]
    bad = httpx.post(tiny_server.url + "/completions", json={"prompt": [10**9], "max_tokens": 1})
    assert bad.status_code == 400
    huge = httpx.post(tiny_server.url + "/completions", json={"prompt": ["a"] * 3, "n": 128, "max_tokens": 1})
    assert huge.status_code == 400 and "send fewer prompts or samples" in huge.json()["error"]["message"]


def test_a_client_that_hangs_up_before_its_answer_frees_its_rows(
    tiny_server: ModelServer, finished: list[tuple[str, int]]
) -> None:
    import socket
    import time

    host, port = tiny_server.server_address[:2]
    body = json.dumps({"prompt": "Once upon a time", "max_tokens": 480, "temperature": 0}).encode()
    with socket.create_connection((str(host), int(port))) as sock:
        sock.sendall(
            b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
        )
        time.sleep(0.3)  # generation under way; then hang up without reading
    deadline = time.monotonic() + 30
    while not finished and time.monotonic() < deadline:
        time.sleep(0.05)
    reason, tokens = finished[0]
    assert reason == "cancelled" and tokens < 480
    # the server is fine afterwards
    ok = httpx.post(tiny_server.url + "/completions", json={"prompt": "hi", "max_tokens": 2}, timeout=30)
    assert ok.status_code == 200
