"""Training the process verifier on a tiny random Llama: the adapter learns the step labels."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from verbalrl.tasks import Problem
from verbalrl.training.prm_trainer import PRMConfig, encode_examples, train_prm
from verbalrl.training.step_labels import StepExample
from verbalrl.verifier import load_verifier
from verbalrl.verifier.artifact import read_metadata
from verbalrl.verifier.prm import PRMVerifier

QUESTION = "Compute 23 + 18 - 7."
GOOD = ["23 + 18 = 41", "41 - 7 = 34", "Answer: 34"]
BAD = ["23 + 18 = 40", "40 - 7 = 33", "Answer: 33"]


def examples() -> list[StepExample]:
    good = StepExample(question=QUESTION, steps=GOOD, labels=[1.0, 1.0, 1.0], source="checker")
    bad = StepExample(question=QUESTION, steps=BAD, labels=[0.0, 0.0, 0.0], source="checker")
    return [good, bad] * 8


def mean_scores(verifier: PRMVerifier) -> tuple[float, float]:
    problem = Problem(id="p", task="chain", split="train", question=QUESTION, answer="34")
    good, bad = verifier.score_steps(problem, ["\n".join(GOOD), "\n".join(BAD)]).scores
    return sum(good) / 3, sum(bad) / 3


def test_a_trained_prm_separates_its_step_labels_and_loads_back(smollm, tmp_path: Path) -> None:
    from ..tiny_model import save_tiny_llama

    # a tiny random Llama whose logits can move (see save_tiny_llama's init_range)
    base = save_tiny_llama(tmp_path / "tiny", smollm.tokenizer, init_range=0.5)
    config = PRMConfig(base_model=str(base), learning_rate=2e-2, epochs=10, batch_size=4, lora_r=8)
    untrained = load_verifier("prm", llm=_tiny(base))
    good0, bad0 = mean_scores(untrained)  # type: ignore[arg-type]
    result = train_prm(examples(), config, tmp_path / "prm", progress=False)
    assert result.examples == 16 and result.steps == 40 and result.loss_history
    assert result.loss_history[-1][1] < result.loss_history[0][1]
    meta = read_metadata(tmp_path / "prm")
    assert meta.kind == "prm" and meta.metrics["label_sources"] == ["checker"] and meta.metrics["steps"] == 48
    trained = load_verifier(f"prm:{tmp_path / 'prm'}", how="min")
    assert isinstance(trained, PRMVerifier) and trained.name == "prm:prm"
    good, bad = mean_scores(trained)
    assert abs(good0 - bad0) < 0.05  # untrained: no preference
    assert good > 0.7 and bad < 0.3  # trained: Yes after right steps, No after wrong ones


def test_labels_and_steps_must_pair_up(smollm) -> None:
    broken = StepExample(question=QUESTION, steps=GOOD, labels=[1.0], source="checker")
    with pytest.raises(ValueError, match="1 labels for 3 steps"):
        encode_examples(smollm, [broken], 512)


def test_steps_past_max_length_are_cut_with_their_labels(smollm) -> None:
    from verbalrl.verifier.prm import encode_steps

    head = len(encode_steps(smollm, QUESTION, [], 4096).ids)
    rows, dropped = encode_examples(smollm, examples()[:1], head + 20)
    assert dropped == 0 and 0 < len(rows[0]["labels"]) < 3
    assert len(rows[0]["labels"]) == len(rows[0]["encoded"].positions)
    assert max(rows[0]["encoded"].positions) < head + 20
    rows, dropped = encode_examples(smollm, examples()[:1], head)  # no step fits after the head
    assert rows == [] and dropped == 1


def _tiny(folder: Path):  # type: ignore[no-untyped-def]
    from verbalrl.llm.transformers_backend import TransformersLLM

    torch.manual_seed(0)
    return TransformersLLM.load(str(folder), dtype="float32")
