"""`GeneratedTask`: a task whose problems a program makes, with disjoint train/test splits.

In scope: turning a `generate(rng, split)` hook (or, for small finite problem
spaces, an `all_generated(split)` hook) into deterministic, de-duplicated,
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
class GeneratedProblem:
    """A generated question with its gold answer and optional JSON-safe task data."""

    question: str
    answer: str
    meta: dict[str, Any] = field(default_factory=dict)


# The name before 0.2 (it also meant a candidate solution in the graphs): kept for old imports.
Draft = GeneratedProblem


def question_digest(task: str, question: str) -> str:
    """A stable hex digest of a question (independent of Python's hash seed)."""
    return hashlib.sha256(f"{task}\x00{question}".encode()).hexdigest()


def split_of(task: str, question: str, test_fraction: float) -> Split:
    """Which split a question belongs to: a hash partition, so it never depends on the seed."""
    bucket = int(question_digest(task, question)[:8], 16) / 0x1_0000_0000
    return "test" if bucket < test_fraction else "train"


class GeneratedTask(BaseTask):
    """Subclass, set `name`/`description`/`answer_kind`, and implement `generate`.

    `generate(rng, split)` returns a `GeneratedProblem` (or a `(question, answer)` tuple)
    using only `rng` for randomness, so problems are reproducible per seed.
    The split argument lets a task make harder test problems (e.g. more words);
    problems whose hash belongs to the other split are dropped and redrawn.
    Tasks with a small finite problem space override `all_generated` instead, so
    every problem of a split can be listed exactly.
    """

    # Share of the question space reserved for the test split.
    test_fraction: ClassVar[float] = 0.5
    # Draws per requested problem before concluding the split has no more distinct problems.
    max_draws_per_problem: ClassVar[int] = 50

    def generate(self, rng: random.Random, split: Split) -> GeneratedProblem | tuple[str, str]:
        """One random problem for `split`; override this (or `all_generated`)."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement generate(rng, split) or all_generated(split)"
        )

    def all_generated(self, split: Split) -> Sequence[GeneratedProblem] | None:
        """Every problem of a small finite space, or None (the default) to use `generate`."""
        return None

    def sample_problems(self, split: Split, n: int, seed: int) -> list[Problem]:
        """Up to `n` distinct problems; fewer only when the split has fewer than `n`."""
        rng = random.Random(f"{self.name}:{split}:{seed}")
        pool = self._finite_pool(split)
        generated: list[GeneratedProblem] = []
        if pool is not None:
            pool = list(pool)
            rng.shuffle(pool)
            generated = pool[:n]
        else:
            seen: set[str] = set()
            budget = max(1000, self.max_draws_per_problem * n)
            while len(generated) < n and budget > 0:
                budget -= 1
                item = _as_generated(self.generate(rng, split))
                if item.question in seen:
                    continue
                seen.add(item.question)
                if split_of(self.name, item.question, self.test_fraction) == split:
                    generated.append(item)
        return [self._to_problem(item, split, i) for i, item in enumerate(generated)]

    def _finite_pool(self, split: Split) -> list[GeneratedProblem] | None:
        """The split's share of `all_generated`, computed once per task instance (hashing is slow)."""
        cache: dict[Split, list[GeneratedProblem] | None] = self.__dict__.setdefault("_split_pools", {})
        if split not in cache:
            finite = self.all_generated(split)
            cache[split] = None if finite is None else self._distinct_in_split(finite, split)
        return cache[split]

    def _distinct_in_split(
        self, generated: Sequence[GeneratedProblem], split: Split
    ) -> list[GeneratedProblem]:
        seen: set[str] = set()
        kept: list[GeneratedProblem] = []
        for item in generated:
            item = _as_generated(item)
            if item.question in seen:
                continue
            seen.add(item.question)
            if split_of(self.name, item.question, self.test_fraction) == split:
                kept.append(item)
        return kept

    def _to_problem(self, item: GeneratedProblem, split: Split, index: int) -> Problem:
        digest = question_digest(self.name, item.question)[:8]
        return Problem(
            id=f"{self.name}-{split}-{index}-{digest}",
            task=self.name,
            split=split,
            question=item.question,
            answer=item.answer,
            meta=dict(item.meta),
        )


def _as_generated(value: GeneratedProblem | tuple[str, str]) -> GeneratedProblem:
    if isinstance(value, GeneratedProblem):
        return value
    if isinstance(value, tuple) and len(value) == 2:
        question, answer = value
        return GeneratedProblem(question=str(question), answer=str(answer))
    raise TypeError(f"generate() must return a GeneratedProblem or a (question, answer) tuple, got {value!r}")


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
