"""The discriminative ORM baseline at scoring time: sigmoid of a scalar head on the last token.

In scope: building the classifier from any causal-LM base (transformers'
`AutoModelForSequenceClassification` puts a linear `score` head on the last
token), left-padding, and `ORMVerifier`, which loads a trained artifact and
scores candidates with sigmoid(logit). It reads the same prompt as direct
GenRM, so the two differ only in the head and the loss, as in the paper's
comparison. Left out: training (`verbalrl.training.orm_trainer`). torch and
transformers are imported inside the functions that need them, so importing
this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..llm.aliases import local_source, resolve_model
from ..tasks.base import Problem
from .artifact import FULL_MODEL_DIR, ArtifactError, fingerprint, read_metadata
from .base import Usage, Verification, check_candidates
from .prompts import direct_prompt


def render_prompt(tokenizer: Any, messages: list[dict[str, str]]) -> list[int]:
    """Token ids of a chat prompt with the generation prompt appended (what the head reads)."""
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def load_classifier(source: str, dtype: Any) -> tuple[Any, Any]:
    """A causal LM with a one-logit classification head, and its tokenizer (pad = eos if unset)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from ..quiet import quiet_loading
    from ..threads import configure_threads

    configure_threads()  # torch's CPU threads, as for the LLM (verbalrl/threads.py)
    with quiet_loading():
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForSequenceClassification.from_pretrained(source, num_labels=1, dtype=dtype)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def left_pad(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[Any, Any]:
    """(input_ids, attention_mask) tensors, left-padded: the head reads the last position."""
    import torch

    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for i, s in enumerate(sequences):
        ids[i, width - len(s) :] = torch.tensor(list(s), dtype=torch.long)
        mask[i, width - len(s) :] = 1
    return ids, mask


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
        from ..llm.transformers_backend import pick_dtype

        torch_dtype = pick_dtype(dtype, "cpu")  # type: ignore[arg-type]
        if meta.method == "full":
            model, tokenizer = load_classifier(str(folder / FULL_MODEL_DIR), torch_dtype)
            return cls(model, tokenizer, name=f"orm:{folder.name}")
        base = base_model or meta.base_model
        model, tokenizer = load_classifier(local_source(resolve_model(base)), torch_dtype)
        if fingerprint(model.config) != meta.base_fingerprint:
            raise ArtifactError(
                f"the ORM adapter in {folder} was trained on {meta.base_model!r}, not on {base!r}"
            )
        from peft import PeftModel

        from ..quiet import quiet_loading

        with quiet_loading():
            adapted = PeftModel.from_pretrained(model, str(folder))
        return cls(adapted, tokenizer, name=f"orm:{folder.name}")

    def verify(self, problem: Problem, candidates: Sequence[str]) -> Verification:
        import torch

        cands = check_candidates(candidates)
        encoded = [render_prompt(self.tokenizer, direct_prompt(problem.question, c)) for c in cands]
        pad_id = int(self.tokenizer.pad_token_id)
        scores: list[float] = []
        with torch.inference_mode():
            for start in range(0, len(encoded), self.batch_size):
                ids, mask = left_pad(encoded[start : start + self.batch_size], pad_id)
                logits = self.model(input_ids=ids, attention_mask=mask).logits
                scores += torch.sigmoid(logits.squeeze(-1).float()).tolist()
        usage = Usage(llm_calls=len(cands), prompt_tokens=sum(len(e) for e in encoded))
        return Verification(scores=scores, usage=usage)
