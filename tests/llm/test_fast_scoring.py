"""The packed scoring forward (`llm/fast_scoring.py`) computes what Hugging Face's forward computes.

In float32 the two paths must agree to rounding (1e-3 on log-probabilities), for a tiny random
grouped-query Llama with and without a LoRA adapter, prompts with and without a shared
prefix, of equal and unequal lengths; and for the real SmolLM2 with the packaged GenRM's
adapter. In bf16 no two computations agree exactly (Hugging Face's own bf16 scores move by up
to 0.04 with the batch they are in, measured): there the fast path must be as close to the
float32 scores as Hugging Face's bf16 path is.
"""

from __future__ import annotations

import re

import pytest
import torch

from verbalrl.llm.fast_scoring import FastScorer, _groups, supports, weights_stamp
from verbalrl.llm.transformers_backend import TransformersLLM


def _reference(llm: TransformersLLM, prompts: list[list[int]]) -> torch.Tensor:
    with torch.inference_mode():
        return llm._reference_last_logprobs(prompts)


def _prompts(llm: TransformersLLM) -> list[list[int]]:
    chats = [
        [{"role": "user", "content": "What is 12 + 30?"}, {"role": "assistant", "content": text}]
        for text in ("42", "12 + 30 = 42\nAnswer: 42", "It is 41.", "12 and 30 make 40, then 2.")
    ]
    other = [{"role": "user", "content": "Sort: pear, apple"}, {"role": "assistant", "content": "apple pear"}]
    return [llm.encode(c) for c in [*chats, other]]


@pytest.fixture(scope="module")
def lora_llm(tiny_llama_dir):
    """The tiny Llama with a random LoRA adapter whose B is not zero (so it changes the output)."""
    from peft import LoraConfig, get_peft_model

    llm = TransformersLLM.load(str(tiny_llama_dir), dtype="float32")
    config = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", lora_dropout=0.1)
    model = get_peft_model(llm.model, config)
    torch.manual_seed(1)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)
    return TransformersLLM(model.eval(), llm.tokenizer, name="tiny+lora")


def test_groups_are_runs_of_equal_length():
    assert _groups([2, 2, 3, 5, 5, 5]) == [(0, 2, 2), (4, 1, 3), (7, 3, 5)]
    assert _groups([4]) == [(0, 1, 4)]


@pytest.mark.parametrize("which", ["plain", "lora"])
def test_equals_reference_in_float32(tiny_llm, lora_llm, which):
    llm = tiny_llm if which == "plain" else lora_llm
    assert supports(llm.model)
    prompts = _prompts(llm)
    scorer = FastScorer(llm.model)
    for batch in (prompts, prompts[:4], prompts[:1], [p[:7] for p in prompts[:3]], [prompts[0][:1]]):
        expected = _reference(llm, batch)
        got = scorer.last_logprobs(batch)
        assert got.shape == expected.shape
        assert torch.allclose(got, expected, atol=1e-3)
        assert got.dtype == torch.float32


def test_lora_adapter_is_applied_not_ignored(tiny_llm, lora_llm):
    prompts = _prompts(tiny_llm)
    plain = FastScorer(tiny_llm.model).last_logprobs(prompts)
    adapted = FastScorer(lora_llm.model).last_logprobs(prompts)
    assert (plain - adapted).abs().max() > 0.1
    with lora_llm.model.disable_adapter():
        assert torch.allclose(FastScorer(lora_llm.model).last_logprobs(prompts), plain, atol=1e-4)


def test_backend_uses_it_and_rebuilds_after_training(tiny_llama_dir):
    llm = TransformersLLM.load(str(tiny_llama_dir), dtype="float32")
    prompts = _prompts(llm)
    before = llm.next_token_logprobs([llm.tokenizer.decode(p) for p in prompts])
    assert llm._fast is not None  # the packed path ran
    stamp = weights_stamp(llm.model)
    with torch.no_grad():
        llm.model.model.layers[0].mlp.down_proj.weight.mul_(3.0)  # an in-place update, like an optimizer step
    assert weights_stamp(llm.model) != stamp
    after = llm.next_token_logprobs([llm.tokenizer.decode(p) for p in prompts])
    assert torch.allclose(after, _reference(llm, prompts), atol=1e-3)
    assert (after - before).abs().max() > 0.01  # not the stale packed weights


def test_fast_scoring_off_uses_the_reference_path(tiny_llama_dir):
    llm = TransformersLLM.load(str(tiny_llama_dir), dtype="float32", fast_scoring=False)
    llm.next_token_probs(["Is it? "], ["Yes"])
    assert llm._fast is None


def test_unsupported_models_are_refused(tiny_llm):
    class NotLlama:
        config = type("Config", (), {"model_type": "gpt2"})()

    assert not supports(NotLlama())
    with pytest.raises(ValueError, match="Llama-family"):
        FastScorer(NotLlama())
    with pytest.raises(ValueError, match="at least one token"):
        FastScorer(tiny_llm.model).last_logprobs([[1, 2], []])


def _genrm_pool(llm: TransformersLLM) -> list[list[int]]:
    from verbalrl.tasks import get_task
    from verbalrl.verifier.prompts import direct_prompt

    task = get_task("arithmetic", level="sum30")
    prompts = []
    for problem in task.problems("test", n=4, seed=1):
        solution = (task.reference_solution(problem) or "").strip()
        wrong = re.sub(r"(\d+)\s*$", lambda m: str(int(m.group(1)) + 3), solution)
        for text in (solution, wrong, "The answer is 7.", solution + " I think."):
            prompts.append(llm.encode(direct_prompt(problem.question, text)))
    return prompts


@pytest.mark.slow
def test_real_genrm_scores_match_the_reference():
    """SmolLM2 + the packaged GenRM adapter: equal in float32; in bf16 as close to float32 as HF's bf16."""
    from verbalrl.verifier import load_verifier

    exact = load_verifier("genrm-stream", dtype="float32").llm
    prompts = _genrm_pool(exact)
    yes = exact.candidate_token_id("Yes")
    reference = _reference(exact, prompts)[:, yes].exp()
    assert torch.allclose(exact._last_logprobs(prompts)[:, yes].exp(), reference, atol=1e-4)
    assert exact._fast is not None
    bf16 = load_verifier("genrm-stream", dtype="bfloat16").llm
    hf_error = (_reference(bf16, prompts)[:, yes].exp() - reference).abs()
    fast_error = (bf16._last_logprobs(prompts)[:, yes].exp() - reference).abs()
    assert fast_error.mean() <= 0.02
    assert fast_error.mean() <= hf_error.mean() + 0.01
    assert fast_error.max() <= hf_error.max() + 0.02
