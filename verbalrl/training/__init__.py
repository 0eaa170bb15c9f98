"""Training: TRL-style `<x>_config.py` + `<x>_trainer.py` pairs, example builders, rationales.

    from verbalrl.training import SFTConfig, direct_examples, train_sft

    examples = direct_examples(read_pool("pool.jsonl"), max_per_class=16)
    train_sft(examples, SFTConfig(epochs=2), "runs/genrm", kind="genrm")

GenRM (direct and CoT, with the unified loss) and generator fine-tuning share
`sft_config.py`/`sft_trainer.py`; the ORM baseline has `orm_config.py`/
`orm_trainer.py`. `datasets.py` turns a labelled pool or a task's reference
solutions into the examples each trainer wants, and `recipes.py`
(`train_verifier`, `train_generator`) goes from a pool to a saved artifact
in one call: what `verbalrl train-verifier` and `verbalrl train-generator`
run. `self_train.py` (with `self_train_config.py`, `self_labels.py`, `stages.py`) is mutual
self-training of policy, GenRM and PRM; `consolidate.py` fine-tunes the policy on a memory's
gated experiences. Trainers import torch, transformers and peft; the exports are lazy so
importing this package does not.
"""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "SFTConfig": ".sft_config",
    "ORMConfig": ".orm_config",
    "SFTExample": ".examples",
    "direct_examples": ".examples",
    "cot_examples": ".examples",
    "correct_solution_examples": ".examples",
    "reference_solution_examples": ".examples",
    "train_sft": ".sft_trainer",
    "TrainResult": ".sft_trainer",
    "train_orm": ".orm_trainer",
    "VerifierKind": ".datasets",
    "verifier_examples": ".datasets",
    "generator_examples": ".datasets",
    "train_verifier": ".recipes",
    "train_generator": ".recipes",
    "as_orm_config": ".recipes",
    "GENERATOR_EPOCHS": ".sft_config",
    # the functions `self_train` and `consolidate` share their modules' names: import them from there
    "SelfTrainConfig": ".self_train_config",
    "SelfTrainer": ".self_train",
    "SelfTrainResult": ".self_train",
    "consolidation_examples": ".consolidate",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
