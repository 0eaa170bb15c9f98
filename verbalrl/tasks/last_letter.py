"""Last-letter concatenation: join the last letters of N words ("apple cherry" -> "ey").

In scope: the problem generator (train 2-4 words, test 5-6 by default, as in
the GenRM paper's length generalisation setup), answer parsing, and a
programmatic step-by-step reference solution (GenRM-CoT rationale material).
Left out: the word list (see `words.py`).
"""

from __future__ import annotations

import random
import re
from typing import Any

from pydantic import Field

from .answers import letters_only
from .base import Problem, Split, task_config
from .generated import GeneratedProblem, GeneratedTask, WordCountRanges
from .words import COMMON_WORDS

_QUOTED = re.compile(r'"([^"]+)"')


class LastLetterConfig(WordCountRanges):
    """Word counts per split; a bad value raises a `ValidationError` naming the field."""

    train_min_words: int = Field(2, ge=1, le=20)
    train_max_words: int = Field(4, ge=1, le=20)
    test_min_words: int = Field(5, ge=1, le=20)
    test_max_words: int = Field(6, ge=1, le=20)


def words_of(problem: Problem) -> list[str]:
    """The problem's words: from `meta["words"]`, else parsed from the quoted question text."""
    words = problem.meta.get("words")
    if isinstance(words, list) and all(isinstance(w, str) for w in words):
        return list(words)
    match = _QUOTED.search(problem.question)
    return match.group(1).split() if match else []


class LastLetterTask(GeneratedTask):
    """Concatenate the last letters of the given words, in order."""

    name = "last_letter"
    description = "Concatenate the last letters of N words (train 2-4 words, test 5-6)."
    answer_kind = "text"
    answer_format = "Give the letters joined as one lowercase string with no spaces."

    def __init__(self, config: LastLetterConfig | None = None, **options: Any) -> None:
        self.config = task_config(LastLetterConfig, config, options)

    def generate(self, rng: random.Random, split: Split) -> GeneratedProblem:
        low, high = self.config.word_range(split)
        words = rng.sample(COMMON_WORDS, rng.randint(low, high))
        return GeneratedProblem(
            question=(f'Take the last letters of the words in "{" ".join(words)}" and concatenate them.'),
            answer="".join(w[-1] for w in words),
            meta={"words": words},
        )

    def answer_from_segment(self, segment: str) -> str | None:
        # Models write "t n e a", "t, n, e, a", "tnea" or "the letters are tnea":
        # join spelled-out single letters, otherwise keep the last word.
        tokens = re.findall(r"[A-Za-z]+", segment)
        if not tokens:
            return None
        if all(len(t) == 1 for t in tokens):
            return "".join(tokens).lower()
        return tokens[-1].lower()

    def normalize(self, answer: str) -> str | None:
        return letters_only(answer) or None

    def reference_solution(self, problem: Problem) -> str | None:
        words = words_of(problem)
        if not words or not all(words):
            return None
        lines = [f"The words are: {', '.join(words)}."]
        joined = ""
        for word in words:
            letter = word[-1].lower()
            lines.append(f'The last letter of "{word}" is "{letter}".')
            if joined:
                lines.append(f'Concatenating: "{joined}" + "{letter}" = "{joined + letter}".')
            joined += letter
        lines.append(f'So the answer is "{joined}".')
        lines.append(f"Answer: {joined}")
        return "\n".join(lines)
