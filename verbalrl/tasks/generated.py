"""`GeneratedTask`: a task whose problems a program makes, with disjoint train/test splits.

In scope: turning a `generate(rng, split)` hook (or, for small finite problem
spaces, an `all_drafts(split)` hook) into deterministic, de-duplicated,
split-disjoint `Problem`s with stable ids. Left out: any concrete problem
family (see `last_letter.py`, `word_sort.py`, `arithmetic.py`).

How the splits stay disjoint: every question is assigned to train or test by
a hash of (task name, question), and a split only keeps questions assigned to
it. So no seed, count or option change can put one question in both splits,
even when a task draws train and test questions from the same distribution.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator

from .base import BaseTask, Problem, Split


@dataclass(frozen=True)
class Draft:
    """A generated question with its gold answer and optional JSON-safe task data."""

    question: str
    answer: str
    meta: dict[str, Any] = field(default_factory=dict)


def question_digest(task: str, question: str) -> str:
    """A stable hex digest of a question (independent of Python's hash seed)."""
    return hashlib.sha256(f"{task}\x00{question}".encode()).hexdigest()


def split_of(task: str, question: str, test_fraction: float) -> Split:
    """Which split a question belongs to: a hash partition, so it never depends on the seed."""
    bucket = int(question_digest(task, question)[:8], 16) / 0x1_0000_0000
    return "test" if bucket < test_fraction else "train"


class GeneratedTask(BaseTask):
    """Subclass, set `name`/`description`/`answer_kind`, and implement `generate`.

    `generate(rng, split)` returns a `Draft` (or a `(question, answer)` tuple)
    using only `rng` for randomness, so problems are reproducible per seed.
    The split argument lets a task make harder test problems (e.g. more words);
    problems whose hash belongs to the other split are dropped and redrawn.
    Tasks with a small finite problem space override `all_drafts` instead, so
    every problem of a split can be listed exactly.
    """

    # Share of the question space reserved for the test split.
    test_fraction: ClassVar[float] = 0.5
    # Draws per requested problem before concluding the split has no more distinct problems.
    max_draws_per_problem: ClassVar[int] = 50

    def generate(self, rng: random.Random, split: Split) -> Draft | tuple[str, str]:
        """One random problem for `split`; override this (or `all_drafts`)."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement generate(rng, split) or all_drafts(split)"
        )

    def all_drafts(self, split: Split) -> Sequence[Draft] | None:
        """Every problem of a small finite space, or None (the default) to use `generate`."""
        return None

    def sample_problems(self, split: Split, n: int, seed: int) -> list[Problem]:
        """Up to `n` distinct problems; fewer only when the split has fewer than `n`."""
        rng = random.Random(f"{self.name}:{split}:{seed}")
        pool = self._finite_pool(split)
        drafts: list[Draft] = []
        if pool is not None:
            pool = list(pool)
            rng.shuffle(pool)
            drafts = pool[:n]
        else:
            seen: set[str] = set()
            budget = max(1000, self.max_draws_per_problem * n)
            while len(drafts) < n and budget > 0:
                budget -= 1
                draft = _as_draft(self.generate(rng, split))
                if draft.question in seen:
                    continue
                seen.add(draft.question)
                if split_of(self.name, draft.question, self.test_fraction) == split:
                    drafts.append(draft)
        return [self._to_problem(draft, split, i) for i, draft in enumerate(drafts)]

    def _finite_pool(self, split: Split) -> list[Draft] | None:
        """The split's share of `all_drafts`, computed once per task instance (hashing is slow)."""
        cache: dict[Split, list[Draft] | None] = self.__dict__.setdefault("_split_pools", {})
        if split not in cache:
            finite = self.all_drafts(split)
            cache[split] = None if finite is None else self._distinct_in_split(finite, split)
        return cache[split]

    def _distinct_in_split(self, drafts: Sequence[Draft], split: Split) -> list[Draft]:
        seen: set[str] = set()
        kept: list[Draft] = []
        for draft in drafts:
            draft = _as_draft(draft)
            if draft.question in seen:
                continue
            seen.add(draft.question)
            if split_of(self.name, draft.question, self.test_fraction) == split:
                kept.append(draft)
        return kept

    def _to_problem(self, draft: Draft, split: Split, index: int) -> Problem:
        digest = question_digest(self.name, draft.question)[:8]
        return Problem(
            id=f"{self.name}-{split}-{index}-{digest}",
            task=self.name,
            split=split,
            question=draft.question,
            answer=draft.answer,
            meta=dict(draft.meta),
        )


def _as_draft(value: Draft | tuple[str, str]) -> Draft:
    if isinstance(value, Draft):
        return value
    if isinstance(value, tuple) and len(value) == 2:
        question, answer = value
        return Draft(question=str(question), answer=str(answer))
    raise TypeError(f"generate() must return a Draft or a (question, answer) tuple, got {value!r}")


class WordCountRanges(BaseModel):
    """Base of the word tasks' configs: `{train,test}_{min,max}_words`, checked to be ordered."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    train_min_words: int
    train_max_words: int
    test_min_words: int
    test_max_words: int

    @model_validator(mode="after")
    def _ranges_ordered(self) -> WordCountRanges:
        for split in ("train", "test"):
            low, high = getattr(self, f"{split}_min_words"), getattr(self, f"{split}_max_words")
            if low > high:
                raise ValueError(f"{split}_min_words ({low}) must not exceed {split}_max_words ({high})")
        return self

    def word_range(self, split: Split) -> tuple[int, int]:
        if split == "train":
            return self.train_min_words, self.train_max_words
        return self.test_min_words, self.test_max_words
