"""Settings of mutual self-training (`verbalrl self-train`): one frozen, validated pydantic model.

In scope: `SelfTrainConfig`: the task and its splits' sizes, sampling, the
labelling mode and its thresholds, where the first policy and verifiers come
from, and the three fine-tuning configs (policy, outcome GenRM, PRM). Left
out: the loop (`self_train.py`).

Labelling modes: `feedback` labels outcomes with the task's exact checker and
steps with its step checker (rollouts where it has none); `verifier-only`
never reads the gold answer: outcomes are the current outcome verifier's
score >= `threshold` (or the top `top_fraction` of the pool by that score),
steps the current PRM's step scores >= `step_threshold`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .sft_config import GENERATOR_EPOCHS, SFTConfig

LabelMode = Literal["feedback", "verifier-only"]
ORACLE_SPECS = ("checker", "step-checker")  # verifiers that read the gold answer


class SelfTrainConfig(BaseModel):
    """How to run K iterations of generate -> label -> fine-tune -> evaluate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task: str = Field("chain", min_length=1)
    task_options: dict[str, Any] = Field(default_factory=dict)
    iterations: int = Field(3, ge=1, le=100)
    mode: LabelMode = "feedback"
    train_problems: int = Field(64, ge=1, description="train-split problems sampled every iteration")
    eval_problems: int = Field(32, ge=1, description="held-out test-split problems (never trained on)")
    samples: int = Field(8, ge=1, le=256, description="samples per training problem")
    shots: int = Field(
        0, ge=0, le=8, description="train-split reference solutions shown as chat turns when the policy "
        "generates training traces (STaR); the SFT data and the held-out evaluation stay zero-shot",
    )  # fmt: skip
    eval_samples: int = Field(
        8, ge=1, le=256, description="samples per held-out problem (the N of Best-of-N)"
    )
    temperature: float = Field(0.8, ge=0.0, le=5.0)
    max_new_tokens: int = Field(128, ge=1, le=8192)
    dtype: Literal["auto", "float32", "bfloat16"] = Field("auto", description="sampling and scoring")
    base_model: str = Field("smollm2-135m-instruct", min_length=1, description="every adapter's base")
    policy: str | None = Field(
        None, description="first policy (a model or generator folder); default base_model"
    )
    verifier: str | None = Field(
        None, description="first outcome verifier (a `load_verifier` spec); verifier-only mode needs one"
    )
    prm: str | None = Field(None, description="first process verifier (verifier-only step labels)")
    threshold: float = Field(0.5, ge=0.0, le=1.0, description="verifier-only: label = score >= threshold")
    top_fraction: float | None = Field(
        None, gt=0.0, le=1.0, description="verifier-only: label the top fraction of each iteration's "
        "samples by score as right (the threshold comes from the score distribution; overrides threshold)",
    )  # fmt: skip
    step_threshold: float = Field(0.5, ge=0.0, le=1.0, description="verifier-only: step label threshold")
    verifier_score: Literal["yes", "normalized"] = Field(
        "yes", description="GenRM score: p(Yes), or p(Yes) / (p(Yes) + p(No))"
    )
    rollouts: int = Field(2, ge=1, le=64, description="feedback mode without a step checker: per prefix")
    accumulate: bool = Field(
        False, description="train on the verified traces of all iterations so far (default: this one's)"
    )
    max_per_class: int = Field(16, ge=1, description="per problem: right / wrong traces kept")
    negative_ratio: float | None = Field(2.0, gt=0.0, description="verifier data: wrong <= ratio x right")
    train_verifier: bool = True
    train_prm: bool = True
    baseline: bool = Field(True, description="evaluate the first policy (and verifier) as iteration 0")
    bootstrap: int = Field(200, ge=1, description="bootstrap resamples of the held-out intervals")
    seed: int = 0
    policy_training: SFTConfig = Field(default_factory=lambda: SFTConfig(epochs=GENERATOR_EPOCHS))
    verifier_training: SFTConfig = Field(default_factory=SFTConfig)
    prm_training: SFTConfig = Field(
        default_factory=SFTConfig, description="the PRM's (its `lam` is not used: `PRMConfig`)"
    )

    @model_validator(mode="after")
    def _check(self) -> SelfTrainConfig:
        for spec in (self.verifier, self.prm):
            if self.mode == "verifier-only" and spec is not None and spec.split(":")[0] in ORACLE_SPECS:
                raise ValueError(f"verifier-only mode never reads the gold answer: {spec!r} does")
        if self.mode == "feedback" and self.top_fraction is not None:
            raise ValueError("top_fraction picks verifier-only labels: feedback mode labels with the checker")
        if self.mode == "verifier-only" and not self.verifier:
            raise ValueError("verifier-only mode labels with a verifier: give the first one (`verifier`)")
        return self

    def training(self, which: Literal["policy", "verifier", "prm"], iteration: int) -> SFTConfig:
        """The fine-tuning config of one model at one iteration: `base_model`, and a seed per iteration."""
        config = {
            "policy": self.policy_training,
            "verifier": self.verifier_training,
            "prm": self.prm_training,
        }
        chosen = config[which]
        return chosen.model_copy(update={"base_model": self.base_model, "seed": chosen.seed + iteration})

    def prm_config(self, iteration: int) -> Any:
        """`training("prm", iteration)` as the `PRMConfig` `train_prm` takes (imports torch)."""
        from .prm_trainer import PRMConfig

        return PRMConfig(**self.training("prm", iteration).model_dump(exclude={"lam"}))

    def ns(self) -> list[int]:
        """The Best-of-N sizes evaluated: powers of two up to `eval_samples`, and `eval_samples`."""
        out = [n for n in (1, 2, 4, 8, 16, 32, 64, 128, 256) if n < self.eval_samples]
        return [*out, self.eval_samples]
