"""Near-duplicate detection and merging of records.

In scope: deciding that two records say the same thing (same task, same
status, embeddings above the cosine threshold, and texts that differ only a
little) and folding one into the other: the count adds up, the content id of
the newcomer is remembered (so re-sending it is a no-op), and the better
attempt (higher verifier score, newer on ties) supplies the problem and text. Left out:
finding the candidates (each backend, in batches) and applying the
verdicts to a write batch (`dedupe.py`).

Why texts are compared too: MiniLM puts two GSM8K problems that differ in one
number ("48 clips" / "46 clips") at 0.99 cosine, and their worked solutions
are over 85 % the same characters. So two experiences also need the same
numbers, in the same order, in their solutions: a number is content (the
answer, a step), not wording, and an exemplar that pairs one problem with
another problem's numbers would teach the wrong thing.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from .records import MAX_ALIASES, Experience, Reflection
from .sanitize import normalise_for_key

# Character similarity two texts need to count as the same content; texts
# are compared on their first `_COMPARE_CHARS` characters to bound the cost.
TEXT_SIMILARITY = 0.85
_COMPARE_CHARS = 1_000


def text_similarity(a: str, b: str) -> float:
    """Ratio in [0, 1] of matching characters of two normalised texts."""
    na, nb = normalise_for_key(a)[:_COMPARE_CHARS], normalise_for_key(b)[:_COMPARE_CHARS]
    if na == nb:
        return 1.0
    matcher = SequenceMatcher(None, na, nb, autojunk=False)
    if matcher.real_quick_ratio() < TEXT_SIMILARITY or matcher.quick_ratio() < TEXT_SIMILARITY:
        return 0.0
    return matcher.ratio()


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def numbers(text: str) -> list[str]:
    """The numbers in `text`, in order, as written (compared on the same prefix as the texts)."""
    return _NUMBER.findall(normalise_for_key(text)[:_COMPARE_CHARS])


def same_experience(a: Experience, b: Experience, cosine: float, threshold: float) -> bool:
    """Whether b is a near-duplicate of a (and may merge into it)."""
    return (
        cosine >= threshold
        and a.task == b.task
        and a.status == b.status
        and numbers(a.solution) == numbers(b.solution)
        and text_similarity(a.solution, b.solution) >= TEXT_SIMILARITY
    )


def same_reflection(a: Reflection, b: Reflection, cosine: float, threshold: float) -> bool:
    """Whether b states the same lesson about the same problem as a."""
    return cosine >= threshold and a.task == b.task and text_similarity(a.text, b.text) >= TEXT_SIMILARITY


def already_merged(kept: Experience | Reflection, incoming: Experience | Reflection) -> bool:
    """True when `incoming` is `kept` itself or was merged into it before (idempotency)."""
    return incoming.id == kept.id or incoming.id in kept.aliases


def _aliases(kept: Experience | Reflection, incoming: Experience | Reflection) -> tuple[str, ...]:
    # The newcomer's own id goes last so truncation never drops it: re-sending it must stay a no-op.
    merged = dict.fromkeys((*kept.aliases, *incoming.aliases, incoming.id))
    merged.pop(kept.id, None)
    return tuple(merged)[-MAX_ALIASES:]


def merge_experience(kept: Experience, incoming: Experience) -> Experience:
    """`kept` (same id) with `incoming` folded in; the better attempt's problem and text win."""
    better = (incoming.score or 0.0, incoming.seen_at) > (kept.score or 0.0, kept.seen_at)
    update: dict[str, object] = {
        "count": kept.count + incoming.count,
        "aliases": _aliases(kept, incoming),
        "last_seen": max(kept.seen_at, incoming.seen_at),
        "reflection": kept.reflection or incoming.reflection,
    }
    if better:
        # The problem moves with its solution: a record never pairs one problem
        # with another problem's answer (the caller re-embeds the new problem).
        update |= {
            "problem": incoming.problem,
            "solution": incoming.solution,
            "score": incoming.score,
            "provenance": incoming.provenance,
            "reflection": incoming.reflection or kept.reflection,
        }
    return kept.model_copy(update=update)


def merge_reflection(kept: Reflection, incoming: Reflection) -> Reflection:
    """`kept` with the count and aliases of `incoming` added."""
    return kept.model_copy(
        update={
            "count": kept.count + incoming.count,
            "aliases": _aliases(kept, incoming),
            "last_seen": max(kept.seen_at, incoming.seen_at),
        }
    )
