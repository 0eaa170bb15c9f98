"""Prompts to token ids through a Hugging Face tokenizer: shared by the in-process backends.

`TransformersLLM` and `LlamaCppLLM` render and tokenise prompts the same way (so both see the
same token ids): raw strings as they are, chats through the tokenizer's chat template (an
assistant-final chat is continued, for prefill), and a context check with a clear error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import ContextLengthError
from .base import Prompt


class TokenizerPrompts:
    """Mixin: needs `tokenizer`, `name` and `context_length` on the instance."""

    tokenizer: Any
    name: str
    context_length: int

    def render(self, prompt: Prompt) -> str:
        """The exact text the model sees: raw strings as-is, chats through the chat template."""
        if isinstance(prompt, str):
            return prompt
        if getattr(self.tokenizer, "chat_template", None) is None:
            # A base model without a template: a plain transcript is the honest fallback.
            lines = [f"{m['role']}: {m['content']}" for m in prompt]
            return "\n".join(lines) + "\nassistant:"
        if prompt[-1]["role"] == "assistant":
            # Prefill: continue the assistant's partial answer (e.g. a CoT rationale + verdict cue).
            return str(
                self.tokenizer.apply_chat_template(
                    prompt, tokenize=False, continue_final_message=True
                )
            )
        return str(
            self.tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
        )

    def encode(self, prompt: Prompt) -> list[int]:
        """Token ids of a prompt (specials come from the chat template, not added again)."""
        return list(self.tokenizer(self.render(prompt), add_special_tokens=False)["input_ids"])

    def _encode_checked(self, prompts: Sequence[Prompt], reserve: int) -> list[list[int]]:
        encoded = []
        for i, prompt in enumerate(prompts):
            ids = self.encode(prompt)
            if not ids:
                raise ValueError(f"prompts[{i}] encodes to no tokens")
            if len(ids) + reserve > self.context_length:
                raise ContextLengthError(
                    f"prompts[{i}] has {len(ids)} tokens; with {reserve} token(s) to generate it "
                    f"exceeds the context of {self.name} ({self.context_length} tokens). "
                    "Shorten the prompt or lower max_new_tokens."
                )
            encoded.append(ids)
        return encoded
