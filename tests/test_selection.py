"""Selection and voting rules on hand-made scores: ties, missing answers, bad input."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verbalrl.selection import (
    best_of_n,
    best_of_n_ties,
    first_sample,
    majority_vote,
    pass_at_n,
    vote_totals,
    vote_winners,
    weighted_vote,
)


def test_best_of_n_picks_the_highest_score():
    assert best_of_n(["a", "b", "c"], [0.2, 0.9, 0.5]) == 1


def test_best_of_n_ties_go_to_the_earliest():
    assert best_of_n(["a", "b", "c", "d"], [0.1, 0.7, 0.3, 0.7]) == 1
    assert best_of_n_ties([0.1, 0.7, 0.3, 0.7]) == [1, 3]


@pytest.mark.parametrize(
    ("candidates", "scores", "message"),
    [
        ([], [], "candidates is empty"),
        (["a", "b"], [0.5], "candidates has 2 items but scores has 1"),
        (["a"], [0.5, 0.1], "candidates has 1 items but scores has 2"),
        (["a", "b"], [0.5, math.nan], r"scores\[1\] is NaN"),
    ],
)
def test_best_of_n_rejects_bad_input(candidates, scores, message):
    with pytest.raises(ValueError, match=message):
        best_of_n(candidates, scores)


def test_majority_vote_takes_the_most_frequent_answer():
    assert majority_vote(["3", "5", "3", "7"]) == "3"


def test_majority_vote_ties_break_by_first_occurrence():
    assert majority_vote(["5", "3", "3", "5"]) == "5"
    assert majority_vote(["3", "5", "5", "3"]) == "3"
    assert vote_winners(["5", "3", "3", "5", "9"]) == ["5", "3"]


def test_majority_vote_ignores_missing_answers():
    # Three missing answers must not outvote one real answer.
    assert majority_vote([None, None, "4", None]) == "4"
    assert majority_vote([None, None]) is None
    assert vote_totals([None, "4", "4"]) == {"4": 2.0}


def test_majority_vote_rejects_an_empty_list():
    with pytest.raises(ValueError, match="answers is empty"):
        majority_vote([])


def test_weighted_vote_sums_scores_per_answer():
    # Majority says "b" (2 votes), but "a" carries more total score: 0.9 > 0.4 + 0.4.
    answers = ["a", "b", "b"]
    scores = [0.9, 0.4, 0.4]
    assert majority_vote(answers) == "b"
    assert weighted_vote(answers, scores) == "a"
    assert vote_totals(answers, scores) == pytest.approx({"a": 0.9, "b": 0.8})


def test_weighted_vote_ties_and_missing_answers():
    assert weighted_vote(["x", "y"], [0.5, 0.5]) == "x"
    # A confident candidate with no extracted answer casts no vote.
    assert weighted_vote([None, "y"], [1.0, 0.1]) == "y"
    assert weighted_vote([None, None], [1.0, 0.1]) is None


def test_weighted_vote_rejects_mismatched_and_empty_input():
    with pytest.raises(ValueError, match="answers has 2 items but scores has 3"):
        weighted_vote(["a", "b"], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="answers is empty"):
        weighted_vote([], [])
    with pytest.raises(ValueError, match="NaN"):
        weighted_vote(["a"], [math.nan])


def test_first_sample_and_pass_at_n():
    assert first_sample(["only", "other"]) == 0
    assert pass_at_n([False, False, True]) is True
    assert pass_at_n([False]) is False
    with pytest.raises(ValueError, match="candidates is empty"):
        first_sample([])
    with pytest.raises(ValueError, match="correct_flags is empty"):
        pass_at_n([])


scores_st = st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=12)
answers_st = st.lists(st.one_of(st.none(), st.sampled_from("abcd")), min_size=1, max_size=12)


@given(scores_st)
def test_best_of_n_is_the_first_maximum(scores):
    i = best_of_n(list(range(len(scores))), scores)
    assert scores[i] == max(scores)
    assert all(s < scores[i] for s in scores[:i])


@given(answers_st)
def test_majority_winner_has_the_most_votes(answers):
    winner = majority_vote(answers)
    real = [a for a in answers if a is not None]
    if not real:
        assert winner is None
        return
    assert real.count(winner) == max(real.count(a) for a in real)
    # first occurrence among the tied answers
    tied = [a for a in real if real.count(a) == real.count(winner)]
    assert winner == tied[0]


# ----------------------------------------------------------------- composable selectors
from verbalrl.selection import (  # noqa: E402 - the objects, beside the functions they compose
    BestOfN,
    Choice,
    FirstSample,
    Scored,
    SelfConsistency,
    WeightedVote,
    score_candidates,
)
from verbalrl.tasks import Problem  # noqa: E402
from verbalrl.testing import score_by_answer  # noqa: E402
from verbalrl.verifier.base import FunctionVerifier  # noqa: E402

PROBLEM = Problem(id="p", task="t", split="test", question="What is 2 + 2?", answer="4")


def test_best_of_n_never_chooses_a_candidate_without_an_answer() -> None:
    pool = [Scored(None, 0.99), Scored("3", 0.2), Scored("4", 0.6), Scored("5", 0.6)]
    assert BestOfN().choose(pool) == Choice(2, "4", 0.6)  # ties: the earliest
    assert BestOfN().choose([Scored(None, 0.9), Scored("4", None)]) == Choice(None, None)


def test_weighted_vote_sums_scores_and_reports_the_best_of_the_winner() -> None:
    pool = [Scored("3", 0.5), Scored("4", 0.3), Scored("4", 0.3), Scored(None, 0.9)]
    assert WeightedVote().choose(pool) == Choice(1, "4", 0.3)
    assert WeightedVote().choose([Scored("3", None)]) == Choice(None, None)


def test_self_consistency_and_first_sample() -> None:
    pool = [Scored("7"), Scored("8"), Scored("8"), Scored(None)]
    assert SelfConsistency(4).choose(pool) == Choice(1, "8")
    assert SelfConsistency().choose([Scored(None)]) == Choice(None, None)
    assert FirstSample().choose(pool) == Choice(0, "7")


def test_selector_names_match_the_report_names() -> None:
    assert BestOfN(n=8).name == "best_of_8" and SelfConsistency(8).name == "self_consistency@8"


def test_best_of_n_select_scores_only_candidates_with_answers() -> None:
    seen: list[str] = []

    def fn(question: str, candidate: str) -> float:
        seen.append(candidate)
        return 0.9 if "Answer: 4" in candidate else 0.1

    texts = ["no idea", "2 + 2 = 5\nAnswer: 5", "2 + 2 = 4\nAnswer: 4"]
    choice, scoring = BestOfN(FunctionVerifier(fn), n=3).select(PROBLEM, texts, [None, "5", "4"])
    assert choice == Choice(2, "4", 0.9)
    assert seen == texts[1:]  # the reply without an answer never reached the verifier
    assert scoring.error is None and scoring.usage is not None


def test_a_failing_verifier_gives_an_error_not_a_crash() -> None:
    def broken(question: str, candidate: str) -> float:
        raise RuntimeError("GPU on fire")

    choice, scoring = BestOfN(FunctionVerifier(broken)).select(PROBLEM, ["Answer: 4"], ["4"])
    assert choice == Choice(None, None)
    assert scoring.error is not None and "GPU on fire" in scoring.error
    with pytest.raises(ValueError, match="needs a verifier"):
        BestOfN().select(PROBLEM, ["Answer: 4"], ["4"])


def test_score_candidates_clamps_and_checks_the_count() -> None:
    class TooFew:
        name = "too-few"

        def verify(self, problem, candidates):  # type: ignore[no-untyped-def]
            return score_by_answer({}).verify(problem, candidates[:1])

    assert score_candidates(score_by_answer({"4": 0.8}), PROBLEM, ["Answer: 4", "x"]).scores == [0.8, 0.1]
    assert "2 candidates" in (score_candidates(TooFew(), PROBLEM, ["a", "b"]).error or "")
