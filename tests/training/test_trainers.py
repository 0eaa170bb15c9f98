"""Training mechanics on a tiny random Llama: loss falls, adapter saved, reloaded, scores move."""

from __future__ import annotations

import json

import pytest
import torch

from verbalrl.tasks import get_task
from verbalrl.training.examples import SFTExample
from verbalrl.training.sft_config import SFTConfig
from verbalrl.training.sft_trainer import train_sft, weighted_token_mean_loss
from verbalrl.verifier.artifact import ArtifactError, read_metadata
from verbalrl.verifier.genrm import GenRMVerifier
from verbalrl.verifier.prompts import direct_prompt


def _examples() -> list[SFTExample]:
    task = get_task("arithmetic", level=1)
    out = []
    for p in task.problems("train", n=6, seed=0):
        good, bad = f"Answer: {p.answer}", f"Answer: {int(p.answer) + 1}"
        out.append(SFTExample(prompt=direct_prompt(p.question, good), target="Yes", label=True))
        out.append(SFTExample(prompt=direct_prompt(p.question, bad), target="No", label=False))
    return out


def _verdict_mass(v) -> float:
    return sum(d["p_yes"] / d["p_yes_normalized"] for d in v.details)


def test_weighted_loss_scales_with_weights_and_ignores_prompt():
    logits = torch.randn(2, 5, 11)
    labels = torch.tensor([[-100, -100, 3, 4, -100], [-100, 1, 2, 3, 4]])
    one = weighted_token_mean_loss(logits, labels, torch.tensor([1.0, 1.0]))
    half = weighted_token_mean_loss(logits, labels, torch.tensor([0.5, 0.5]))
    assert half.item() == pytest.approx(one.item() / 2, rel=1e-5)
    # Changing a logit at a masked (prompt) position does not change the loss.
    changed = logits.clone()
    changed[0, 0] += 100.0
    assert weighted_token_mean_loss(changed, labels, torch.ones(2)).item() == pytest.approx(
        one.item()
    )


@pytest.mark.slow
def test_genrm_lora_training_reload_and_resume(tiny_llama_dir, tmp_path):
    out = tmp_path / "genrm"
    config = SFTConfig(
        base_model=str(tiny_llama_dir),
        epochs=10,
        batch_size=4,
        learning_rate=1e-2,
        logging_steps=2,
        save_steps=6,
        lora_r=4,
        lora_alpha=8,
    )
    examples = _examples()
    problem = get_task("arithmetic", level=1).problems("train", n=1, seed=0)[0]
    cands = [f"Answer: {problem.answer}", f"Answer: {int(problem.answer) + 1}"]
    untrained = GenRMVerifier.load(str(tiny_llama_dir), dtype="float32", score="normalized")
    before = untrained.verify(problem, cands)

    result = train_sft(examples, config, out, kind="genrm", progress=False)
    losses = [loss for _, loss in result.loss_history]
    assert len(losses) >= 3 and losses[-1] < losses[0]
    assert (out / "adapter_model.safetensors").is_file()
    meta = read_metadata(out)
    assert (
        meta.kind == "genrm"
        and meta.method == "lora"
        and meta.settings["lam"] == pytest.approx(1 / 3)
    )

    verifier = GenRMVerifier.load(out, dtype="float32", score="normalized")
    after = verifier.verify(problem, cands)
    assert all(0.0 <= s <= 1.0 for s in after.scores)
    assert after.scores != pytest.approx(before.scores, abs=1e-3)  # the adapter is applied
    # A random tiny model cannot learn arithmetic, but it does learn to answer with a
    # verdict token: the probability mass on Yes/No grows (1.7x measured; seeded, deterministic).
    assert _verdict_mass(after) > 1.3 * _verdict_mass(before)

    # Resume from the saved checkpoint: training continues from the last step.
    assert any((out / "checkpoints").glob("checkpoint-*"))
    more = config.model_copy(update={"epochs": 12})
    resumed = train_sft(examples, more, out, kind="genrm", resume=True, progress=False)
    assert resumed.steps > result.steps
    assert resumed.loss_history[0][0] > result.steps  # no step was redone


def test_adapter_for_another_base_is_refused(tiny_llama_dir, tmp_path):
    from verbalrl.verifier.artifact import ArtifactMetadata, write_metadata

    folder = tmp_path / "foreign"
    write_metadata(
        folder,
        ArtifactMetadata(
            kind="genrm",
            base_model=str(tiny_llama_dir),
            method="lora",
            base_fingerprint={
                "model_type": "llama",
                "vocab_size": 1,
                "hidden_size": 8,
                "num_hidden_layers": 1,
                "num_attention_heads": 1,
            },
        ),
    )
    with pytest.raises(ArtifactError, match="load it with its own base model"):
        GenRMVerifier.load(folder, dtype="float32")


def test_malformed_metadata_is_a_clear_error(tmp_path):
    (tmp_path / "verifier.json").write_text(json.dumps({"kind": "nope"}))
    with pytest.raises(ArtifactError, match="malformed"):
        read_metadata(tmp_path)
    with pytest.raises(ArtifactError, match="not a trained verifier"):
        read_metadata(tmp_path / "missing")


@pytest.mark.slow
def test_orm_training_and_reload(tiny_llama_dir, tmp_path):
    from verbalrl.training.orm_trainer import train_orm
    from verbalrl.verifier.orm import ORMVerifier

    out = tmp_path / "orm"
    config = SFTConfig(
        base_model=str(tiny_llama_dir),
        method="full",
        epochs=10,
        batch_size=4,
        learning_rate=1e-3,
        logging_steps=3,
    )
    # Full fine-tuning here: a random tiny model can memorise 12 labelled pairs that way,
    # so the BCE loss really falls (LoRA on it stays near ln 2).
    result = train_orm(_examples(), config, out, progress=False)
    losses = [loss for _, loss in result.loss_history]
    assert losses[-1] < losses[0]
    assert read_metadata(out).kind == "orm"
    problem = get_task("arithmetic", level=1).problems("train", n=1, seed=0)[0]
    verifier = ORMVerifier.load(out, dtype="float32")
    v = verifier.verify(problem, [f"Answer: {problem.answer}", "Answer: 99"])
    assert len(v.scores) == 2 and all(0.0 < s < 1.0 for s in v.scores)
    assert v.usage.llm_calls == 2
    from verbalrl.verifier.artifact import ArtifactMetadata, write_metadata

    other = tmp_path / "genrm-artifact"
    write_metadata(
        other, ArtifactMetadata(kind="genrm", base_model="x", base_fingerprint={}, method="lora")
    )
    with pytest.raises(ArtifactError, match="not an ORM"):
        ORMVerifier.load(other)
