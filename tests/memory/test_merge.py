"""Direct tests of near-duplicate detection and merging (`memory/merge.py`).

Pinned here: texts are compared after normalisation (case, whitespace) and
must be nearly equal, so problems whose embeddings are close but whose
answers differ never merge; task and status must match; a merge adds the
counts, keeps the kept id, remembers the incoming id (bounded by
`MAX_ALIASES`) so that re-sending it is detected, and takes problem and
solution together from the better attempt (higher score, newer on ties).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from verbalrl.memory import Experience, Reflection
from verbalrl.memory.merge import (
    TEXT_SIMILARITY,
    already_merged,
    merge_experience,
    merge_reflection,
    same_experience,
    same_reflection,
    text_similarity,
)
from verbalrl.memory.records import MAX_ALIASES, Provenance

T0 = datetime(2024, 1, 1, tzinfo=UTC)
THRESHOLD = 0.95
CLOSE = 0.97  # a cosine above THRESHOLD: only the other rules decide


def _exp(problem: str = "What is 23 + 45?", solution: str = "68", **fields: Any) -> Experience:
    data: dict[str, Any] = {"task": "arith", "outcome": "success", "verified": True, "created_at": T0}
    data.update(fields)
    return Experience(problem=problem, solution=solution, **data)


def _ref(text: str = "Carry the one when the ones add past nine.", **fields: Any) -> Reflection:
    data: dict[str, Any] = {"task": "arith", "problem": "What is 27 + 45?", "created_at": T0}
    data.update(fields)
    return Reflection(text=text, **data)


# ------------------------------------------------------------------ text_similarity


def test_identical_texts_are_fully_similar() -> None:
    assert text_similarity("23 + 45 = 68", "23 + 45 = 68") == 1.0
    assert text_similarity("", "") == 1.0


def test_case_and_whitespace_do_not_count() -> None:
    assert text_similarity("The Answer is  68\n", "  the answer IS 68") == 1.0
    assert text_similarity("a\tb\n\nc", "A B C") == 1.0


def test_different_short_answers_are_not_similar() -> None:
    assert text_similarity("68", "69") < TEXT_SIMILARITY
    assert text_similarity("68", "") == 0.0


def test_similarity_is_a_ratio_in_unit_range_and_symmetric() -> None:
    pairs = [
        ("compute the area of a circle", "compute the area of a square"),
        ("x" * 50, "x" * 49 + "y"),
        ("abc", "xyz"),
    ]
    for a, b in pairs:
        s = text_similarity(a, b)
        assert 0.0 <= s <= 1.0
        assert s == pytest.approx(text_similarity(b, a))


def test_a_small_edit_in_a_long_text_stays_similar() -> None:
    base = "Let me add the tens first and then the ones, carefully, step by step. " * 3
    assert text_similarity(base, base.replace("carefully", "carefuly", 1)) >= TEXT_SIMILARITY


def test_only_the_first_thousand_characters_are_compared() -> None:
    """Texts that agree on a long prefix count as equal whatever follows (a bounded cost)."""
    prefix = "step " * 250  # 1 250 characters
    assert text_similarity(prefix + "Answer: 68", prefix + "Answer: 99999 completely different") == 1.0


# ------------------------------------------------------------------ same_experience


def test_close_problems_with_different_answers_do_not_merge() -> None:
    """The module's own example: embeddings above threshold, but the solutions differ."""
    a = _exp("What is 23 + 45?", "68")
    b = _exp("What is 23 + 46?", "69")
    assert not same_experience(a, b, CLOSE, THRESHOLD)


def test_same_answer_written_differently_merges() -> None:
    a = _exp("What is 23 + 45?", "The answer is 68.")
    b = _exp("what is 23 + 45 ?", "the answer  is 68.")
    assert same_experience(a, b, CLOSE, THRESHOLD)


def test_cosine_threshold_is_inclusive_and_required() -> None:
    a, b = _exp(solution="68"), _exp(problem="What's 23 + 45?", solution="68")
    assert same_experience(a, b, THRESHOLD, THRESHOLD)
    assert not same_experience(a, b, THRESHOLD - 1e-6, THRESHOLD)


def test_different_task_never_merges() -> None:
    a, b = _exp(), _exp(task="gsm8k")
    assert not same_experience(a, b, 1.0, THRESHOLD)


@pytest.mark.parametrize(
    "other",
    [
        {"outcome": "failure"},  # exemplar vs failure
        {"verified": False},  # exemplar vs unverified
        {"checker_confirmed": False},  # the checker refused it: unverified
    ],
)
def test_different_status_never_merges(other: dict[str, Any]) -> None:
    a, b = _exp(), _exp(**other)
    assert a.status != b.status
    assert not same_experience(a, b, 1.0, THRESHOLD)
    assert not same_experience(b, a, 1.0, THRESHOLD)


