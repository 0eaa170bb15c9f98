"""Self-training labels: the checkers in feedback mode; in verifier-only mode the verifiers' scores
alone (flipping every gold label changes nothing), step labels kept non-increasing."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from verbalrl.evaluation.pool import CandidateRecord
from verbalrl.tasks import Problem, get_task
from verbalrl.training.self_labels import feedback_labels, top_threshold, verifier_labels
from verbalrl.verifier.base import FunctionVerifier
from verbalrl.verifier.process import StepScores

TASK = get_task("chain", level=2)
PROBLEM = TASK.problems("train", n=1)[0]


def record(i: int, text: str, correct: bool, problem: Problem = PROBLEM) -> CandidateRecord:
    return CandidateRecord(
        problem_id=problem.id, task="chain", task_options={"level": 2}, split="train",
        question=problem.question, answer=problem.answer, candidate_index=i, text=text, extracted=None,
        correct=correct, prompt_tokens=1, completion_tokens=1, finish_reason="stop", generator="test",
        temperature=0.8,
    )  # fmt: skip


def candidates() -> list[CandidateRecord]:
    right = TASK.reference_solution(PROBLEM) or ""
    lines = right.splitlines()
    wrong_first = "\n".join(["1 + 1 = 3", *lines[1:]])
    return [record(0, right, True), record(1, wrong_first, False), record(2, "Answer: 7", False)]


class ScriptedSteps:
    """A process verifier with fixed step scores per candidate text."""

    name = "scripted-prm"

    def __init__(self, scores: dict[str, list[float]]) -> None:
        self.scores = scores

    def score_steps(self, problem: Problem, texts: Sequence[str]) -> StepScores:
        return StepScores(steps=[t.splitlines() for t in texts], scores=[self.scores[t] for t in texts])


def test_feedback_labels_are_the_checker_and_the_step_checker() -> None:
    labels = feedback_labels(TASK, candidates())
    assert [r.correct for r in labels.records] == [True, False, False]
    assert labels.outcome_source == "checker" and labels.step_source == "step-checker"
    right, wrong_first, _ = labels.steps
    assert set(right.labels) == {1.0} and wrong_first.labels[0] == 0.0
    assert {e.source for e in labels.steps} == {"checker"}


def test_feedback_without_a_step_checker_needs_the_policy_for_rollouts() -> None:
    arithmetic = get_task("arithmetic", level=1)
    with pytest.raises(ValueError, match="no step checker"):
        feedback_labels(arithmetic, candidates())


def test_verifier_only_labels_ignore_the_gold_and_keep_step_labels_non_increasing() -> None:
    records = candidates()
    # The verifier likes the short wrong answer and dislikes the right one.
    verifier = FunctionVerifier(lambda q, c: 0.9 if c == "Answer: 7" else 0.2, name="scripted")
    process = ScriptedSteps({records[0].text: [0.9, 0.1, 0.8], records[1].text: [0.7, 0.6, 0.9],
                             records[2].text: [0.4]})  # fmt: skip
    labels = verifier_labels(records, verifier, threshold=0.5, process=process, step_threshold=0.5)
    assert [r.correct for r in labels.records] == [False, False, True]
    assert [e.labels for e in labels.steps] == [[1.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.0]]
    assert labels.outcome_source == "verifier scripted >= 0.5" and "scripted-prm" in labels.step_source
    assert labels.summary()["agreement_with_checker"] == pytest.approx(1 / 3)
    flipped = [r.model_copy(update={"correct": not r.correct, "answer": "0"}) for r in records]
    again = verifier_labels(flipped, verifier, threshold=0.5, process=process, step_threshold=0.5)
    assert [r.correct for r in again.records] == [r.correct for r in labels.records]
    assert [e.labels for e in again.steps] == [e.labels for e in labels.steps]


def test_verifier_only_without_a_process_verifier_gives_every_step_the_outcome_label() -> None:
    records = candidates()
    verifier = FunctionVerifier(lambda q, c: 0.8 if c == records[0].text else 0.1, name="scripted")
    labels = verifier_labels(records, verifier, threshold=0.5)
    assert [e.labels for e in labels.steps] == [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [0.0]]
    assert labels.step_source == "the outcome verifier's label on every step"
    assert [row["score"] for row in labels.rows] == [0.8, 0.1, 0.1]


def test_top_fraction_reads_the_threshold_from_the_score_distribution() -> None:
    # Every score is far below 0.5 (the chain GenRM's 0.09-0.15): a fixed threshold labels nothing.
    records = candidates()
    scores = {records[0].text: 0.14, records[1].text: 0.11, records[2].text: 0.09}
    verifier = FunctionVerifier(lambda q, c: scores[c], name="scripted")
    assert not any(r.correct for r in verifier_labels(records, verifier, threshold=0.5).records)
    top = verifier_labels(records, verifier, threshold=0.5, top_fraction=0.3)
    assert [r.correct for r in top.records] == [True, False, False]  # ceil(0.3 x 3) = 1 candidate
    assert top.summary()["threshold_used"] == pytest.approx(0.14)
    assert "top 0.3 of the pool" in top.outcome_source
    two = verifier_labels(records, verifier, threshold=0.5, top_fraction=0.5)
    assert [r.correct for r in two.records] == [True, True, False]


def test_top_threshold_keeps_ties_and_rejects_bad_fractions() -> None:
    assert top_threshold([0.2, 0.5, 0.5, 0.1], 0.25) == 0.5  # both 0.5s are labelled right (>=)
    assert top_threshold([0.3, 0.1], 1.0) == 0.1
    assert top_threshold([], 0.1) == float("inf")
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="top_fraction"):
            top_threshold([0.1], bad)
