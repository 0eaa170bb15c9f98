"""The vLLM offline engine as an `LLM` (GPU; `pip install verbalrl[vllm]`).

In scope: batched sampling with `n` samples per prompt, chat prompts through
the model's chat template, and next-token probabilities from vLLM's
`logprobs` (top-k per position; a candidate outside the top-k gets 0.0).
Left out: serving (use `vllm serve` and `OpenAILLM`), LoRA hot-swapping.

vllm is imported lazily, so importing verbalrl never needs it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..errors import BackendError
from .aliases import local_source, resolve_model
from .base import (
    Capabilities,
    Completion,
    GenerationConfig,
    Prompt,
    validate_candidates,
    validate_prompts,
)

# vLLM caps the number of logprobs it returns per position; 20 is its default max.
_TOP_LOGPROBS = 20


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise BackendError(
            "the vLLM backend needs the `vllm` package and a GPU: pip install 'verbalrl[vllm]'"
        ) from exc
    return vllm


class VLLMLLM:
    """A model served by vLLM's in-process engine (`vllm.LLM`)."""

    def __init__(self, name: str, **engine_options: Any) -> None:
        vllm = _import_vllm()
        self._vllm = vllm
        self.name = name
        source = local_source(resolve_model(name))
        self.engine = vllm.LLM(model=source, **engine_options)
        self.tokenizer = self.engine.get_tokenizer()
        self.capabilities = Capabilities(
            chat=True, raw_prompts=True, next_token_probs=True, seed=True
        )

    def _render(self, prompt: Prompt) -> str:
        if isinstance(prompt, str):
            return prompt
        return str(
            self.tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
        )

    def generate(
        self, prompts: Sequence[Prompt], config: GenerationConfig | None = None
    ) -> list[list[Completion]]:
        config = config or GenerationConfig()
        texts = [self._render(p) for p in validate_prompts(prompts)]
        params = self._vllm.SamplingParams(
            n=config.n,
            temperature=config.temperature,
            top_p=config.top_p,
            max_tokens=config.max_new_tokens,
            stop=list(config.stop) or None,
            seed=config.seed,
        )
        outputs = self.engine.generate(texts, params, use_tqdm=False)
        result = []
        for out in outputs:
            prompt_tokens = len(out.prompt_token_ids or [])
            result.append(
                [
                    Completion(
                        text=o.text,
                        prompt_tokens=prompt_tokens,
                        completion_tokens=len(o.token_ids),
                        finish_reason="length" if o.finish_reason == "length" else "stop",
                    )
                    for o in out.outputs
                ]
            )
        return result

    def next_token_probs(
        self, prompts: Sequence[Prompt], candidates: Sequence[str]
    ) -> list[dict[str, float]]:
        cands = validate_candidates(candidates)
        result = []
        for top in self.top_logprobs(prompts, _TOP_LOGPROBS):
            found = dict(top)
            result.append({c: math.exp(found[c]) if c in found else 0.0 for c in cands})
        return result

    def top_logprobs(self, prompts: Sequence[Prompt], k: int = 20) -> list[list[tuple[str, float]]]:
        texts = [self._render(p) for p in validate_prompts(prompts)]
        params = self._vllm.SamplingParams(n=1, temperature=0.0, max_tokens=1, logprobs=k)
        outputs = self.engine.generate(texts, params, use_tqdm=False)
        result = []
        for out in outputs:
            position = out.outputs[0].logprobs[
                0
            ]  # {token_id: Logprob(logprob, rank, decoded_token)}
            ranked = sorted(position.items(), key=lambda kv: -kv[1].logprob)[:k]
            result.append(
                [
                    (lp.decoded_token or self.tokenizer.decode([tid]), float(lp.logprob))
                    for tid, lp in ranked
                ]
            )
        return result
