"""The candidate pool: batched sampling and labelling, JSONL round trips, grouping, stats."""

from __future__ import annotations

import json

import pytest

from verbalrl.evaluation.pool import (
    CandidateRecord,
    PoolError,
    group_by_problem,
    pool_stats,
    read_pool,
    sample_pool,
    write_pool,
)
from verbalrl.llm.base import GenerationConfig
from verbalrl.llm.fake import FakeLLM
from verbalrl.tasks import get_task

REPLIES = ["7 + 0 = 7. Answer: 7", "I think it is 12", "no idea at all", "Answer: 12"]


@pytest.fixture
def task():
    return get_task("arithmetic", level=1)


@pytest.fixture
def records(task):
    problems = task.problems("test", n=5, seed=0)
    llm = FakeLLM(REPLIES)
    config = GenerationConfig(temperature=0.8, max_new_tokens=32, seed=3)
    return sample_pool(
        llm,
        task,
        problems,
        4,
        config,
        progress=False,
        problems_per_call=2,
        task_options={"level": 1},
    )


def test_sample_pool_labels_every_candidate_with_the_task_checker(task, records):
    problems = {p.id: p for p in task.problems("test", n=5, seed=0)}
    assert len(records) == 5 * 4
    for r in records:
        problem = problems[r.problem_id]
        assert r.extracted == task.extract_answer(r.text)
        assert r.correct == task.check(problem, r.extracted)
        assert (r.question, r.answer, r.meta) == (problem.question, problem.answer, problem.meta)
        assert r.generator == "fake" and r.temperature == 0.8
        assert r.task_options == {"level": 1}
        assert r.prompt_tokens > 0 and r.completion_tokens == len(r.text.split())
    # "no idea at all" has no answer; the first problem is "7 + 0", so "Answer: 7" is right.
    assert any(r.extracted is None and not r.correct for r in records)
    assert records[0].problem_id == "arithmetic-test-0-570a1b06" and records[0].correct


def test_sample_pool_batches_problems_and_varies_the_seed_per_call(task):
    problems = task.problems("test", n=5, seed=0)
    llm = FakeLLM(REPLIES)
    config = GenerationConfig(temperature=0.8, seed=10)
    records = sample_pool(llm, task, problems, 3, config, progress=False, problems_per_call=2)
    assert [len(c.prompts) for c in llm.calls] == [2, 2, 1]
    assert all(c.config is not None and c.config.n == 3 for c in llm.calls)
    assert [c.config.seed for c in llm.calls if c.config] == [10, 11, 12]
    assert llm.calls[0].prompts[0] == task.prompt(problems[0])
    indices = [r.candidate_index for r in records if r.problem_id == problems[4].id]
    assert indices == [0, 1, 2]


def test_sample_pool_rejects_bad_arguments(task):
    llm = FakeLLM()
    with pytest.raises(ValueError, match="problems is empty"):
        sample_pool(llm, task, [], 2, GenerationConfig(), progress=False)
    with pytest.raises(ValueError, match="n_samples"):
        sample_pool(llm, task, task.problems("test", n=1), 0, GenerationConfig(), progress=False)


def test_pool_round_trips_through_jsonl(tmp_path, records):
    path = write_pool(tmp_path / "sub" / "pool.jsonl", records)
    assert read_pool(path) == records
    # Atomic write: no temp files left beside the pool.
    assert [p.name for p in path.parent.iterdir()] == ["pool.jsonl"]


def test_read_pool_skips_blank_lines_and_names_the_malformed_line(tmp_path, records):
    path = tmp_path / "pool.jsonl"
    good = [r.model_dump_json() for r in records[:2]]
    path.write_text(f"{good[0]}\n\n{good[1]}\n{{not json\n", encoding="utf-8")
    with pytest.raises(PoolError, match=r"pool\.jsonl:4: not a candidate record"):
        read_pool(path)
    broken = json.loads(good[0])
    del broken["correct"]
    path.write_text(f"{good[0]}\n{json.dumps(broken)}\n", encoding="utf-8")
    with pytest.raises(PoolError, match=r":2: not a candidate record \(correct: Field required"):
        read_pool(path)
    path.write_text(f"\n{good[0]}\n\n", encoding="utf-8")
    assert read_pool(path) == records[:1]


def test_read_pool_missing_file(tmp_path):
    with pytest.raises(PoolError, match="does not exist"):
        read_pool(tmp_path / "nope.jsonl")


def test_a_failed_write_leaves_the_old_pool_whole(tmp_path, records):
    path = write_pool(tmp_path / "pool.jsonl", records[:3])

    def exploding():
        yield records[0]
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_pool(path, exploding())
    assert read_pool(path) == records[:3]
    assert [p.name for p in tmp_path.iterdir()] == ["pool.jsonl"]


def test_normalized_defaults_to_the_extracted_answer(records):
    payload = json.loads(records[0].model_dump_json())
    del payload["normalized"]
    assert CandidateRecord.model_validate(payload).normalized == records[0].extracted


def test_group_by_problem_restores_problems_and_candidate_order(task, records):
    shuffled = list(reversed(records))
    groups = group_by_problem(shuffled)
    problems = task.problems("test", n=5, seed=0)
    assert [g.problem.id for g in groups] == [p.id for p in reversed(problems)]
    by_id = {g.problem.id: g for g in groups}
    for p in problems:
        assert by_id[p.id].problem == p
        assert [c.candidate_index for c in by_id[p.id].candidates] == [0, 1, 2, 3]
        assert by_id[p.id].texts == REPLIES


def test_group_by_problem_rejects_inconsistent_records(records):
    with pytest.raises(PoolError, match="duplicate candidate_index"):
        group_by_problem([records[0], records[0]])
    changed = records[1].model_copy(update={"answer": "999"})
    with pytest.raises(PoolError, match="disagree"):
        group_by_problem([records[0], changed])


def test_pool_stats(records):
    stats = pool_stats(records)
    assert (stats.problems, stats.candidates) == (5, 20)
    assert stats.per_sample_accuracy == pytest.approx(sum(r.correct for r in records) / 20)
    assert stats.no_answer_rate == pytest.approx(5 / 20)  # "no idea at all" once per problem
    assert stats.min_candidates_per_problem == stats.max_candidates_per_problem == 4
    assert stats.generators == ["fake"] and stats.tasks == ["arithmetic"]
    with pytest.raises(ValueError, match="empty"):
        pool_stats([])


@pytest.mark.slow
def test_sample_pool_with_the_real_model(smollm):
    task = get_task("arithmetic", level=1)
    problems = task.problems("test", n=2, seed=0)
    config = GenerationConfig(temperature=0.8, max_new_tokens=32, seed=0)
    records = sample_pool(smollm, task, problems, 2, config, progress=False)
    assert len(records) == 4
    assert [(r.problem_id, r.candidate_index) for r in records] == [
        (p.id, i) for p in problems for i in range(2)
    ]
    for r, problem in zip(records, [p for p in problems for _ in range(2)], strict=True):
        assert r.generator == "smollm2-135m-instruct"
        assert r.prompt_tokens == len(smollm.encode(task.prompt(problem)))
        assert 1 <= r.completion_tokens <= 32
        if r.finish_reason == "length":
            assert r.completion_tokens == 32
        assert r.extracted == task.extract_answer(r.text)
        assert r.correct == task.check(problem, r.extracted)
