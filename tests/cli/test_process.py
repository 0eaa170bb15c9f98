"""`verbalrl train-prm` and `eval-prm` end to end: a pool file, a trained PRM folder, a report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from verbalrl.evaluation.pool import CandidateRecord, write_pool
from verbalrl.llm.fake import FakeLLM
from verbalrl.tasks import get_task
from verbalrl.testing import registered_backend
from verbalrl.verifier.artifact import read_metadata

from .conftest import invoke


def first_json(out: str) -> dict:
    """The JSON object printed first (status lines may follow it in the combined output)."""
    return json.JSONDecoder().raw_decode(out[out.index("{"):])[0]


def chain_pool(path: Path, problems: int = 4, garbled: bool = True) -> Path:
    """A pool of chain problems: per problem the reference, a slip in step 2, and a garbled reply."""
    task = get_task("chain", level=2)
    records = []
    for problem in task.problems("train", problems, seed=0):
        right = task.reference_solution(problem) or ""
        lines = right.splitlines()
        a, _, rest = lines[1].partition(" = ")
        slip = "\n".join([lines[0], f"{a} = {int(rest) + 1}", f"Answer: {int(rest) + 1}"])
        for i, text in enumerate([right, slip, "no idea"][: 3 if garbled else 2]):
            answer = task.extract_answer(text)
            records.append(CandidateRecord(
                problem_id=problem.id, task="chain", task_options={"level": 2}, split="train",
                question=problem.question, answer=problem.answer, meta=problem.meta, candidate_index=i,
                text=text, extracted=answer, correct=task.check(problem, answer), prompt_tokens=10,
                completion_tokens=10, finish_reason="stop", generator="test", temperature=0.8,
            ))  # fmt: skip
    return write_pool(path, records)


def test_train_prm_with_checker_labels_then_eval(tiny_llama_dir: Path, tmp_path: Path) -> None:
    train = chain_pool(tmp_path / "train.jsonl", garbled=False)
    code, out = invoke("train-prm", "--pool", train, "--out", tmp_path / "prm",
                       "--base-model", tiny_llama_dir, "--epochs", "1", "--batch-size", "4",
                       "--max-per-problem", "2", "--json")  # fmt: skip
    assert code == 0, out
    summary = first_json(out)
    assert summary["examples"] == 8  # 2 kept per problem: one clean, one flawed
    meta = read_metadata(tmp_path / "prm")
    assert meta.kind == "prm" and meta.metrics["labels"] == "checker" and meta.metrics["steps"] == 8 * 3

    pool = chain_pool(tmp_path / "pool.jsonl")
    code, out = invoke("eval-prm", "--pool", pool, "--prm", tmp_path / "prm", "--ns", "1,2",
                       "--bootstrap", "50", "--out", tmp_path / "eval", "--json")  # fmt: skip
    assert code == 0, out
    report = first_json(out)
    assert report["steps"] == 4 * (3 + 3 + 1) and 0.0 <= report["step_auc"] <= 1.0
    labels = {r["label"] for r in report["report"]["results"]}
    assert {"best_of_n[prm@last]", "best_of_n[prm@min]", "best_of_n[prm@prod]"} <= labels
    assert json.loads((tmp_path / "eval" / "steps.json").read_text())["steps"] == 28


def test_eval_prm_with_the_step_checker_oracle_ranks_every_step_right(tmp_path: Path) -> None:
    pool = chain_pool(tmp_path / "pool.jsonl", garbled=False)  # the oracle reads garbage as neutral
    code, out = invoke("eval-prm", "--pool", pool, "--prm", "step-checker", "--ns", "1,2",
                       "--bootstrap", "50", "--json")  # fmt: skip
    assert code == 0, out
    report = first_json(out)
    assert report["step_auc"] == 1.0
    best = [r for r in report["report"]["results"] if r["label"] == "best_of_n[prm@min]" and r["n"] == 2]
    assert best[0]["accuracy"] == 1.0  # the clean reference wins every problem at N=2


def test_train_prm_with_rollout_labels(tiny_llama_dir: Path, tmp_path: Path) -> None:
    pool = chain_pool(tmp_path / "pool.jsonl", problems=2)

    def load(name: str, **options: object) -> FakeLLM:
        return FakeLLM(["Answer: 1000"], name=name)  # every rollout misses: prefix labels are 0

    with registered_backend("fake", load):
        code, out = invoke("train-prm", "--pool", pool, "--labels", "rollouts", "--rollouts", "2",
                           "--model", "fake:policy", "--out", tmp_path / "prm",
                           "--base-model", tiny_llama_dir, "--epochs", "1", "--batch-size", "4",
                           "--json")  # fmt: skip
    assert code == 0, out
    assert "mean label" in out
    meta = read_metadata(tmp_path / "prm")
    assert meta.metrics["labels"] == "rollouts" and meta.metrics["label_sources"] == ["rollouts"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--labels", "oracle"], "--labels must be checker or rollouts"),
        (["--rollout-mode", "maybe"], "--rollout-mode must be soft or hard"),
    ],
)
def test_train_prm_refuses_bad_options(tmp_path: Path, args: list[str], message: str) -> None:
    pool = chain_pool(tmp_path / "pool.jsonl", problems=1)
    code, out = invoke("train-prm", "--pool", pool, "--out", tmp_path / "prm", *args)
    assert code != 0 and message in out


def test_eval_prm_refuses_an_outcome_verifier_as_the_prm(tmp_path: Path) -> None:
    pool = chain_pool(tmp_path / "pool.jsonl", problems=1)
    code, out = invoke("eval-prm", "--pool", pool, "--prm", "checker", "--json")
    assert code != 0 and "not a process verifier" in out
