"""The trainers' collators: padding side, ignored labels, weights and float labels."""

from __future__ import annotations

import torch

from verbalrl.training.collators import IGNORE, BCECollator, PadCollator


def test_pad_collator_right_pads_and_ignores_pad_labels() -> None:
    rows = [
        {"input_ids": [5, 6, 7], "labels": [IGNORE, 6, 7], "weight": 1.0},
        {"input_ids": [8], "labels": [8], "weight": 0.25},
    ]
    batch = PadCollator(pad_id=0)(rows)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [[IGNORE, 6, 7], [8, IGNORE, IGNORE]]
    assert batch["weights"].tolist() == [1.0, 0.25]
    assert batch["input_ids"].dtype == torch.long


def test_bce_collator_left_pads_so_the_last_position_is_real() -> None:
    rows = [{"input_ids": [1, 2, 3], "label": True}, {"input_ids": [4], "label": 0}]
    batch = BCECollator(pad_id=9)(rows)
    assert batch["input_ids"].tolist() == [[1, 2, 3], [9, 9, 4]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [0, 0, 1]]
    assert batch["labels"].tolist() == [1.0, 0.0] and batch["labels"].dtype == torch.float32
    # the head reads position -1: it must be a real token of every row
    assert batch["attention_mask"][:, -1].tolist() == [1, 1]
