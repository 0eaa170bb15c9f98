"""GenRM-CoT: sample K verification rationales, then average p(Yes) over them.

In scope: for each candidate, K rationales after `Let's verify step by step.`
(one batched `generate` call for all candidates x K), then the verdict
probability after `Verification: Is the answer correct (Yes/No)?` with the
rationale prefilled as the assistant's turn (one batched scoring call), and
the average over votes ("majority voting" in the paper). A vote whose
verdict tokens carry almost no probability (the model did not answer Yes or
No) is counted as missing, never as a crash. Left out: training.

Prefilling the assistant turn needs a backend that continues a partial
assistant message (transformers does; OpenAI-compatible chat servers
generally do not).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import CapabilityError
from ..llm.base import LLM, GenerationConfig
from ..tasks.base import Problem
from .artifact import is_artifact, load_artifact_llm
from .base import Usage, Verification, check_candidates
from .genrm import ScoreKind, count_prompt_tokens, require_next_token_probs
from .prompts import COT_VERDICT, VERDICT_TOKENS, cot_prompt, cot_verdict_prompt, yes_probability

# Below this total probability on Yes/No the model did not give a verdict: a missing vote.
MIN_VERDICT_MASS = 0.05


class GenRMCoTVerifier:
    """Generative verifier with K sampled chain-of-thought rationales per candidate."""

    def __init__(
        self,
        llm: LLM,
        *,
        k: int = 4,
        temperature: float = 0.7,
        max_rationale_tokens: int = 160,
        score: ScoreKind = "yes",
        seed: int | None = 0,
        name: str = "genrm_cot",
    ) -> None:
        require_next_token_probs(llm)
        if not getattr(llm.capabilities, "prefill", True):
            raise CapabilityError(
                f"{llm.name} cannot continue a prefilled assistant turn, which GenRM-CoT's verdict step "
                "needs (chat APIs such as a LangChain chat model cannot): use the direct GenRM "
                "(genrm) with it, or a local backend (transformers, vLLM) for GenRM-CoT"
            )
        if k < 1:
            raise ValueError("k (rationales per candidate) must be >= 1")
        self.llm = llm
        self.k = k
        self.score = score
        self.name = name
        self.config = GenerationConfig(
            n=k,
            temperature=temperature,
            max_new_tokens=max_rationale_tokens,
            stop=(COT_VERDICT, "Verification:"),
            seed=seed,
        )

    @classmethod
    def load(cls, name: str | Path, *, k: int = 4, **options: Any) -> GenRMCoTVerifier:
        """Load a trained CoT verifier folder (or a plain model name, untrained)."""
        model_options = {key: options.pop(key) for key in ("dtype", "base_model") if key in options}
        if is_artifact(name):
            llm, _ = load_artifact_llm(name, ("genrm_cot",), **model_options)
            return cls(llm, k=k, name=f"genrm_cot:{Path(name).name}", **options)
        from ..llm.registry import load_llm

        return cls(load_llm(str(name), **model_options), k=k, name=f"genrm_cot:{name}", **options)

    def verify(self, problem: Problem, candidates: Sequence[str]) -> Verification:
        cands = check_candidates(candidates)
        prompts = [cot_prompt(problem.question, c) for c in cands]
        samples = self.llm.generate(prompts, self.config)
        verdict_prompts = [
            cot_verdict_prompt(problem.question, cand, completion.text)
            for cand, row in zip(cands, samples, strict=True)
            for completion in row
        ]
        probs = self.llm.next_token_probs(verdict_prompts, list(VERDICT_TOKENS))
        scores, details = [], []
        for i, row in enumerate(samples):
            votes = []
            for j in range(len(row)):
                p = probs[i * self.k + j]
                yes, norm = yes_probability(p)
                mass = sum(p.get(t, 0.0) for t in VERDICT_TOKENS)
                if mass >= MIN_VERDICT_MASS:
                    votes.append(yes if self.score == "yes" else norm)
            scores.append(sum(votes) / len(votes) if votes else 0.0)
            details.append(
                {
                    "votes": votes,
                    "missing_votes": len(row) - len(votes),
                    "rationales": [c.text for c in row],
                }
            )
        generated = sum(c.completion_tokens for row in samples for c in row)
        usage = Usage(
            llm_calls=len(cands) * self.k * 2,  # a rationale and a verdict pass per vote
            prompt_tokens=count_prompt_tokens(self.llm, prompts) * self.k,
            generated_tokens=generated,
        )
        return Verification(scores=scores, usage=usage, details=details)
