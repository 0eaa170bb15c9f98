"""Training data builders: balance, caps, dedupe, rationales that agree with the checker."""

from __future__ import annotations

import pytest

from verbalrl.evaluation.pool import CandidateRecord
from verbalrl.llm import FakeLLM
from verbalrl.tasks import get_task
from verbalrl.training.examples import (
    balanced_selection,
    correct_solution_examples,
    cot_examples,
    direct_examples,
    reference_solution_examples,
)
from verbalrl.training.rationales import parse_teacher_verdict, programmatic_rationale
from verbalrl.verifier.prompts import COT_VERDICT, VERIFY_QUESTION


def _records(task, problems, wrong_per_problem=20, right_per_problem=3) -> list[CandidateRecord]:
    out = []
    for p in problems:
        texts = [(f"Answer: {p.answer}  #{i}", True) for i in range(right_per_problem)]
        texts += [(f"Answer: {int(p.answer) + 1 + i}", False) for i in range(wrong_per_problem)]
        texts.append((f"Answer: {int(p.answer) + 1}", False))  # a duplicate wrong text
        for i, (text, correct) in enumerate(texts):
            out.append(CandidateRecord(
                problem_id=p.id, task=p.task, task_options={"level": 2}, split=p.split,
                question=p.question, answer=p.answer, meta=p.meta, candidate_index=i, text=text,
                extracted=task.extract_answer(text), correct=correct, prompt_tokens=10,
                completion_tokens=5, finish_reason="stop", generator="test", temperature=0.8,
            ))
    return out


@pytest.fixture(scope="module")
def task():
    return get_task("arithmetic", level=2)


@pytest.fixture(scope="module")
def records(task):
    return _records(task, task.problems("train", n=3, seed=0))


def test_per_problem_caps_and_dedupe(records):
    chosen = balanced_selection(records, max_per_class=16)
    per_problem = {}
    for r in chosen:
        per_problem.setdefault((r.problem_id, r.correct), []).append(r.text)
    for (_pid, correct), texts in per_problem.items():
        assert len(texts) == (3 if correct else 16)
        assert len(set(texts)) == len(texts)


def test_negative_ratio_caps_wrong_solutions(records):
    chosen = balanced_selection(records, max_per_class=16, negative_ratio=2.0)
    right = sum(r.correct for r in chosen)
    assert right == 9 and len(chosen) - right == 18


def test_direct_examples_targets_match_labels(records):
    examples = direct_examples(records, max_per_class=4)
    assert {e.target for e in examples} == {"Yes", "No"}
    for e in examples:
        assert e.target == ("Yes" if e.label else "No")
        assert e.prompt[-1]["content"].endswith(VERIFY_QUESTION)
        assert "gold" not in e.prompt[-1]["content"]


def test_programmatic_cot_rationales_agree_with_the_checker(task, records):
    examples = cot_examples(records, task, max_per_class=4)
    assert examples
    for e in examples:
        verdict = e.target.rsplit(COT_VERDICT, 1)[1].strip()
        assert verdict == ("Yes" if e.label else "No")
        assert ("does not match" in e.target) == (not e.label)


def test_rationale_without_an_answer(task):
    p = task.problems("train", n=1)[0]
    text = programmatic_rationale(task, p, None)
    assert "does not state a final answer" in text and "does not match" in text


def test_gsm8k_cot_needs_a_teacher_and_keeps_only_agreeing_verdicts():
    from pathlib import Path

    data = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "gsm8k"
    if not data.is_dir():
        pytest.skip(f"GSM8K data not found at {data}")
    task = get_task("gsm8k", path=str(data))
    p = task.problems("train", n=1, seed=0)[0]
    recs = [
        CandidateRecord(
            problem_id=p.id, task="gsm8k", split="train", question=p.question, answer=p.answer,
            meta=p.meta, candidate_index=i, text=text, extracted=task.extract_answer(text),
            correct=task.check(p, task.extract_answer(text)), prompt_tokens=1, completion_tokens=1,
            finish_reason="stop", generator="t", temperature=1.0,
        )
        for i, text in enumerate([f"Answer: {p.answer}", "Answer: -1"])
    ]
    with pytest.raises(ValueError, match="teacher"):
        cot_examples(recs, task)
    # The teacher says Yes to both: only the verdict on the right answer agrees with the checker.
    teacher = FakeLLM(["Step one checks out.\nVerdict: Yes"])
    examples = cot_examples(recs, task, teacher=teacher)
    assert len(examples) == 1 and examples[0].label is True
    # The verifier's prompt never contains the reference the teacher saw.
    assert p.meta.get("solution", "@@") not in examples[0].prompt[-1]["content"]


def test_teacher_verdict_parsing_is_robust():
    assert parse_teacher_verdict("checks...\nVerdict: **No**") == ("checks...", False)
    assert parse_teacher_verdict("no verdict here") is None
    assert parse_teacher_verdict("Verdict: Yes") is None  # no rationale before it


def test_solution_examples(task, records):
    examples = correct_solution_examples(records, task, weight=0.25)
    assert examples and all(e.kind == "correct" and e.weight == 0.25 for e in examples)
    refs = reference_solution_examples(task, task.problems("train", n=2))
    assert len(refs) == 2 and all(e.target.strip().endswith(p.answer)
                                  for e, p in zip(refs, task.problems("train", n=2), strict=True))
