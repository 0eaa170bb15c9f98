"""VLLMLLM runs only with vllm and a CUDA GPU; elsewhere these tests skip with the reason."""

from __future__ import annotations

import importlib.util

import pytest

HAS_VLLM = importlib.util.find_spec("vllm") is not None


def _has_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def test_missing_vllm_is_a_clear_error():
    if HAS_VLLM:
        pytest.skip("vllm is installed here; the missing-package path cannot be exercised")
    from verbalrl.errors import BackendError
    from verbalrl.llm.vllm_backend import VLLMLLM

    with pytest.raises(BackendError, match=r"verbalrl\[vllm\]"):
        VLLMLLM("smollm2-135m-instruct")


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_VLLM, reason="vllm is not installed (pip install 'verbalrl[vllm]')")
def test_vllm_generates_and_scores():
    if not _has_gpu():
        pytest.skip("vLLM needs a CUDA GPU; none is present")
    from verbalrl.llm import GenerationConfig
    from verbalrl.llm.vllm_backend import VLLMLLM

    llm = VLLMLLM("smollm2-135m-instruct", gpu_memory_utilization=0.3)
    out = llm.generate([[{"role": "user", "content": "What is 2 + 3?"}]], GenerationConfig(n=4))
    assert len(out[0]) == 4 and all(c.completion_tokens > 0 for c in out[0])
    probs = llm.next_token_probs(["Is 2 + 3 = 5 correct (Yes/No)?"], ["Yes", " Yes", "No", " No"])[
        0
    ]
    assert 0.0 < sum(probs.values()) <= 1.0 + 1e-5