# ------------------------------------------------------------------ same_reflection


def test_same_lesson_merges_and_different_lessons_do_not() -> None:
    a = _ref("Carry the one when the ones add past nine.")
    assert same_reflection(a, _ref("carry the ONE when the ones  add past nine."), CLOSE, THRESHOLD)
    assert not same_reflection(a, _ref("Read the question twice before answering."), CLOSE, THRESHOLD)


def test_reflections_need_same_task_and_close_vectors() -> None:
    a = _ref()
    assert not same_reflection(a, _ref(task="gsm8k"), 1.0, THRESHOLD)
    assert not same_reflection(a, _ref(), THRESHOLD - 0.01, THRESHOLD)


# ------------------------------------------------------------------ already_merged


def test_already_merged_detects_itself_and_a_merged_id_only() -> None:
    kept, incoming, stranger = _exp(solution="68"), _exp(solution="68."), _exp(solution="70")
    assert already_merged(kept, kept)
    assert not already_merged(kept, incoming)
    merged = merge_experience(kept, incoming)
    assert already_merged(merged, incoming)
    assert already_merged(merged, kept)  # same id
    assert not already_merged(merged, stranger)


def test_merging_the_same_incoming_twice_is_detectable_and_adds_no_alias() -> None:
    kept, incoming = _exp(solution="68"), _exp(solution="68.")
    once = merge_experience(kept, incoming)
    assert already_merged(once, incoming)  # the caller skips the second merge
    twice = merge_experience(once, incoming)  # and if it does not, aliases stay unique
    assert twice.aliases == once.aliases == (incoming.id,)


# ------------------------------------------------------------------ merge_experience


def test_merge_adds_counts_and_keeps_the_kept_id() -> None:
    kept = _exp(solution="68", count=2)
    incoming = _exp(solution="68.", count=3)
    merged = merge_experience(kept, incoming)
    assert merged.count == 5
    assert merged.id == kept.id != incoming.id
    assert incoming.id in merged.aliases and kept.id not in merged.aliases


def test_merge_carries_the_incoming_aliases_without_duplicates_or_the_kept_id() -> None:
    kept = _exp(solution="68", aliases=("exp-a", "exp-b"))
    incoming = _exp(solution="68.", aliases=("exp-b", kept.id, "exp-c"))
    merged = merge_experience(kept, incoming)
    assert merged.aliases == ("exp-a", "exp-b", "exp-c", incoming.id)  # its own id last: never truncated


def test_merge_does_not_change_its_inputs() -> None:
    kept, incoming = _exp(solution="68"), _exp(solution="68.", score=0.9)
    merge_experience(kept, incoming)
    assert kept.count == 1 and kept.aliases == () and kept.solution == "68"
    assert incoming.count == 1 and incoming.aliases == ()


def test_the_better_scored_attempt_supplies_problem_and_solution_together() -> None:
    kept = _exp("What is 23 + 45?", "68", score=0.6, provenance=Provenance(model="old"))
    incoming = _exp(
        "what is 23+45?", "68, since 20+40=60 and 3+5=8", score=0.9, provenance=Provenance(model="new")
    )
    merged = merge_experience(kept, incoming)
    assert (merged.problem, merged.solution) == (incoming.problem, incoming.solution)
    assert merged.score == 0.9 and merged.provenance.model == "new"
    assert merged.id == kept.id


def test_a_worse_attempt_changes_only_count_aliases_and_last_seen() -> None:
    kept = _exp("What is 23 + 45?", "68", score=0.9, provenance=Provenance(model="old"))
    later = T0 + timedelta(days=1)
    incoming = _exp("what is 23+45?", "68.", score=0.4, created_at=later, provenance=Provenance(model="new"))
    merged = merge_experience(kept, incoming)
    assert (merged.problem, merged.solution, merged.score) == (kept.problem, kept.solution, 0.9)
    assert merged.provenance.model == "old"
    assert merged.created_at == T0 and merged.last_seen == later


def test_score_none_counts_as_zero() -> None:
    kept = _exp(solution="68", score=None)
    assert merge_experience(kept, _exp(solution="68.", score=0.1)).solution == "68."
    scored = _exp(solution="68", score=0.1)
    # an unscored newcomer, even a newer one, does not beat a scored attempt
    newer_unscored = _exp(solution="68.", score=None, created_at=T0 + timedelta(hours=1))
    assert merge_experience(scored, newer_unscored).solution == "68"


