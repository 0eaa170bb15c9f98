"""Batch collators of the trainers: padding token rows into tensors.

In scope: `PadCollator` (SFT: right-padded ids, labels with pads ignored by
the loss, per-example weights for the unified GenRM loss) and `BCECollator`
(ORM: left-padded, because the scalar head reads the last position, with
float labels). Left out: tokenising examples (`sft_trainer.tokenize_examples`).
"""

from __future__ import annotations

from typing import Any

import torch

from ..verifier.orm import left_pad

IGNORE = -100  # the label PyTorch's cross-entropy skips: prompt tokens and padding


class PadCollator:
    """Right-pads a batch; labels of pads are ignored."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        width = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            n = len(r["input_ids"])
            ids[i, :n] = torch.tensor(r["input_ids"])
            labels[i, :n] = torch.tensor(r["labels"])
            mask[i, :n] = 1
        weights = torch.tensor([float(r["weight"]) for r in rows])
        return {"input_ids": ids, "attention_mask": mask, "labels": labels, "weights": weights}


class BCECollator:
    """Left-pads (the head reads the last token) and carries float labels."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        ids, mask = left_pad([r["input_ids"] for r in rows], self.pad_id)
        labels = torch.tensor([float(r["label"]) for r in rows])
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}
