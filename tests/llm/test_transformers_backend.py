"""TransformersLLM on real models: the embedded SmolLM2 and a tiny random Llama."""

from __future__ import annotations

import math

import pytest
import torch

from verbalrl.errors import ContextLengthError
from verbalrl.llm import GenerationConfig

YES_NO = ["Yes", " Yes", "No", " No"]


def _verify_prompt(answer: int) -> list[dict[str, str]]:
    return [
        {
            "role": "user",
            "content": f"Question: What is 12 + 30?\nSolution: 12 + 30 = {answer}\n"
            "Is the answer correct (Yes/No)?",
        }
    ]


def test_generate_shapes_counts_and_seed(tiny_llm):
    prompts = ["hello there", [{"role": "user", "content": "hi"}], "a much longer prompt " * 5]
    cfg = GenerationConfig(n=3, temperature=1.0, max_new_tokens=7, seed=123)
    out = tiny_llm.generate(prompts, cfg)
    assert [len(row) for row in out] == [3, 3, 3]
    for row, prompt in zip(out, prompts, strict=True):
        for c in row:
            assert 1 <= c.completion_tokens <= 7
            assert c.prompt_tokens == len(tiny_llm.encode(prompt))
            assert c.finish_reason in ("stop", "length")
    again = tiny_llm.generate(prompts, cfg)
    assert [[c.text for c in r] for r in out] == [[c.text for c in r] for r in again]
    other = tiny_llm.generate(prompts, cfg.model_copy(update={"seed": 124}))
    assert [[c.text for c in r] for r in other] != [[c.text for c in r] for r in out]


def test_batched_generation_matches_one_by_one_when_greedy(tiny_llm):
    prompts = ["short", "a somewhat longer prompt here", "mid length one"]
    cfg = GenerationConfig(temperature=0, max_new_tokens=6)
    batched = [row[0].text for row in tiny_llm.generate(prompts, cfg)]
    single = [tiny_llm.generate([p], cfg)[0][0].text for p in prompts]
    assert batched == single  # left padding must not change what a prompt generates


SOLVE = [{"role": "user", "content": "Compute 5 + 3 - 2 + 7, one operation per line, then Answer: N."}]
PARTIALS = [SOLVE, [*SOLVE, {"role": "assistant", "content": "5 + 3 = 8\n"}],
            [*SOLVE, {"role": "assistant", "content": "5 + 3 = 8\n8 - 2 = 6\n"}]]  # fmt: skip


def forward_inputs(llm, monkeypatch) -> list[tuple[int, int]]:
    """Record the input_ids shape of every forward pass the model runs."""
    shapes: list[tuple[int, int]] = []
    forward = llm.model.forward

    def spy(*args, **kwargs):
        shapes.append(tuple(kwargs["input_ids"].shape))
        return forward(*args, **kwargs)

    monkeypatch.setattr(llm.model, "forward", spy)
    return shapes


def test_a_shared_prompt_prefix_runs_once_and_generates_the_same(tiny_llm, monkeypatch):
    cfg = GenerationConfig(n=2, temperature=0, max_new_tokens=6)
    shapes = forward_inputs(tiny_llm, monkeypatch)
    cached = [[c.text for c in row] for row in tiny_llm.generate(PARTIALS, cfg)]
    encoded = [tiny_llm.encode(p) for p in PARTIALS]
    shared = tiny_llm._shared_prefix([encoded[0], encoded[0], *encoded[1:]])
    assert shared >= 8 and shapes[0] == (1, shared)  # the prefix alone, once
    longest = max(len(ids) for ids in encoded)
    assert shapes[1] == (6, longest - shared)  # then only the six rows' own suffixes
    tiny_llm.prefix_cache = False
    try:
        shapes.clear()
        full = [[c.text for c in row] for row in tiny_llm.generate(PARTIALS, cfg)]
        assert shapes[0] == (6, longest)
    finally:
        tiny_llm.prefix_cache = True
    assert cached == full and cached[0][0] == cached[0][1]
    single = [tiny_llm.generate([p], cfg.model_copy(update={"n": 1}))[0][0].text for p in PARTIALS]
    assert [row[0] for row in cached] == single  # a prompt alone has no shared prefix: no cache


