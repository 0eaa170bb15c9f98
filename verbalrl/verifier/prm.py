"""The process verifier in the GenRM style: p("Yes") to "Is this step correct?" after every step.

The sequence a PRM reads is the prompt head (`prompts.step_prompt_head`: the
question and the instruction, through the chat template) followed by each
step and the step question::

    <head> 23 + 18 = 41
    Is this step correct (Yes/No)?
    41 - 7 = 35
    Is this step correct (Yes/No)?
    ...

No verdict is written into the sequence, so the whole candidate is read in
one forward pass and the next-token distribution at the end of every step
question is the score of the solution up to that step (causal attention: a
step's score never sees what follows). Training (`verbalrl.training.
prm_trainer`) puts its loss at exactly these positions, from the same
`encode_steps`, so scoring and training never drift. The pieces are
tokenised separately and concatenated, so a step question always ends on a
token boundary whatever the tokenizer merges.

In scope: encoding, reading all step positions at once (`step_verdicts`),
`PRMVerifier` (a `ProcessVerifier` and, through an aggregation, a
`Verifier`). Needs a transformers model (it reads hidden states); other
backends raise `CapabilityError`. Candidates are untrusted text: each step is
cut to `MAX_STEP_CHARS`, and steps past the token limit are not read (they
get the last read step's score, with a warning).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CapabilityError
from ..llm.base import LLM
from ..tasks.answers import split_steps
from ..tasks.base import Problem
from .artifact import is_artifact, load_artifact_llm
from .base import Usage, Verification, check_candidates
from .process import Aggregation, OutcomeFromProcess, StepScores, aggregate
from .prompts import NO_TOKENS, STEP_QUESTION, YES_TOKENS, step_prompt_head

log = logging.getLogger(__name__)

MAX_STEP_CHARS = 400
MAX_STEPS = 64


@dataclass(frozen=True)
class EncodedSteps:
    """Token ids of one candidate and the positions whose next token is a step verdict."""

    ids: list[int]
    positions: list[int]
    steps: list[str]  # the steps read, one per position


def encode_steps(llm: Any, question: str, steps: Sequence[str], max_tokens: int) -> EncodedSteps:
    """Head + (step, step question) pieces up to `max_tokens`; positions of each question's last token."""
    ids = list(llm.encode(step_prompt_head(question)))
    positions: list[int] = []
    read: list[str] = []
    newline = llm.tokenizer("\n", add_special_tokens=False)["input_ids"]
    for i, step in enumerate(steps[:MAX_STEPS]):
        text = f"{step[:MAX_STEP_CHARS]}\n{STEP_QUESTION}"
        piece = llm.tokenizer(text, add_special_tokens=False)["input_ids"]
        gap = newline if i else []
        if len(ids) + len(gap) + len(piece) > max_tokens:
            break
        ids += gap + piece
        positions.append(len(ids) - 1)
        read.append(step)
    return EncodedSteps(ids, positions, read)


