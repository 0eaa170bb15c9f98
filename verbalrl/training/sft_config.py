"""Settings of supervised fine-tuning for GenRM verifiers, the ORM baseline and generators.

One frozen, validated config: a bad value raises a `ValidationError` naming
the field. Defaults follow the recipe measured in DESIGN.md (LoRA r=16 on all
linear layers, lr 3e-4, 2 epochs) and the paper's λ=1/3 for the correct-
solution term of the unified loss.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

GENERATOR_EPOCHS = 1.0  # solver SFT (`train_generator`): one pass, where a verifier takes SFTConfig's 2


class SFTConfig(BaseModel):
    """How to fine-tune: base model, LoRA or full, optimiser and loss settings."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_model: str = Field("smollm2-135m-instruct", min_length=1)
    method: Literal["lora", "full"] = "lora"
    lora_r: int = Field(16, ge=1, le=1024)
    lora_alpha: int = Field(32, ge=1)
    lora_dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: str | list[str] = "all-linear"
    learning_rate: float = Field(3e-4, gt=0.0, le=1.0)
    epochs: float = Field(2.0, gt=0.0, le=100.0)
    batch_size: int = Field(8, ge=1, le=1024)
    grad_accum: int = Field(1, ge=1, le=1024)
    max_length: int = Field(768, ge=8, le=32768, description="longer examples are dropped")
    lam: float = Field(1 / 3, ge=0.0, le=100.0, description="weight of the correct-solution loss")
    warmup_ratio: float = Field(0.05, ge=0.0, lt=1.0)
    seed: int = 0
    logging_steps: int = Field(10, ge=1)
    save_steps: int = Field(100, ge=1, description="checkpoint every N steps (for --resume)")
    dtype: Literal["float32", "bfloat16"] = "float32"
