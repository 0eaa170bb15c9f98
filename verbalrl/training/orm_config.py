"""Settings of ORM training: the SFT settings minus the correct-solution loss weight.

The ORM baseline trains a scalar head with binary cross-entropy on labelled
verification examples only, so `lam` (GenRM's weight of the correct-solution
loss) does not apply and is fixed at 0. Everything else (base model, LoRA,
optimiser, epochs) means what it means in `SFTConfig`.
"""

from __future__ import annotations

from pydantic import Field

from .sft_config import SFTConfig


class ORMConfig(SFTConfig):
    """`SFTConfig` for the ORM baseline; `lam` is 0 (there is no correct-solution loss)."""

    lam: float = Field(0.0, ge=0.0, le=0.0, description="not used by the ORM (always 0)")
