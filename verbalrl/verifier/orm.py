"""The discriminative ORM baseline: the LM with a scalar head, trained with binary cross-entropy.

In scope: building the classifier from any causal-LM base (transformers'
`AutoModelForSequenceClassification` puts a linear `score` head on the last
token), LoRA or full training on direct verification examples (labels from
the checker), saving an artifact, and `ORMVerifier` which scores candidates
with sigmoid(logit). It reads the same prompt as direct GenRM, so the two
differ only in the head and the loss, as in the paper's comparison.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F
from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer

from ..llm.models import local_source, resolve_model
from ..llm.transformers_backend import pick_dtype
from ..tasks.base import Problem
from .artifact import (
    FULL_MODEL_DIR,
    ArtifactError,
    ArtifactMetadata,
    fingerprint,
    read_metadata,
    write_metadata,
)
from .base import Usage, Verification, check_candidates
from .data import SFTExample
from .prompts import direct_prompt
from .sft_config import SFTConfig
from .sft_trainer import LossHistory, TrainResult, training_arguments


def _render(tokenizer: Any, messages: list[dict[str, str]]) -> list[int]:
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _load_classifier(source: str, dtype: torch.dtype) -> tuple[Any, Any]:
    tokenizer = AutoTokenizer.from_pretrained(source)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForSequenceClassification.from_pretrained(source, num_labels=1, dtype=dtype)
    model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


class BCECollator:
    """Left-pads (the head reads the last token) and carries float labels."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        width = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            n = len(r["input_ids"])
            ids[i, width - n :] = torch.tensor(r["input_ids"])
            mask[i, width - n :] = 1
        labels = torch.tensor([float(r["label"]) for r in rows])
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}


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
    """Train the ORM on labelled verification examples (their `label`); save an artifact."""
    labelled = [e for e in examples if e.label is not None]
    if not labelled:
        raise ValueError("no labelled verification examples to train the ORM on")
    output_dir = Path(output_dir)
    start = time.perf_counter()
    source = local_source(resolve_model(config.base_model))
    model, tokenizer = _load_classifier(source, pick_dtype(config.dtype, "cpu"))
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
        model = get_peft_model(model, lora)
    rows = [
        {"input_ids": ids, "label": e.label}
        for e in labelled
        if len(ids := _render(tokenizer, e.prompt)) <= config.max_length
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


class ORMVerifier:
    """Scores candidates with a trained ORM: sigmoid of the scalar head on the last token."""

    def __init__(
        self, model: Any, tokenizer: Any, *, name: str = "orm", batch_size: int = 16
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.batch_size = batch_size

    @classmethod
    def load(
        cls, folder: str | Path, *, dtype: str = "auto", base_model: str | None = None
    ) -> ORMVerifier:
        folder = Path(folder)
        meta = read_metadata(folder)
        if meta.kind != "orm":
            raise ArtifactError(f"{folder} holds a {meta.kind!r} model, not an ORM")
        torch_dtype = pick_dtype(dtype, "cpu")  # type: ignore[arg-type]
        if meta.method == "full":
            model, tokenizer = _load_classifier(str(folder / FULL_MODEL_DIR), torch_dtype)
            return cls(model, tokenizer, name=f"orm:{folder.name}")
        base = base_model or meta.base_model
        model, tokenizer = _load_classifier(local_source(resolve_model(base)), torch_dtype)
        if fingerprint(model.config) != meta.base_fingerprint:
            raise ArtifactError(
                f"the ORM adapter in {folder} was trained on {meta.base_model!r}, not on {base!r}"
            )
        from peft import PeftModel

        return cls(
            PeftModel.from_pretrained(model, str(folder)), tokenizer, name=f"orm:{folder.name}"
        )

    def verify(self, problem: Problem, candidates: Sequence[str]) -> Verification:
        cands = check_candidates(candidates)
        encoded = [_render(self.tokenizer, direct_prompt(problem.question, c)) for c in cands]
        collate = BCECollator(int(self.tokenizer.pad_token_id))
        scores: list[float] = []
        with torch.inference_mode():
            for start in range(0, len(encoded), self.batch_size):
                rows = [
                    {"input_ids": ids, "label": 0}
                    for ids in encoded[start : start + self.batch_size]
                ]
                batch = collate(rows)
                logits = self.model(
                    input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
                ).logits
                scores += torch.sigmoid(logits.squeeze(-1).float()).tolist()
        usage = Usage(llm_calls=len(cands), prompt_tokens=sum(len(e) for e in encoded))
        return Verification(scores=scores, usage=usage)