def test_ties_go_to_the_newer_attempt() -> None:
    old = _exp("What is 23 + 45?", "68", score=0.7, created_at=T0)
    new = _exp("what is 23 + 45", "68.", score=0.7, created_at=T0 + timedelta(minutes=5))
    assert merge_experience(old, new).solution == "68."  # newer incoming wins
    assert merge_experience(new, old).solution == "68."  # older incoming loses
    # an exact tie (same score, same time) keeps what is stored
    twin = _exp("what is 23 + 45", "68.", score=0.7, created_at=T0)
    assert merge_experience(old, twin).solution == "68"


def test_tie_uses_last_seen_not_only_created_at() -> None:
    """A stored record refreshed by an earlier merge is as new as its last_seen."""
    kept = _exp(solution="68", score=0.5, created_at=T0, last_seen=T0 + timedelta(days=2))
    incoming = _exp(solution="68.", score=0.5, created_at=T0 + timedelta(days=1))
    merged = merge_experience(kept, incoming)
    assert merged.solution == "68"
    assert merged.last_seen == T0 + timedelta(days=2)  # never moves backwards


def test_reflection_of_an_experience_follows_the_better_attempt() -> None:
    kept = _exp(solution="68", score=0.2, reflection="kept lesson")
    better = _exp(solution="68.", score=0.9, reflection="better lesson")
    assert merge_experience(kept, better).reflection == "better lesson"
    assert merge_experience(kept, _exp(solution="68.", score=0.1, reflection="worse")).reflection == (
        "kept lesson"
    )
    # a lesson is never lost: whichever side has one provides it
    bare = _exp(solution="68", score=0.2)
    assert merge_experience(bare, _exp(solution="68.", score=0.1, reflection="x")).reflection == "x"
    assert merge_experience(kept, _exp(solution="68.", score=0.9)).reflection == "kept lesson"


def test_aliases_are_bounded_and_keep_the_most_recent() -> None:
    kept = _exp(solution="68")
    incomings = [_exp(solution=f"68 ({i})") for i in range(MAX_ALIASES + 8)]
    merged = kept
    for incoming in incomings:
        merged = merge_experience(merged, incoming)
    assert merged.count == 1 + len(incomings)
    assert len(merged.aliases) == MAX_ALIASES
    assert merged.aliases == tuple(e.id for e in incomings[-MAX_ALIASES:])
    assert already_merged(merged, incomings[-1])
    assert not already_merged(merged, incomings[0])  # forgotten past the bound


def test_incoming_id_survives_alias_truncation() -> None:
    kept = _exp(solution="68")
    incoming = _exp(solution="68.", aliases=tuple(f"exp-{i:024d}" for i in range(MAX_ALIASES)))
    merged = merge_experience(kept, incoming)
    assert already_merged(merged, incoming)


@pytest.mark.parametrize(
    ("sol_a", "sol_b"),
    [
        ("Answer: 68", "Answer: 69"),
        (
            "Add the tens: 20 + 40 = 60. Add the ones: 3 + 5 = 8. So 68.\nAnswer: 68",
            "Add the tens: 20 + 40 = 60. Add the ones: 3 + 6 = 9. So 69.\nAnswer: 69",
        ),
        (  # a GSM8K-style pair: the real MiniLM puts these problems at 0.99 cosine
            "In April she sold 48 clips. In May she sold 48 / 2 = 24 clips. "
            "Altogether she sold 48 + 24 = 72 clips.\nAnswer: 72",
            "In April she sold 46 clips. In May she sold 46 / 2 = 23 clips. "
            "Altogether she sold 46 + 23 = 69 clips.\nAnswer: 69",
        ),
    ],
    ids=["answer-line", "worked", "gsm8k-style"],
)
def test_close_problems_with_different_worked_solutions_do_not_merge(sol_a: str, sol_b: str) -> None:
    # The texts alone are over TEXT_SIMILARITY alike: the numbers are what tell them apart.
    assert text_similarity(sol_a, sol_b) >= TEXT_SIMILARITY
    a = _exp("What is 23 + 45?", sol_a)
    b = _exp("What is 23 + 46?", sol_b)
    assert not same_experience(a, b, CLOSE, THRESHOLD)


# ------------------------------------------------------------------ merge_reflection


def test_merge_reflection_adds_count_and_aliases_and_keeps_the_text() -> None:
    kept = _ref("Carry the one.", count=2)
    later = T0 + timedelta(days=3)
    incoming = _ref("carry the ONE.", count=4, created_at=later)
    merged = merge_reflection(kept, incoming)
    assert merged.count == 6
    assert merged.id == kept.id and merged.text == "Carry the one."
    assert merged.aliases == (incoming.id,)
    assert merged.last_seen == later and merged.created_at == T0
    assert already_merged(merged, incoming)