def split_causal_lm(model: Any) -> tuple[Any, Any]:
    """(decoder body, output head) of a causal LM, also inside a PEFT wrapper (adapters stay on)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return base.get_decoder(), base.get_output_embeddings()


def position_logits(model: Any, sequences: Sequence[EncodedSteps], pad_id: int) -> Any:
    """Logits at every step position of every sequence, in order: a [positions, vocab] tensor.

    One forward pass over the right-padded batch; the head runs only at the
    step positions (not over every token of the vocabulary at every position).
    """
    import torch

    body, head = split_causal_lm(model)
    device = next(model.parameters()).device
    width = max(len(s.ids) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long, device=device)
    mask = torch.zeros((len(sequences), width), dtype=torch.long, device=device)
    rows, cols = [], []
    for i, s in enumerate(sequences):
        ids[i, : len(s.ids)] = torch.tensor(s.ids, dtype=torch.long)
        mask[i, : len(s.ids)] = 1
        rows += [i] * len(s.positions)
        cols += s.positions
    hidden = body(input_ids=ids, attention_mask=mask).last_hidden_state
    return head(hidden[torch.tensor(rows, device=device), torch.tensor(cols, device=device)])


def verdict_ids(llm: Any) -> tuple[list[int], list[int]]:
    """Token ids of the Yes and No spellings (with and without a leading space) that are one token."""

    def ids(tokens: Sequence[str]) -> list[int]:
        out = []
        for t in tokens:
            encoded = llm.tokenizer(t, add_special_tokens=False)["input_ids"]
            if len(encoded) == 1:
                out.append(int(encoded[0]))
        return out

    yes, no = ids(YES_TOKENS), ids(NO_TOKENS)
    if not yes or not no:
        raise CapabilityError(f"{llm.name}: neither spelling of Yes/No is a single token")
    return yes, no


def require_transformers(llm: LLM) -> None:
    if not (hasattr(llm, "model") and hasattr(llm, "tokenizer") and callable(getattr(llm, "encode", None))):
        raise CapabilityError(
            f"{getattr(llm, 'name', llm)!r}: a process verifier reads hidden states at every step, "
            "so it needs a transformers model (TransformersLLM)"
        )


class PRMVerifier:
    """GenRM-style process verifier: one forward pass per candidate, every step's p(Yes) read at once.

    `how` aggregates step scores when used as a `Verifier` (Best-of-N):
    "last", "min" or "prod". `max_tokens` caps a candidate's sequence (default:
    the model's context); `batch_size` candidates share a forward pass.
    """

    def __init__(
        self,
        llm: LLM,
        *,
        how: Aggregation = "min",
        max_tokens: int | None = None,
        batch_size: int = 16,
        name: str = "prm",
    ) -> None:
        require_transformers(llm)
        aggregate([], how)  # validates `how`
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.llm: Any = llm
        self.how = how
        self.max_tokens: int = max_tokens or int(getattr(llm, "context_length", None) or 2048)
        self.batch_size = batch_size
        self.name = name
        self._yes, self._no = verdict_ids(self.llm)

    @classmethod
    def load(cls, folder: str | Path, *, how: Aggregation = "min", **options: Any) -> PRMVerifier:
        """Load a trained PRM folder (from `verbalrl train-prm`)."""
        llm, _meta = load_artifact_llm(folder, ("prm",), **options)
        return cls(llm, how=how, name=f"prm:{Path(str(folder)).name}")

    def score_steps(self, problem: Problem, candidates: Sequence[str]) -> StepScores:
        return self.score_steps_many([(problem, candidates)])[0]

    def score_steps_many(self, items: Sequence[tuple[Problem, Sequence[str]]]) -> list[StepScores]:
        """Step scores for several problems' candidates, `batch_size` candidates per forward pass."""
        import torch

        encoded: list[EncodedSteps] = []
        spans, all_steps = [], []
        for problem, candidates in items:
            start = len(encoded)
            for candidate in check_candidates(candidates):
                steps = split_steps(candidate)
                all_steps.append(steps)
                encoded.append(encode_steps(self.llm, problem.question, steps, self.max_tokens))
            spans.append((start, len(encoded)))
        scores: list[list[float]] = [[] for _ in encoded]
        readable = [i for i, e in enumerate(encoded) if e.positions]
        lock = getattr(self.llm, "_lock", None) or nullcontext()
        with lock, torch.inference_mode():
            for chunk_start in range(0, len(readable), self.batch_size):
                chunk = readable[chunk_start : chunk_start + self.batch_size]
                logits = position_logits(self.llm.model, [encoded[i] for i in chunk], self._pad_id())
                probs = logits.float().softmax(-1)
                yes = probs[:, self._yes].sum(-1).clamp(max=1.0).tolist()
                offset = 0
                for i in chunk:
                    n = len(encoded[i].positions)
                    scores[i] = yes[offset : offset + n]
                    offset += n
        for i, (steps, e) in enumerate(zip(all_steps, encoded, strict=True)):
            if len(e.steps) < len(steps):
                log.warning("%d of %d steps fit in %d tokens: the rest get the last read score",
                            len(e.steps), len(steps), self.max_tokens)  # fmt: skip
                fill = scores[i][-1] if scores[i] else 0.0
                scores[i] = scores[i] + [fill] * (len(steps) - len(e.steps))
        return [
            StepScores(
                steps=all_steps[start:end],
                scores=scores[start:end],
                usage=Usage(llm_calls=end - start, prompt_tokens=sum(len(e.ids) for e in encoded[start:end])),
            )
            for start, end in spans
        ]

    def verify(self, problem: Problem, candidates: Sequence[str]) -> Verification:
        return OutcomeFromProcess(self, self.how).verify(problem, candidates)

    def _pad_id(self) -> int:
        tok = self.llm.tokenizer
        return int(tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id)


def load_prm(name: str | Path, *, how: Aggregation = "min", **options: Any) -> PRMVerifier:
    """A trained PRM folder, or a plain model (untrained: a poor process verifier, with a warning)."""
    if is_artifact(name):
        return PRMVerifier.load(name, how=how, **options)
    from ..llm.registry import load_llm

    log.warning("PRM on an untrained model (%s): expect a poor process verifier", name)
    return PRMVerifier(load_llm(str(name), **options), how=how, name=f"prm:untrained:{name}")