def test_context_length_error(tiny_llm):
    too_long = "word " * (tiny_llm.context_length + 10)
    with pytest.raises(ContextLengthError, match="exceeds the context"):
        tiny_llm.generate([too_long])
    with pytest.raises(ContextLengthError):
        tiny_llm.next_token_probs([too_long], ["Yes"])


def test_multi_token_candidate_is_rejected(tiny_llm):
    with pytest.raises(ValueError, match="single tokens"):
        tiny_llm.next_token_probs(["q"], ["Definitely"])


def test_prefix_reuse_equals_unbatched_scores(tiny_llm):
    # Same question, different solutions: one shared prefix, run once.
    prompts = [_verify_prompt(a) for a in (42, 41, 420, 24, 42)]
    batched = tiny_llm.next_token_probs(prompts, YES_NO)
    single = [tiny_llm.next_token_probs([p], YES_NO)[0] for p in prompts]
    for b, s in zip(batched, single, strict=True):
        for tok in YES_NO:
            assert b[tok] == pytest.approx(s[tok], rel=1e-4, abs=1e-7)
    assert batched[0] == pytest.approx(batched[4])


@pytest.mark.slow
def test_smollm_answers_and_scores(smollm):
    out = smollm.generate(
        [[{"role": "user", "content": "What is 2 + 3? Answer with the number only."}]],
        GenerationConfig(n=4, temperature=0.0, max_new_tokens=16),
    )
    assert len(out[0]) == 4 and "5" in out[0][0].text
    probs = smollm.next_token_probs([_verify_prompt(42), _verify_prompt(17)], YES_NO)
    for row in probs:
        assert all(0.0 <= v <= 1.0 for v in row.values())
        assert sum(row.values()) <= 1.0 + 1e-5
        assert row["Yes"] + row["No"] > 0.1  # the model does answer Yes/No here


@pytest.mark.slow
def test_smollm_prefix_reuse_matches_and_top_logprobs(smollm):
    prompts = [_verify_prompt(a) for a in (42, 43, 12)]
    batched = smollm.next_token_probs(prompts, YES_NO)
    single = [smollm.next_token_probs([p], YES_NO)[0] for p in prompts]
    for b, s in zip(batched, single, strict=True):
        assert b["Yes"] == pytest.approx(s["Yes"], rel=1e-3)
        assert b["No"] == pytest.approx(s["No"], rel=1e-3)
    top = smollm.top_logprobs(prompts[:1], k=5)[0]
    assert len(top) == 5 and top == sorted(top, key=lambda t: -t[1])
    top_probs = {tok: math.exp(lp) for tok, lp in top}
    for tok in ("Yes", "No"):
        if tok in top_probs:
            assert top_probs[tok] == pytest.approx(batched[0][tok], rel=1e-4)


@pytest.mark.slow
def test_smollm_continues_partial_solutions_the_same_with_the_prefix_cache(smollm):
    cfg = GenerationConfig(temperature=0, max_new_tokens=16)
    cached = [row[0].text for row in smollm.generate(PARTIALS, cfg)]
    smollm.prefix_cache = False
    try:
        full = [row[0].text for row in smollm.generate(PARTIALS, cfg)]
    finally:
        smollm.prefix_cache = True
    assert cached == full and len(set(cached)) == 3


@pytest.mark.slow
def test_stop_strings_end_generation(smollm):
    out = smollm.generate(
        ["Count: 1, 2, 3,"], GenerationConfig(temperature=0, max_new_tokens=40, stop=("7",))
    )[0][0]
    assert "7" not in out.text and out.finish_reason == "stop"
    assert out.completion_tokens < 40  # generation really stopped, not just truncated text


def test_bf16_is_picked_only_where_supported():
    from verbalrl.llm.transformers_backend import cpu_supports_bf16, pick_dtype

    expected = torch.bfloat16 if cpu_supports_bf16() else torch.float32
    assert pick_dtype("auto", "cpu") == expected
    assert pick_dtype("float32", "cpu") == torch.float32
