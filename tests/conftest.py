"""Shared fixtures: the real embedded model (loaded once) and a tiny random Llama."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# The test machines have no internet: never let a library wait on a hub or telemetry call.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# verbalrl picks torch threads from the cores free when the first model loads; a blip of other
# work at that instant would run the whole suite on one thread. The tests of that policy set or
# clear this variable themselves.
os.environ.setdefault("VERBALRL_THREADS", str(len(os.sched_getaffinity(0))))

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def smollm():
    """The real SmolLM2-135M-Instruct in float32 (deterministic comparisons)."""
    from verbalrl.llm.transformers_backend import TransformersLLM

    return TransformersLLM.load("smollm2-135m-instruct", dtype="float32")


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory, smollm) -> Path:
    """A tiny random Llama (2 layers, hidden 64) with SmolLM2's tokenizer, saved to a folder."""
    from .tiny_model import save_tiny_llama

    return save_tiny_llama(tmp_path_factory.mktemp("tiny-llama"), smollm.tokenizer)


@pytest.fixture(scope="session")
def chain_policy_dir(tmp_path_factory, tiny_llama_dir) -> Path:
    """The tiny Llama fully fine-tuned on `chain` references (level 2, numbers 2-3): right ~1 time in 8.

    Self-training needs a policy that is sometimes right (a random model never is). ~25 s.
    """
    from verbalrl.tasks import get_task
    from verbalrl.training import SFTConfig, train_generator

    out = tmp_path_factory.mktemp("chain-policy")
    config = SFTConfig(
        base_model=str(tiny_llama_dir), method="full", epochs=30, learning_rate=1e-2, batch_size=8
    )
    task = get_task("chain", level=2, max_number=3)
    train_generator(out, task=task, problems=64, config=config, progress=False)
    return out / "model"


@pytest.fixture(scope="session")
def tiny_llm(tiny_llama_dir):
    from verbalrl.llm.transformers_backend import TransformersLLM

    return TransformersLLM.load(str(tiny_llama_dir), dtype="float32")


@pytest.fixture
def exp() -> Callable[..., Any]:
    """Experience factory with sensible defaults (a verified success of task 'arith')."""

    def make(problem: str, solution: str = "42", **fields: Any) -> Any:
        from verbalrl.memory import Experience

        data: dict[str, Any] = {"task": "arith", "outcome": "success", "verified": True}
        data.update(fields)
        return Experience(problem=problem, solution=solution, **data)

    return make
