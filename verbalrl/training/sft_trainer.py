"""Supervised fine-tuning with per-example weights: GenRM's unified loss, and generator SFT.

In scope: tokenising `SFTExample`s (loss on target tokens only), a
`transformers.Trainer` whose loss is the weighted mean of per-example
token-mean cross-entropies — so verification examples (weight 1) and
correct-solution examples (weight λ) mixed in one shuffled dataset give
L = L_verify + λ·L_correct in expectation — LoRA (PEFT) or full fine-tuning,
checkpoints for `resume`, and saving the adapter plus `verifier.json`.
Left out: the ORM baseline (`orm.py`), building examples (`data.py`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F
from transformers import Trainer, TrainerCallback, TrainingArguments

from ..llm.transformers_backend import TransformersLLM
from ..quiet import quiet_deprecations
from ..verifier.artifact import FULL_MODEL_DIR, ArtifactMetadata, Kind, fingerprint, write_metadata
from .collators import IGNORE, PadCollator
from .examples import SFTExample
from .sft_config import SFTConfig

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a run did: where it saved, the logged losses, and how long it took."""

    output_dir: Path
    examples: int
    dropped: int
    steps: int
    loss_history: list[tuple[int, float]] = field(default_factory=list)
    seconds: float = 0.0
    trained_tokens: int = 0


def tokenize_examples(
    llm: TransformersLLM, examples: Sequence[SFTExample], max_length: int
) -> tuple[list[dict[str, Any]], int]:
    """Token ids with labels masked outside the target; over-long examples are dropped."""
    eos = llm.tokenizer.eos_token_id
    rows, dropped = [], 0
    for ex in examples:
        prompt_ids = llm.encode(ex.prompt)
        target_ids = llm.tokenizer(ex.target, add_special_tokens=False)["input_ids"]
        if ex.kind == "correct" and eos is not None:
            target_ids = target_ids + [eos]  # a solver must learn to stop
        if not target_ids or len(prompt_ids) + len(target_ids) > max_length:
            dropped += 1
            continue
        rows.append(
            {
                "input_ids": prompt_ids + target_ids,
                "labels": [IGNORE] * len(prompt_ids) + target_ids,
                "weight": ex.weight,
            }
        )
    if dropped:
        log.warning("dropped %d example(s) longer than max_length=%d", dropped, max_length)
    return rows, dropped


def weighted_token_mean_loss(
    logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Mean over examples of weight x (mean cross-entropy over that example's target tokens)."""
    shift_logits = logits[:, :-1].float()
    shift_labels = labels[:, 1:]
    token_loss = F.cross_entropy(
        shift_logits.reshape(-1, shift_logits.shape[-1]),
        shift_labels.reshape(-1),
        ignore_index=IGNORE,
        reduction="none",
    ).view(shift_labels.shape)
    counts = (shift_labels != IGNORE).sum(dim=1).clamp(min=1)
    per_example = token_loss.sum(dim=1) / counts
    return (per_example * weights.to(per_example.device)).mean()


class WeightedSFTTrainer(Trainer):
    """`Trainer` with the weighted, target-only loss above."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # type: ignore[override]
        weights = inputs.pop("weights")
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        loss = weighted_token_mean_loss(outputs.logits, labels, weights)
        return (loss, outputs) if return_outputs else loss


class LossHistory(TrainerCallback):
    """Collects (step, loss) from the Trainer's periodic logs."""

    def __init__(self) -> None:
        self.history: list[tuple[int, float]] = []

    def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[no-untyped-def]
        if logs and "loss" in logs:
            self.history.append((state.global_step, float(logs["loss"])))


def training_arguments(
    config: SFTConfig, output_dir: Path, progress: bool, examples: int | None = None
) -> TrainingArguments:
    logging_steps = config.logging_steps
    if examples:  # short runs still log a handful of losses
        total = math.ceil(examples / (config.batch_size * config.grad_accum)) * config.epochs
        logging_steps = max(1, min(logging_steps, int(total // 5)))
    return TrainingArguments(
        output_dir=str(output_dir / "checkpoints"),
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        num_train_epochs=config.epochs,
        learning_rate=config.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=config.warmup_ratio,  # a float below 1 is a ratio of the total steps
        logging_steps=logging_steps,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=2,
        seed=config.seed,
        report_to=[],
        remove_unused_columns=False,
        disable_tqdm=not progress,
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0,
    )


def load_for_training(config: SFTConfig) -> TransformersLLM:
    """The base model in the training dtype, wrapped with LoRA unless full fine-tuning."""
    llm = TransformersLLM.load(config.base_model, dtype=config.dtype)
    if config.method == "lora":
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            task_type="CAUSAL_LM",
            r=config.lora_r,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            target_modules=config.target_modules,
        )
        with quiet_deprecations():
            llm.model = get_peft_model(llm.model, lora)
    llm.model.train()
    return llm


def train_sft(
    examples: Sequence[SFTExample],
    config: SFTConfig,
    output_dir: str | Path,
    *,
    kind: Kind,
    resume: bool = False,
    progress: bool = True,
    extra_metadata: dict[str, Any] | None = None,
) -> TrainResult:
    """Fine-tune on `examples`; save the adapter (or full model) and `verifier.json` in `output_dir`."""
    if not examples:
        raise ValueError("no training examples: the pool may hold no usable solutions")
    output_dir = Path(output_dir)
    start = time.perf_counter()
    llm = load_for_training(config)
    rows, dropped = tokenize_examples(llm, examples, config.max_length)
    if not rows:
        raise ValueError(f"every example is longer than max_length={config.max_length}")
    history = LossHistory()
    trainer = WeightedSFTTrainer(
        model=llm.model,
        args=training_arguments(config, output_dir, progress, len(rows)),
        train_dataset=rows,
        data_collator=PadCollator(int(llm.tokenizer.pad_token_id)),
        callbacks=[history],
    )
    checkpoints = output_dir / "checkpoints"
    can_resume = resume and checkpoints.is_dir() and any(checkpoints.glob("checkpoint-*"))
    if resume and not can_resume:
        log.warning("no checkpoint in %s: training from the start", checkpoints)
    with quiet_deprecations():  # PEFT and TRL read a deprecated transformers property
        trainer.train(resume_from_checkpoint=True if can_resume else None)
    llm.model.eval()
    save_trained(llm, config, output_dir, kind, history.history, extra_metadata or {})
    return TrainResult(
        output_dir=output_dir,
        examples=len(rows),
        dropped=dropped,
        steps=trainer.state.global_step,
        loss_history=history.history,
        seconds=time.perf_counter() - start,
        trained_tokens=sum(len(r["input_ids"]) for r in rows) * int(round(config.epochs)),
    )


def save_trained(
    llm: TransformersLLM,
    config: SFTConfig,
    output_dir: Path,
    kind: Kind,
    history: list[tuple[int, float]],
    extra: dict[str, Any],
) -> None:
    model = llm.model
    base_config = model.get_base_model().config if config.method == "lora" else model.config
    if config.method == "lora":
        model.save_pretrained(output_dir)
    else:
        model.save_pretrained(output_dir / FULL_MODEL_DIR)
        llm.tokenizer.save_pretrained(output_dir / FULL_MODEL_DIR)
    meta = ArtifactMetadata(
        kind=kind,
        base_model=config.base_model,
        base_fingerprint=fingerprint(base_config),
        method=config.method,
        settings=config.model_dump(),
        metrics={"loss_history": history, **extra},
    )
    write_metadata(output_dir, meta)
