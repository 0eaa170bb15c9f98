"""Training the GenRM-style process verifier: the verdict loss at every step position of one pass.

Each `StepExample` is encoded exactly as the verifier reads it
(`verbalrl.verifier.prm.encode_steps`); the loss at step k is the
cross-entropy of the next token against "Yes" with weight label_k and "No"
with weight 1 - label_k (a soft label from rollouts is a mix of both), over
the full vocabulary as direct GenRM's SFT target is, averaged over the steps
of a batch. LoRA (PEFT) or full training, checkpoints for `resume`, and an
artifact `PRMVerifier.load` reads. The settings are a `PRMConfig`. Left out:
labels (`step_labels.py`) and scoring (`verbalrl.verifier.prm`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from pydantic import Field
from transformers import Trainer

from ..quiet import quiet_deprecations
from ..verifier.artifact import FULL_MODEL_DIR, ArtifactMetadata, fingerprint, write_metadata
from ..verifier.prm import EncodedSteps, encode_steps, position_logits
from .sft_config import SFTConfig
from .sft_trainer import LossHistory, TrainResult, load_for_training, training_arguments
from .step_labels import StepExample


class PRMConfig(SFTConfig):
    """`SFTConfig` for the process verifier; `lam` does not apply (there is no solution loss)."""

    lam: float = Field(0.0, ge=0.0, le=0.0, description="not used by the PRM (always 0)")


class StepCollator:
    """Batches encoded examples: their `EncodedSteps` and the labels of all their steps."""

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "sequences": [row["encoded"] for row in rows],
            "step_labels": torch.tensor([x for row in rows for x in row["labels"]], dtype=torch.float32),
        }


class PRMTrainer(Trainer):
    """`Trainer` whose loss is the soft Yes/No cross-entropy at every step position."""

    def __init__(self, *args: Any, yes_id: int, no_id: int, pad_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.yes_id, self.no_id, self.pad_id = yes_id, no_id, pad_id

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # type: ignore[override]
        logits = position_logits(model, inputs["sequences"], self.pad_id).float()
        logp = logits.log_softmax(-1)
        labels = inputs["step_labels"].to(logp.device)
        loss = -(labels * logp[:, self.yes_id] + (1 - labels) * logp[:, self.no_id]).mean()
        return (loss, logits) if return_outputs else loss


def encode_examples(
    llm: Any, examples: Sequence[StepExample], max_length: int
) -> tuple[list[dict[str, Any]], int]:
    """Encoded rows; steps past `max_length` tokens are cut (with their labels), empty rows dropped."""
    rows, dropped = [], 0
    for example in examples:
        if len(example.labels) != len(example.steps):
            raise ValueError(f"example {example.problem_id!r}: {len(example.labels)} labels for "
                             f"{len(example.steps)} steps")  # fmt: skip
        encoded: EncodedSteps = encode_steps(llm, example.question, example.steps, max_length)
        if not encoded.positions:
            dropped += 1
            continue
        rows.append({"encoded": encoded, "labels": list(example.labels[: len(encoded.positions)])})
    return rows, dropped


def train_prm(
    examples: Sequence[StepExample],
    config: SFTConfig,
    output_dir: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    extra_metadata: dict[str, Any] | None = None,
) -> TrainResult:
    """Train a process verifier on step-labelled examples; save an artifact (kind "prm")."""
    if not examples:
        raise ValueError("no step-labelled examples to train the PRM on")
    output_dir = Path(output_dir)
    start = time.perf_counter()
    llm = load_for_training(config)
    base_config = llm.model.config
    rows, dropped = encode_examples(llm, examples, config.max_length)
    if not rows:
        raise ValueError(f"every example is longer than max_length={config.max_length} tokens")
    tok = llm.tokenizer
    pad_id = int(tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id)
    history = LossHistory()
    trainer = PRMTrainer(
        model=llm.model,
        args=training_arguments(config, output_dir, progress, len(rows)),
        train_dataset=rows,
        data_collator=StepCollator(),
        callbacks=[history],
        yes_id=llm.candidate_token_id("Yes"),
        no_id=llm.candidate_token_id("No"),
        pad_id=pad_id,
    )
    checkpoints = output_dir / "checkpoints"
    can_resume = resume and any(checkpoints.glob("checkpoint-*"))
    with quiet_deprecations():
        trainer.train(resume_from_checkpoint=True if can_resume else None)
    if config.method == "lora":
        llm.model.save_pretrained(output_dir)
    else:
        llm.model.save_pretrained(output_dir / FULL_MODEL_DIR)
        tok.save_pretrained(output_dir / FULL_MODEL_DIR)
    sources = sorted({e.source for e in examples})
    write_metadata(
        output_dir,
        ArtifactMetadata(
            kind="prm",
            base_model=config.base_model,
            base_fingerprint=fingerprint(base_config),
            method=config.method,
            settings=config.model_dump(),
            metrics={"loss_history": history.history, "label_sources": sources,
                     "steps": sum(len(r["labels"]) for r in rows), **(extra_metadata or {})},
        ),
    )  # fmt: skip
    return TrainResult(
        output_dir=output_dir,
        examples=len(rows),
        dropped=dropped,
        steps=trainer.state.global_step,
        loss_history=history.history,
        seconds=time.perf_counter() - start,
    )
