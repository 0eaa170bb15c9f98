"""Training the discriminative ORM baseline: the LM with a scalar head, binary cross-entropy.

In scope: LoRA or full training of the classifier on direct verification
examples (labels from the checker), checkpoints for `resume`, and saving an
artifact that `verbalrl.verifier.ORMVerifier.load` reads. The settings are an
`ORMConfig` (`orm_config.py`). Left out: scoring (`verbalrl.verifier.orm`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from torch.nn import functional as F
from transformers import Trainer

from ..llm.aliases import local_source, resolve_model
from ..llm.transformers_backend import pick_dtype
from ..quiet import quiet_deprecations
from ..verifier.artifact import FULL_MODEL_DIR, ArtifactMetadata, fingerprint, write_metadata
from ..verifier.orm import load_classifier, render_prompt
from .collators import BCECollator
from .examples import SFTExample
from .sft_config import SFTConfig
from .sft_trainer import LossHistory, TrainResult, training_arguments


class BCETrainer(Trainer):
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # type: ignore[override]
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        loss = F.binary_cross_entropy_with_logits(outputs.logits.squeeze(-1).float(), labels)
        return (loss, outputs) if return_outputs else loss


def train_orm(
    examples: Sequence[SFTExample],
    config: SFTConfig,
    output_dir: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
) -> TrainResult:
    """Train the ORM on labelled verification examples (their `label`); save an artifact.

    `config` is an `ORMConfig` (any `SFTConfig` works; its `lam` is ignored).
    """
    labelled = [e for e in examples if e.label is not None]
    if not labelled:
        raise ValueError("no labelled verification examples to train the ORM on")
    output_dir = Path(output_dir)
    start = time.perf_counter()
    source = local_source(resolve_model(config.base_model))
    model, tokenizer = load_classifier(source, pick_dtype(config.dtype, "cpu"))
    base_config = model.config
    if config.method == "lora":
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            task_type="SEQ_CLS",
            r=config.lora_r,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            target_modules=config.target_modules,
        )
        with quiet_deprecations():
            model = get_peft_model(model, lora)
    rows = [
        {"input_ids": ids, "label": e.label}
        for e in labelled
        if len(ids := render_prompt(tokenizer, e.prompt)) <= config.max_length
    ]
    history = LossHistory()
    trainer = BCETrainer(
        model=model,
        args=training_arguments(config, output_dir, progress, len(rows)),
        train_dataset=rows,
        data_collator=BCECollator(int(tokenizer.pad_token_id)),
        callbacks=[history],
    )
    checkpoints = output_dir / "checkpoints"
    can_resume = resume and any(checkpoints.glob("checkpoint-*"))
    with quiet_deprecations():  # PEFT and TRL read a deprecated transformers property
        trainer.train(resume_from_checkpoint=True if can_resume else None)
    if config.method == "lora":
        model.save_pretrained(output_dir)
    else:
        model.save_pretrained(output_dir / FULL_MODEL_DIR)
        tokenizer.save_pretrained(output_dir / FULL_MODEL_DIR)
    write_metadata(
        output_dir,
        ArtifactMetadata(
            kind="orm",
            base_model=config.base_model,
            base_fingerprint=fingerprint(base_config),
            method=config.method,
            settings=config.model_dump(),
            metrics={"loss_history": history.history},
        ),
    )
    return TrainResult(
        output_dir=output_dir,
        examples=len(rows),
        dropped=len(labelled) - len(rows),
        steps=trainer.state.global_step,
        loss_history=history.history,
        seconds=time.perf_counter() - start,
    )
