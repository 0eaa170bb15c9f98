"""Training sets for the verifier and generator recipes, and the one-call trainers on a tiny model."""

from __future__ import annotations

import pytest

from verbalrl.evaluation.pool import PoolError, pool_task, write_pool
from verbalrl.tasks import get_task
from verbalrl.training import (
    ORMConfig,
    SFTConfig,
    as_orm_config,
    generator_examples,
    train_generator,
    train_verifier,
    verifier_examples,
)

from .test_examples import _records


@pytest.fixture(scope="module")
def task():
    return get_task("arithmetic", level=2)


@pytest.fixture(scope="module")
def records(task):
    return _records(task, task.problems("train", n=3, seed=0), wrong_per_problem=4, right_per_problem=2)


def test_genrm_examples_add_the_correct_solutions_weighted_lambda(records):
    examples = verifier_examples(records, "genrm", max_per_class=16)
    verify = [e for e in examples if e.kind == "verify"]
    correct = [e for e in examples if e.kind == "correct"]
    assert len(verify) == 3 * (2 + 4) and len(correct) == 3 * 2
    assert {e.weight for e in correct} == {SFTConfig().lam}
    assert len(verifier_examples(records, "genrm", lam=0)) == len(verify)
    assert {e.weight for e in verifier_examples(records, "genrm", lam=0.25) if e.kind == "correct"} == {0.25}


def test_a_pool_mixing_tasks_trains_one_verifier_with_each_tasks_own_prompt(records):
    sort = get_task("word_sort")
    words = [
        r.model_copy(update={"problem_id": p.id, "task": "word_sort", "task_options": {},
                             "question": p.question, "answer": p.answer, "meta": p.meta,
                             "text": f"Answer: {reply}", "correct": ok})
        for p in sort.problems("train", n=2, seed=0)
        for r, (reply, ok) in zip(records[:2], [(p.answer, True), ("zebra apple", False)], strict=True)
    ]  # fmt: skip
    examples = verifier_examples([*records, *words], "genrm")
    correct = [e for e in examples if e.kind == "correct"]
    assert len(correct) == 3 * 2 + 2 * 1
    sort_prompts = [e.prompt for e in correct if e.problem_id.startswith("word_sort")]
    assert sort_prompts == [sort.prompt(r.problem()) for r in words if r.correct]


def test_cot_and_orm_examples(records):
    cot = verifier_examples(records, "genrm-cot", lam=0)
    assert cot and all("Let's verify step by step" in e.prompt[-1]["content"] for e in cot)
    orm = verifier_examples(records, "orm", negative_ratio=1.0)
    assert all(e.kind == "verify" and e.label is not None for e in orm)
    assert sum(not e.label for e in orm) == sum(bool(e.label) for e in orm)  # capped at 1x the right ones
    with pytest.raises(ValueError, match="lam must be 0"):
        verifier_examples(records, "orm", lam=0.5)
    with pytest.raises(ValueError, match="kind must be genrm, genrm-cot or orm"):
        verifier_examples(records, "prm")  # type: ignore[arg-type]


def test_generator_examples_from_a_pool_and_from_references(task, records):
    from_pool = generator_examples(records)
    assert len(from_pool) == 3 * 2 and all(e.kind == "correct" for e in from_pool)
    from_task = generator_examples(task=task, problems=5, seed=1)
    assert len(from_task) == 5
    assert len(generator_examples(records, task, problems=5, seed=1)) == len(from_pool) + 5
    with pytest.raises(ValueError, match="give pool records"):
        generator_examples()


def test_pool_task_rebuilds_the_task_or_refuses_a_mixed_pool(records):
    assert pool_task(records).name == "arithmetic"
    other = records[0].model_copy(update={"task_options": {"level": 3}})
    with pytest.raises(PoolError, match="one task with one set of task options"):
        pool_task([*records, other])


def test_orm_config_drops_lambda():
    assert as_orm_config().lam == 0 and isinstance(as_orm_config(), ORMConfig)
    converted = as_orm_config(SFTConfig(epochs=3, lam=0.5))
    assert isinstance(converted, ORMConfig) and converted.epochs == 3 and converted.lam == 0


def test_train_verifier_refuses_an_empty_pool(tmp_path):
    from verbalrl.errors import VerbalRLError

    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(VerbalRLError, match="is empty"):
        train_verifier(tmp_path / "empty.jsonl", tmp_path / "out")


@pytest.mark.slow
def test_train_verifier_and_generator_in_one_call(tiny_llama_dir, records, task, tmp_path):
    from verbalrl.verifier.artifact import read_metadata

    pool = write_pool(tmp_path / "pool.jsonl", records)
    config = SFTConfig(base_model=str(tiny_llama_dir), epochs=1, batch_size=8, lora_r=2)
    result = train_verifier(pool, tmp_path / "genrm", "genrm", config, progress=False)
    assert result.steps >= 1 and read_metadata(tmp_path / "genrm").kind == "genrm"
    result = train_verifier(records, tmp_path / "orm", "orm", config, progress=False)
    meta = read_metadata(tmp_path / "orm")
    assert meta.kind == "orm" and meta.settings["lam"] == 0
    result = train_generator(tmp_path / "gen", task=task, problems=8, config=config, progress=False)
    assert result.examples == 8 and read_metadata(tmp_path / "gen").kind == "generator"
