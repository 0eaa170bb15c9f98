"""The serving decode loop and the batcher on a real (tiny, random) Llama: per-row settings, streaming."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from verbalrl.llm.base import GenerationConfig
from verbalrl.llm.batcher import Batcher, QueueFullError
from verbalrl.llm.decode import Decoded, DecodeRequest, _safe_length

CHATS = [
    [{"role": "user", "content": "What is 2 + 3?"}],
    [{"role": "user", "content": "Name a colour and a number, then say why."}],
    [{"role": "user", "content": "Hi"}],
]


def test_greedy_decode_equals_hf_generate_row_by_row(smollm) -> None:
    reference = smollm.generate(CHATS, GenerationConfig(temperature=0, max_new_tokens=24))
    out = smollm.decode([DecodeRequest(smollm.encode(c), 24, temperature=0) for c in CHATS])
    for ref, got in zip(reference, out, strict=True):
        assert got.text == ref[0].text
        assert got.completion_tokens == ref[0].completion_tokens
        assert got.finish_reason == ref[0].finish_reason


def test_rows_keep_their_own_token_limits_and_the_logprob_of_every_token(tiny_llm) -> None:
    ids = [tiny_llm.encode(c) for c in CHATS]
    requests = [
        DecodeRequest(ids[0], 3, temperature=0, logprobs=2),
        DecodeRequest(ids[1], 9, temperature=0.9, seed=1, logprobs=0),
        DecodeRequest(ids[2], 5, temperature=0),
    ]
    out = tiny_llm.decode(requests)
    assert [len(o.ids) for o in out] == [3, 9, 5]  # random weights: no end-of-sequence in sight
    assert all(o.finish_reason == "length" for o in out)
    assert len(out[0].logprobs) == 3 and all(len(e.top) == 2 for e in out[0].logprobs)
    assert len(out[1].logprobs) == 9 and all(e.top == [] for e in out[1].logprobs)
    assert out[2].logprobs == []
    # each reported logprob is the model's own: teacher-force prompt + completion and compare
    forced = tiny_llm.prompt_logprobs(ids[1] + out[1].ids, 0)[len(ids[1]) :]
    got = [e.logprob for e in out[1].logprobs]
    assert got == pytest.approx([e.logprob for e in forced], abs=1e-3)
    # greedy: the sampled token is the top one
    assert all(e.logprob == pytest.approx(e.top[0][1]) for e in out[0].logprobs)


def test_a_seeded_row_repeats_and_different_seeds_differ(tiny_llm) -> None:
    ids = tiny_llm.encode(CHATS[0])

    def text(seed: int) -> str:
        return tiny_llm.decode([DecodeRequest(ids, 12, temperature=1.0, seed=seed)])[0].text

    assert text(3) == text(3)
    assert len({text(s) for s in range(4)}) > 1


def test_streamed_text_joins_to_the_result_and_never_shows_a_stop_string(smollm) -> None:
    deltas: list[str] = []
    row = DecodeRequest(
        smollm.encode([{"role": "user", "content": "Count from 1 to 9, comma separated."}]),
        40, temperature=0, stop=(", 5",), on_text=lambda d, t: deltas.append(d),
    )
    (out,) = smollm.decode([row])
    assert out.finish_reason == "stop" and ", 5" not in out.text and out.text.endswith("4")
    assert "".join(deltas) == out.text and len(deltas) > 2  # it streamed, piece by piece


def test_safe_length_holds_back_partial_stops_and_characters() -> None:
    assert _safe_length("abc Ans", ("Answer",)) == 4
    assert _safe_length("abc", ("Answer",)) == 3
    assert _safe_length("caf\ufffd", ()) == 3


def test_a_cancelled_row_stops_early_and_frees_the_batch(tiny_llm) -> None:
    ids = tiny_llm.encode(CHATS[0])
    cancel = DecodeRequest(ids, 200, temperature=0)
    seen = 0

    def on_text(delta: str, tokens: list) -> None:
        nonlocal seen
        seen += 1
        if seen == 3:
            cancel.cancelled.set()

    cancel.on_text = on_text
    other = DecodeRequest(ids, 6, temperature=0)
    first, second = tiny_llm.decode([cancel, other])
    assert first.finish_reason == "cancelled" and len(first.ids) < 20
    assert second.finish_reason == "length" and len(second.ids) == 6


def test_batcher_decodes_concurrent_submissions_together() -> None:
    calls: list[int] = []

    def decode(requests: list[DecodeRequest]) -> list[Decoded]:
        calls.append(len(requests))
        time.sleep(0.05)
        return [Decoded(f"row{r.ids[0]}", "stop", 1, 1) for r in requests]

    batcher = Batcher(decode, max_rows=16, window=0.2)
    try:
        results: dict[int, list[str]] = {}

        def client(i: int) -> None:
            futures = batcher.submit([DecodeRequest([i], 4), DecodeRequest([i + 100], 4)])
            results[i] = [d.text for d in futures.result(timeout=10)]

        threads = [threading.Thread(target=client, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == {i: [f"row{i}", f"row{i + 100}"] for i in range(6)}
        assert sum(calls) == 12 and len(calls) < 6  # several clients per decode call
    finally:
        batcher.close()


def test_batcher_bounds_its_queue_and_passes_errors_to_every_waiter() -> None:
    gate = threading.Event()

    def decode(requests: list[DecodeRequest]) -> list[Decoded]:
        gate.wait(10)
        raise RuntimeError("model broke")

    batcher = Batcher(decode, max_rows=2, window=0.0, max_queued=3)
    try:
        first = batcher.submit([DecodeRequest([1], 1)])
        time.sleep(0.1)  # the worker takes it and blocks
        queued = batcher.submit([DecodeRequest([2], 1), DecodeRequest([3], 1), DecodeRequest([4], 1)])
        with pytest.raises(QueueFullError, match="at most 3"):
            batcher.submit([DecodeRequest([5], 1)])
        gate.set()
        for future in (first, queued):
            with pytest.raises(RuntimeError, match="model broke"):
                future.result(timeout=10)
    finally:
        batcher.close()


def test_prompt_logprobs_score_each_token_given_the_ones_before(tiny_llm) -> None:
    ids = tiny_llm.encode("The cat sat on the mat")
    entries = tiny_llm.prompt_logprobs(ids, 3)
    assert entries[0].logprob is None and len(entries) == len(ids)
    with torch.no_grad():
        full = torch.log_softmax(tiny_llm.model(input_ids=torch.tensor([ids])).logits[0].float(), -1)
    assert entries[2].logprob == pytest.approx(float(full[1, ids[2]]), abs=1e-4)
    assert len(entries[2].top) == 3
