"""GenRM (direct): score = p("Yes") after `Is the answer correct (Yes/No)?`.

In scope: scoring candidates of one problem or of many problems in one
batched call (the backend runs each question's shared prefix once), both the
raw p(Yes) and the normalised p(Yes)/(p(Yes)+p(No)), and loading a trained
verifier folder. Works on any backend with next-token probabilities
(transformers, vLLM, an OpenAI-compatible server with logprobs). Left out:
CoT verification (`genrm_cot.py`) and training (`verbalrl.training.sft_trainer`).

An untrained small model is a poor judge (DESIGN.md measured 1.3% Best-of-8
against 7.5% for the first sample), so `load()` of a plain model warns.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from ..errors import CapabilityError
from ..llm.base import LLM, Prompt
from ..tasks.base import Problem
from .artifact import is_artifact, load_artifact_llm
from .base import Usage, Verification, check_candidates
from .prompts import VERDICT_TOKENS, direct_prompt, yes_probability

log = logging.getLogger(__name__)

ScoreKind = Literal["yes", "normalized"]


def require_next_token_probs(llm: LLM) -> None:
    if not llm.capabilities.next_token_probs:
        raise CapabilityError(
            f"{llm.name} does not give next-token probabilities, which GenRM needs "
            "(use a transformers or vLLM model, or a server that returns logprobs)"
        )


def count_prompt_tokens(llm: LLM, prompts: Sequence[Any]) -> int:
    """Prompt tokens, where the backend can count them (0 otherwise)."""
    encode = getattr(llm, "encode", None)
    return sum(len(encode(p)) for p in prompts) if callable(encode) else 0


class GenRMVerifier:
    """Direct generative verifier: one forward pass per candidate, read p(Yes)."""

    def __init__(self, llm: LLM, *, score: ScoreKind = "yes", name: str = "genrm") -> None:
        require_next_token_probs(llm)
        if score not in ("yes", "normalized"):
            raise ValueError("score must be 'yes' or 'normalized'")
        self.llm = llm
        self.score = score
        self.name = name

    @classmethod
    def load(cls, name: str | Path, *, score: ScoreKind = "yes", **options: Any) -> GenRMVerifier:
        """Load a trained verifier folder, or a plain model name (untrained: a warning)."""
        if is_artifact(name):
            llm, meta = load_artifact_llm(name, ("genrm", "genrm_cot"), **options)
            return cls(llm, score=score, name=f"genrm:{Path(str(name)).name}")
        log.warning("GenRM on an untrained model (%s): expect a poor verifier", name)
        from ..llm.registry import load_llm

        return cls(load_llm(str(name), **options), score=score, name=f"genrm:{name}")

    def verify(self, problem: Problem, candidates: Sequence[str]) -> Verification:
        return self.verify_many([(problem, candidates)])[0]

    def verify_many(self, items: Sequence[tuple[Problem, Sequence[str]]]) -> list[Verification]:
        """Score several problems' candidates in one backend call (prefixes shared per question)."""
        prompts: list[Prompt] = []
        spans: list[tuple[int, int]] = []
        for problem, candidates in items:
            cands = check_candidates(candidates)
            start = len(prompts)
            prompts += [direct_prompt(problem.question, c) for c in cands]
            spans.append((start, len(prompts)))
        if not prompts:
            return []
        probs = self.llm.next_token_probs(prompts, list(VERDICT_TOKENS))
        results = []
        for start, end in spans:
            pairs = [yes_probability(p) for p in probs[start:end]]
            scores = [yes if self.score == "yes" else norm for yes, norm in pairs]
            usage = Usage(
                llm_calls=end - start,
                prompt_tokens=count_prompt_tokens(self.llm, prompts[start:end]),
            )
            details: list[dict[str, object]] = [
                {"p_yes": yes, "p_yes_normalized": norm} for yes, norm in pairs
            ]
            results.append(Verification(scores=scores, usage=usage, details=details))
        return results
