"""LLM-as-a-Judge: the prompted (untrained) verifier baseline with K sampled votes.

In scope: `LLMJudgeVerifier`, which asks any `LLM` whether a solution to a
question is correct, samples K judgments per candidate (one `generate` call
per problem), parses each judgment's final Yes/No verdict and scores a
candidate by the fraction of Yes among the parsed votes; and
`parse_verdict`, the parser for that untrusted text. Left out: trained
verifiers (`genrm.py`, `genrm_cot.py`, `orm.py`) and reading next-token
probabilities (the judge only samples text, so it works with any backend).

The judge sees `problem.question` and the candidate only, never the gold
answer. A judgment without a verdict is a missing vote, never an error; a
candidate with no parsed vote scores 0.5 (no evidence either way).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..llm.base import LLM, GenerationConfig, Message
from ..tasks.base import Problem
from .base import Usage, Verification, check_candidates

SYSTEM_PROMPT = (
    "You are a strict grader. You check whether a proposed solution to a problem "
    "reaches the correct final answer."
)
USER_TEMPLATE = (
    "Question:\n{question}\n\n"
    "Proposed solution:\n{solution}\n\n"
    "Is the final answer of the proposed solution correct? Check it briefly, "
    "then end with a last line that is exactly `Verdict: Yes` or `Verdict: No`."
)

# "Verdict: Yes", "**Verdict**: no.", "verdict - YES": the last one in the text counts.
_VERDICT = re.compile(r"verdict\W{0,6}(?:is\W{1,4})?(yes|no)\b", re.IGNORECASE)
# A bare last line "Yes." / "No" is also an unambiguous verdict.
_BARE = re.compile(r"\W*(yes|no)\W*", re.IGNORECASE)


def parse_verdict(text: object) -> bool | None:
    """True for Yes, False for No, None when the judgment states no verdict (any input)."""
    if not isinstance(text, str):
        return None
    matches = _VERDICT.findall(text)
    if matches:
        return matches[-1].lower() == "yes"
    lines = [line for line in text.splitlines() if line.strip()]
    if lines:
        bare = _BARE.fullmatch(lines[-1])
        if bare:
            return bare.group(1).lower() == "yes"
    return None


def judge_prompt(question: str, solution: str) -> list[Message]:
    """The chat prompt asking for a verdict on one solution."""
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": USER_TEMPLATE.format(question=question, solution=solution)},
    ]


class LLMJudgeVerifier:
    """Prompted judge: score = fraction of Yes among K sampled verdicts (0.5 if none parse).

    Usage counts K LLM calls per candidate plus every prompt and generated token.
    `details[i]` holds candidate i's votes (True/False/None), counts and judgments.
    """

    def __init__(
        self,
        llm: LLM,
        k: int = 4,
        temperature: float = 0.7,
        *,
        max_new_tokens: int = 128,
        seed: int | None = None,
        name: str = "llm_judge",
    ) -> None:
        if k < 1:
            raise ValueError(f"k must be >= 1 judgments per candidate, got {k}")
        self.llm = llm
        self.k = k
        self.name = name
        # Validated here, so a bad temperature fails at construction, not mid-evaluation.
        self.config = GenerationConfig(
            n=k, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed
        )

    def verify(self, problem: Problem, candidates: Sequence[str]) -> Verification:
        items = check_candidates(candidates)
        prompts = [judge_prompt(problem.question, c) for c in items]
        rows = self.llm.generate(prompts, self.config)
        if len(rows) != len(items):
            raise ValueError(f"{self.llm.name} returned {len(rows)} rows for {len(items)} prompts")
        usage = Usage()
        scores: list[float] = []
        details: list[dict[str, object]] = []
        for row in rows:
            votes = [parse_verdict(c.text) for c in row]
            yes = sum(1 for v in votes if v is True)
            no = sum(1 for v in votes if v is False)
            scores.append(yes / (yes + no) if yes + no else 0.5)
            details.append(
                {
                    "votes": votes,
                    "yes": yes,
                    "no": no,
                    "missing": len(votes) - yes - no,
                    "judgments": [c.text for c in row],
                }
            )
            usage = usage.add(
                Usage(
                    llm_calls=len(row),
                    prompt_tokens=sum(c.prompt_tokens for c in row),
                    generated_tokens=sum(c.completion_tokens for c in row),
                )
            )
        return Verification(scores=scores, usage=usage, details=details)
