"""Word sorting: list N distinct words in alphabetical order, separated by spaces.

In scope: the generator (train 2-4 words, test 5 by default, as in the GenRM
paper), answer parsing, and a programmatic selection-sort reference solution
that explains each choice letter by letter (GenRM-CoT rationale material).
Left out: the word list (see `words.py`).
"""

from __future__ import annotations

import random
import re
from typing import Any

from pydantic import Field

from .answers import words_only
from .base import Problem, Split, task_config
from .generated import GeneratedProblem, GeneratedTask, WordCountRanges
from .words import COMMON_WORDS

_AFTER_COLON = re.compile(r"^[^:]*:\s*")


class WordSortConfig(WordCountRanges):
    """Word counts per split; a bad value raises a `ValidationError` naming the field."""

    train_min_words: int = Field(2, ge=2, le=20)
    train_max_words: int = Field(4, ge=2, le=20)
    test_min_words: int = Field(5, ge=2, le=20)
    test_max_words: int = Field(5, ge=2, le=20)


def words_of(problem: Problem) -> list[str]:
    """The words to sort: `meta["words"]`, else the words after the question's colon."""
    words = problem.meta.get("words")
    if isinstance(words, list) and all(isinstance(w, str) for w in words):
        return list(words)
    _, _, tail = problem.question.partition(":")
    return words_only(tail)


def _why_first(best: str, runner_up: str) -> str:
    """Why `best` sorts before `runner_up`, named by the first letter where they differ."""
    common = 0
    while common < min(len(best), len(runner_up)) and best[common] == runner_up[common]:
        common += 1
    if common == len(best):
        return f'"{best}" is a prefix of "{runner_up}", and the shorter word comes first'
    if common == 0:
        return f'"{best[0]}" comes before "{runner_up[0]}"'
    return f'both start with "{best[:common]}", then "{best[common]}" comes before "{runner_up[common]}"'


class WordSortTask(GeneratedTask):
    """Sort the given words alphabetically; the answer is the sorted words joined by spaces."""

    name = "word_sort"
    description = "Sort N words alphabetically (train 2-4 words, test 5)."
    answer_kind = "text"
    answer_format = "Give the sorted words on one line, separated by single spaces."

    def __init__(self, config: WordSortConfig | None = None, **options: Any) -> None:
        self.config = task_config(WordSortConfig, config, options)

    def generate(self, rng: random.Random, split: Split) -> GeneratedProblem:
        low, high = self.config.word_range(split)
        words = rng.sample(COMMON_WORDS, rng.randint(low, high))
        return GeneratedProblem(
            question=f"Sort the following words alphabetically: {' '.join(words)}",
            answer=" ".join(sorted(words)),
            meta={"words": words},
        )

    def answer_from_segment(self, segment: str) -> str | None:
        # "Answer: The sorted words are: a b c" -> keep what follows the last colon.
        tail = segment.rsplit(":", 1)[-1] if ":" in segment else segment
        words = words_only(tail)
        return " ".join(words) if words else None

    def normalize(self, answer: str) -> str | None:
        # Commas, "and", case and spacing do not matter; order and spelling do.
        words = [w for w in words_only(answer) if w != "and"]
        return " ".join(words) or None

    def reference_solution(self, problem: Problem) -> str | None:
        words = words_of(problem)
        if not words:
            return None
        lines = [
            f"The words to sort are: {', '.join(words)}.",
            "I repeatedly pick the word that comes first alphabetically, comparing letter by letter.",
        ]
        remaining = list(words)
        placed: list[str] = []
        step = 1
        while remaining:
            ordered = sorted(remaining)
            best = ordered[0]
            if len(ordered) == 1:
                lines.append(f'Step {step}: only "{best}" is left.')
            else:
                lines.append(
                    f'Step {step}: among {", ".join(remaining)}, "{best}" comes first '
                    f"({_why_first(best, ordered[1])})."
                )
            remaining.remove(best)
            placed.append(best)
            step += 1
        result = " ".join(placed)
        lines.append(f"Sorted: {result}")
        lines.append(f"Answer: {result}")
        return "\n".join(lines)
