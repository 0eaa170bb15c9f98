"""Best-of-N evaluation: statistics, exact oracle/random-pick identities, compute, outputs."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from verbalrl.console import render_table
from verbalrl.evaluation.evaluate import evaluate_pool
from verbalrl.evaluation.metrics import bootstrap_ci, gap_closed, roc_auc
from verbalrl.evaluation.pool import CandidateRecord, ProblemCandidates, group_by_problem
from verbalrl.evaluation.report import JSON_NAME, PNG_NAME, write_report
from verbalrl.llm.fake import FakeLLM
from verbalrl.tasks import Problem, get_task
from verbalrl.verifier.base import CheckerVerifier, FunctionVerifier, Usage, Verification
from verbalrl.verifier.judge import LLMJudgeVerifier

TASK = get_task("arithmetic", level=1)


def make_group(
    pid: str, gold: str, answers: Sequence[str | None], tokens: int = 5
) -> ProblemCandidates:
    """A problem whose candidates state `answers` (None: none), labelled by the real checker."""
    records = []
    for i, answer in enumerate(answers):
        text = "I do not know" if answer is None else f"Working... Answer: {answer}"
        extracted = TASK.extract_answer(text)
        records.append(
            CandidateRecord(
                problem_id=pid,
                task="arithmetic",
                task_options={"level": 1},
                split="test",
                question=f"What is {gold} + 0?",
                answer=gold,
                candidate_index=i,
                text=text,
                extracted=extracted,
                correct=TASK.check(_problem(pid, gold), extracted),
                prompt_tokens=20,
                completion_tokens=tokens,
                finish_reason="stop",
                generator="fake",
                temperature=0.8,
            )
        )
    return group_by_problem(records)[0]


def _problem(pid: str, gold: str) -> Problem:
    return Problem(
        id=pid, task="arithmetic", split="test", question=f"What is {gold} + 0?", answer=gold
    )


def random_pool(n_problems: int, m: int = 16, seed: int = 0) -> list[ProblemCandidates]:
    rng = random.Random(seed)
    groups = []
    for p in range(n_problems):
        gold = str(rng.randint(0, 9))
        p_right = rng.random() * 0.6
        answers = [
            gold if rng.random() < p_right else rng.choice([str(rng.randint(0, 9)), None])
            for _ in range(m)
        ]
        groups.append(make_group(f"p{p}", gold, answers))
    return groups


def constant(value: float = 0.5) -> FunctionVerifier:
    return FunctionVerifier(lambda q, c: value, name="const")


# ------------------------------------------------------------------ metrics


def test_auc_perfect_reversed_constant_and_undefined():
    labels = [True, False, True, False]
    assert roc_auc([0.9, 0.1, 0.8, 0.2], labels) == 1.0
    assert roc_auc([0.1, 0.9, 0.2, 0.8], labels) == 0.0
    assert roc_auc([0.5] * 4, labels) == 0.5
    assert roc_auc([0.3, 0.4], [True, True]) is None


def test_auc_hand_computed_with_ties():
    # Pairs (pos, neg): (.9,.5)=1 (.9,.1)=1 (.5,.5)=1/2 (.5,.1)=1 -> 3.5 / 4.
    assert roc_auc([0.9, 0.5, 0.5, 0.1], [True, True, False, False]) == pytest.approx(0.875)
    # (0.7 vs 0.7, 0.7, 0.2): 1/2 + 1/2 + 1 -> 2/3
    assert roc_auc([0.7, 0.7, 0.7, 0.2], [True, False, False, False]) == pytest.approx(2 / 3)


@given(
    st.lists(
        st.tuples(st.sampled_from([0.0, 0.25, 0.5, 1.0]), st.booleans()), min_size=2, max_size=30
    )
)
def test_auc_matches_the_pairwise_definition(pairs):
    scores = [s for s, _ in pairs]
    labels = [y for _, y in pairs]
    pos = [s for s, y in pairs if y]
    neg = [s for s, y in pairs if not y]
    got = roc_auc(scores, labels)
    if not pos or not neg:
        assert got is None
        return
    wins = sum(1.0 if p > q else 0.5 if p == q else 0.0 for p in pos for q in neg)
    assert got == pytest.approx(wins / (len(pos) * len(neg)))


def test_bootstrap_ci_contains_the_mean_and_narrows_with_more_problems():
    rng = random.Random(1)
    small = [float(rng.random() < 0.4) for _ in range(20)]
    large = [float(rng.random() < 0.4) for _ in range(800)]
    widths = []
    for values in (small, large):
        low, high = bootstrap_ci(values, 1000, seed=0)
        mean = sum(values) / len(values)
        assert low <= mean <= high
        widths.append(high - low)
    assert widths[1] < widths[0] / 3  # ~ 1/sqrt(40) of the width in theory
    assert bootstrap_ci(small, 500, seed=3) == bootstrap_ci(small, 500, seed=3)
    assert bootstrap_ci([1.0, 1.0, 1.0], 100) == (1.0, 1.0)
    with pytest.raises(ValueError, match="empty"):
        bootstrap_ci([], 10)


def test_gap_closed():
    assert gap_closed(0.25, 0.075, 0.388) == pytest.approx((0.25 - 0.075) / (0.388 - 0.075))
    assert gap_closed(0.5, 0.5, 0.5) is None


# -------------------------------------------------------------- evaluation


def test_checker_reaches_pass_at_n_exactly():
    groups = random_pool(12)
    report = evaluate_pool(groups, {"checker": CheckerVerifier(TASK)}, bootstrap=200)
    assert report.ns == [1, 2, 4, 8, 16]
    for n in report.ns:
        oracle = report.result("pass@n", n).accuracy
        assert report.result("best_of_n[checker]", n).accuracy == pytest.approx(oracle)
        assert report.result("weighted_sc[checker]", n).accuracy == pytest.approx(oracle)
        closed = report.result("best_of_n[checker]", n).gap_closed
        assert closed is None or closed == pytest.approx(1.0)
    assert report.verifiers[0].auc == 1.0


def test_constant_verifier_equals_a_random_pick():
    groups = random_pool(12)
    per_sample = sum(sum(g.correct) / len(g.correct) for g in groups) / len(groups)
    report = evaluate_pool(groups, {"const": constant()}, bootstrap=200)
    for n in report.ns:
        assert report.result("best_of_n[const]", n).accuracy == pytest.approx(per_sample)
        assert report.result("first_sample", n).accuracy == pytest.approx(per_sample)
    assert report.verifiers[0].auc == 0.5
    # Weighted SC with equal weights is plain self-consistency.
    for n in report.ns:
        sc = report.result("self_consistency", n).accuracy
        assert report.result("weighted_sc[const]", n).accuracy == pytest.approx(sc)


def test_pass_at_n_matches_the_unbiased_estimator():
    groups = random_pool(30, seed=4)
    report = evaluate_pool(groups, {}, ns=[1, 4, 16], bootstrap=100, draws=8)
    for n in (1, 4, 16):
        exact = sum(1 - math.comb(16 - sum(g.correct), n) / math.comb(16, n) for g in groups) / 30
        tolerance = 1e-9 if n in (1, 16) else 0.05  # blocks are exhaustive at 1 and 16
        assert report.result("pass@n", n).accuracy == pytest.approx(exact, abs=tolerance)
    accs = [report.result("pass@n", n).accuracy for n in (1, 4, 16)]
    assert accs == sorted(accs)


def test_self_consistency_and_weighted_vote_on_a_hand_made_problem():
    # Gold 7: the majority answer "5" is wrong; one candidate is right.
    wrong_majority = make_group("a", "7", ["5", "5", "5", "7"])
    # A 2-2 tie between the right and a wrong answer: expected 1/2.
    tied = make_group("b", "3", ["3", "4", "4", "3"])
    likes_seven = FunctionVerifier(lambda q, c: 1.0 if "Answer: 7" in c else 0.2, name="seven")
    report = evaluate_pool([wrong_majority, tied], {"seven": likes_seven}, ns=[4], bootstrap=50)
    assert report.result("self_consistency", 4).accuracy == pytest.approx((0.0 + 0.5) / 2)
    assert report.result("pass@n", 4).accuracy == 1.0
    # Problem a: 7 weighs 1.0 vs 0.6 for "5" -> right; b: all 0.2, tie -> 1/2.
    assert report.result("weighted_sc[seven]", 4).accuracy == pytest.approx((1.0 + 0.5) / 2)
    assert report.result("best_of_n[seven]", 4).accuracy == pytest.approx((1.0 + 0.5) / 2)


def test_missing_answers_never_win_a_vote():
    group = make_group("a", "2", [None, None, None, "2"])
    report = evaluate_pool([group], {}, ns=[4], bootstrap=10)
    assert report.result("self_consistency", 4).accuracy == 1.0


class CountingVerifier:
    """Scores by position and reports a fixed cost per candidate; counts its calls."""

    name = "counting"

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def verify(self, problem: Problem, candidates: Sequence[str]) -> Verification:
        self.calls.append((problem.id, len(candidates)))
        m = len(candidates)
        return Verification(
            scores=[i / m for i in range(m)],
            usage=Usage(llm_calls=2 * m, prompt_tokens=30 * m, generated_tokens=10 * m),
        )


def test_scores_are_computed_once_and_compute_is_pro_rated():
    groups = random_pool(5)
    verifier = CountingVerifier()
    report = evaluate_pool(groups, {"counting": verifier}, bootstrap=50)
    assert verifier.calls == [(g.problem.id, 16) for g in groups]
    for n in report.ns:
        first = report.result("first_sample", n)
        assert (first.llm_calls, first.generated_tokens, first.prompt_tokens) == (1, 5, 20)
        sc = report.result("self_consistency", n)
        assert (sc.llm_calls, sc.generated_tokens, sc.prompt_tokens) == (n, 5 * n, 20 * n)
        bon = report.result("best_of_n[counting]", n)
        assert bon.llm_calls == pytest.approx(n + 2 * n)
        assert bon.generated_tokens == pytest.approx(5 * n + 10 * n)
        assert bon.prompt_tokens == pytest.approx(20 * n + 30 * n)
    summary = report.verifiers[0]
    assert (summary.llm_calls, summary.generated_tokens) == (5 * 32, 5 * 160)


def test_judge_compute_is_reported():
    groups = random_pool(3)
    judge = LLMJudgeVerifier(FakeLLM(["Verdict: Yes", "Verdict: No", "junk"]), k=3)
    report = evaluate_pool(groups, {"judge": judge}, ns=[1, 4], bootstrap=50)
    assert report.result("best_of_n[judge]", 4).llm_calls == pytest.approx(4 + 3 * 4)
    assert report.verifiers[0].llm_calls == 3 * 16 * 3


def test_small_pools_skip_large_n_and_bad_input_is_refused():
    groups = [make_group("a", "1", ["1", "2", "3"]), make_group("b", "2", ["2"] * 8)]
    report = evaluate_pool(groups, {}, ns=[1, 2, 4], bootstrap=10)
    assert (report.ns, report.skipped_ns) == ([1, 2], [4])
    with pytest.raises(ValueError, match="exceeds the smallest pool"):
        evaluate_pool(groups, {}, ns=[4, 8])
    with pytest.raises(ValueError, match="pool is empty"):
        evaluate_pool([], {})
    with pytest.raises(ValueError, match=">= 1"):
        evaluate_pool(groups, {}, ns=[0, 1])
    with pytest.raises(ValueError, match="clashes"):
        evaluate_pool(groups, {"pass@n": constant()}, ns=[1])


class ShortVerifier:
    name = "short"

    def verify(self, problem: Problem, candidates: Sequence[str]) -> Verification:
        return Verification(scores=[0.5], usage=Usage())


def test_a_verifier_with_the_wrong_number_of_scores_is_reported():
    with pytest.raises(ValueError, match="returned 1 scores for 3 candidates of problem 'a'"):
        evaluate_pool([make_group("a", "1", ["1", "2", "3"])], {"short": ShortVerifier()}, ns=[1])


def test_evaluation_is_deterministic_for_a_seed():
    groups = random_pool(6)
    noisy = FunctionVerifier(lambda q, c: (hash(c) % 97) / 96, name="noisy")
    a = evaluate_pool(groups, {"noisy": noisy}, bootstrap=100, seed=5)
    b = evaluate_pool(groups, {"noisy": noisy}, bootstrap=100, seed=5)
    strip = {"verifiers": {"__all__": {"seconds"}}}
    assert a.model_dump(exclude=strip) == b.model_dump(exclude=strip)
    for r in a.results:
        assert r.ci_low <= r.accuracy <= r.ci_high


# ----------------------------------------------------------------- outputs


def test_write_report_and_table(tmp_path):
    groups = random_pool(8)
    report = evaluate_pool(
        groups,
        {"checker": CheckerVerifier(TASK), "const": constant()},
        ns=[1, 2, 4, 8],
        bootstrap=100,
    )
    paths = write_report(report, tmp_path / "out")
    assert paths["json"] == tmp_path / "out" / JSON_NAME
    payload = json.loads(paths["json"].read_text())
    labels = {r["label"] for r in payload["results"]}
    assert labels == {
        "first_sample",
        "self_consistency",
        "pass@n",
        "best_of_n[checker]",
        "weighted_sc[checker]",
        "best_of_n[const]",
        "weighted_sc[const]",
    }
    assert len(payload["results"]) == 7 * 4
    assert {v["name"]: v["auc"] for v in payload["verifiers"]} == {"checker": 1.0, "const": 0.5}
    png = paths["png"]
    assert png == tmp_path / "out" / PNG_NAME
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000

    console = Console(record=True, width=250)
    console.print(render_table(report))
    text = console.export_text()
    assert "best_of_n[checker]" in text and "weighted_sc[const]" in text
    oracle = report.result("pass@n", 8).accuracy
    assert f"{100 * oracle:.1f}" in text
    assert "1.000" in text and "0.500" in text  # the AUC column


@pytest.mark.slow
def test_evaluate_with_the_real_model_as_judge(smollm):
    groups = [make_group("a", "4", ["4", "5"]), make_group("b", "9", ["8", "9"])]
    judge = LLMJudgeVerifier(smollm, k=1, max_new_tokens=8, seed=0)
    report = evaluate_pool(groups, {"llm_judge": judge}, ns=[1, 2], bootstrap=100)
    summary = report.verifiers[0]
    assert summary.llm_calls == 2 * 2 * 1
    assert 0 < summary.generated_tokens <= 4 * 8
    assert summary.auc is not None and 0.0 <= summary.auc <= 1.0
    for n in (1, 2):
        bon = report.result("best_of_n[llm_judge]", n)
        assert bon.accuracy <= report.result("pass@n", n).accuracy + 1e-12
        assert bon.llm_calls == pytest.approx(n + 1 * n)  # N generations + K=1 judgment each
    assert report.result("pass@n", 2).accuracy == 1.0
    assert report.result("best_of_n[llm_judge]", 1).accuracy == pytest.approx(0.5)
