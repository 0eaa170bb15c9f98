"""Record rules: who becomes an exemplar, content-hash ids, merge semantics."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from verbalrl.memory import Experience
from verbalrl.memory.merge import merge_experience, same_experience, text_similarity


def test_only_verified_and_checker_confirmed_successes_are_exemplars(
    exp: Callable[..., Experience],
) -> None:
    assert exp("p").status == "exemplar"  # verified, task has no checker
    assert exp("p", checker_confirmed=True).status == "exemplar"
    assert exp("p", checker_confirmed=False).status == "unverified"
    assert exp("p", verified=False).status == "unverified"
    assert exp("p", outcome="failure").status == "failure"


def test_ids_are_content_hashes(exp: Callable[..., Experience]) -> None:
    a = exp("What is 2+3?", "5")
    b = exp("What is 2+3?", "5", score=0.3)  # score is not content
    c = exp("What is 2+3?", "6")
    assert a.id == b.id and a.id != c.id
    assert Experience.model_validate_json(a.model_dump_json()) == a


def test_merge_adds_counts_keeps_id_and_takes_the_better_attempt(
    exp: Callable[..., Experience],
) -> None:
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    kept = exp("What is 2+3?", "The answer is 5", score=0.6, created_at=t0)
    better = exp("What is 2 + 3?", "The answer is 5.", score=0.9, created_at=t0 + timedelta(days=1))
    merged = merge_experience(kept, better)
    assert merged.id == kept.id and merged.count == 2
    assert merged.score == 0.9 and merged.problem == better.problem
    assert better.id in merged.aliases
    assert merge_experience(merged, exp("What is 2+3?", "The answer is 5", score=0.1)).score == 0.9


def test_similar_problems_with_different_answers_do_not_count_as_duplicates(
    exp: Callable[..., Experience],
) -> None:
    a, b = exp("What is 23 + 45?", "68"), exp("What is 23 + 46?", "69")
    assert text_similarity(a.solution, b.solution) < 0.85
    assert not same_experience(a, b, cosine=0.99, threshold=0.95)
    assert same_experience(a, exp("What is 23 + 45 ?", "68"), cosine=0.99, threshold=0.95)
    assert not same_experience(a, exp("What is 23 + 45?", "68", outcome="failure"), 0.99, 0.95)
