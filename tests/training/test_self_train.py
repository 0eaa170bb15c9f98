"""Self-training iterations on a tiny Llama: adapters move, manifests count what was trained on and say
where the labels came from, in feedback mode (checkers) and verifier-only mode (never the gold)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from safetensors.torch import load_file

from verbalrl.evaluation.pool import read_pool
from verbalrl.tasks import split_steps
from verbalrl.training import SFTConfig
from verbalrl.training.self_train import self_train
from verbalrl.training.self_train_config import SelfTrainConfig
from verbalrl.verifier.artifact import read_metadata

TRAINING = SFTConfig(epochs=2, learning_rate=1e-2, batch_size=2, lora_r=4, warmup_ratio=0.0)


def config(base: Path, **fields: Any) -> SelfTrainConfig:
    settings: dict[str, Any] = dict(
        task="chain", task_options={"level": 2, "max_number": 3}, train_problems=6, eval_problems=4,
        samples=4, eval_samples=4, max_new_tokens=24, base_model=str(base), dtype="float32",
        baseline=False, bootstrap=20, policy_training=TRAINING, verifier_training=TRAINING,
        prm_training=TRAINING.model_copy(update={"lam": 0.0}),
    )  # fmt: skip
    return SelfTrainConfig(**(settings | fields))


def lora_b(folder: Path) -> dict[str, Any]:
    weights = load_file(str(folder / "adapter_model.safetensors"))
    return {k: v for k, v in weights.items() if "lora_B" in k}


def distinct(records: list[Any]) -> int:
    return len({(r.problem_id, r.text.strip()) for r in records if r.correct and r.text.strip()})


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_feedback_iterations_train_all_three_models_on_checker_labels(
    chain_policy_dir: Path, tmp_path
) -> None:
    out = tmp_path / "run"
    result = self_train(config(chain_policy_dir, iterations=2), out, progress=False)
    assert [m["iteration"] for m in result.manifests] == [1, 2]
    for k, manifest in enumerate(result.manifests, 1):
        it = out / f"iter-{k}"
        assert json.loads((it / "manifest.json").read_text()) == json.loads(json.dumps(manifest))
        pool = read_pool(it / "pool.jsonl")
        assert manifest["label_source"] == {"outcomes": "checker", "steps": "step-checker"}
        assert manifest["data"]["candidates"] == len(pool) == 6 * 4
        assert manifest["data"]["positives"] == sum(r.correct for r in pool) > 0
        assert manifest["data"]["step_examples"] == sum(bool(split_steps(r.text)) for r in pool)
        assert all(r.split == "train" for r in pool)
        # The policy trained on every distinct right trace, from the base model.
        policy = manifest["stages"]["policy"]
        assert policy["examples"] == distinct(pool) and policy["init"].startswith("base model")
        assert policy["first_loss"] is not None and manifest["attempts"] == dict.fromkeys(
            manifest["stages"], 1
        )
        assert read_metadata(it / "policy").kind == "generator"
        assert read_metadata(it / "verifier").kind == "genrm" and read_metadata(it / "prm").kind == "prm"
        assert not (it / "policy" / "checkpoints").exists()  # finished: checkpoints removed
        # Held out: the test split, sampled by this iteration's policy, judged by its new verifiers.
        held = manifest["held_out"]
        assert held["policy"] == str(it / "policy") and held["verifier"] == f"genrm:{it / 'verifier'}"
        assert all(r.split == "test" for r in read_pool(it / "eval_pool.jsonl"))
        assert {"first_sample", "best_of_n[verifier]", "best_of_n[prm]", "pass@n", "verifier_auc"} <= set(
            held
        )
        assert held["prm_steps"] > 0 and held["n"] == 4
    # The second iteration sampled with the first one's policy and trained new adapters.
    assert result.manifests[1]["started_with"]["policy"] == str(out / "iter-1" / "policy")
    first, second = lora_b(out / "iter-1" / "policy"), lora_b(out / "iter-2" / "policy")
    assert first and all(v.abs().sum() > 0 for v in first.values())  # LoRA B starts at zero: it moved
    assert any(not (first[k] == second[k]).all() for k in first)  # new data, new adapter
    assert lora_b(out / "iter-1" / "verifier") and lora_b(out / "iter-1" / "prm")


@pytest.mark.parametrize("rule", [{"threshold": 0.5}, {"top_fraction": 0.25}], ids=["fixed", "top"])
def test_verifier_only_labels_come_from_the_verifier_never_the_checker(
    chain_policy_dir: Path, tmp_path, rule: dict[str, float]
) -> None:
    out = tmp_path / "run"
    settings = config(chain_policy_dir, iterations=1, mode="verifier-only", verifier="genrm",
                      verifier_score="normalized", **rule)  # fmt: skip
    manifest = self_train(settings, out, progress=False).manifests[0]
    it = out / "iter-1"
    pool, labelled, rows = (
        read_pool(it / "pool.jsonl"),
        read_pool(it / "labelled.jsonl"),
        lines(it / "labels.jsonl"),
    )
    assert manifest["label_source"]["outcomes"].startswith("verifier genrm:untrained")
    assert manifest["label_source"]["steps"] == "the outcome verifier's label on every step"
    cut = manifest["stages"]["label"].get("threshold_used", 0.5)
    assert [row["label"] for row in rows] == [row["score"] >= cut for row in rows]
    if "top_fraction" in rule:  # the top quarter of the 24 samples by score (ties included)
        assert sum(row["label"] for row in rows) >= 6 and "top 0.25 of the pool" in manifest[
            "label_source"]["outcomes"]  # fmt: skip
    by_key = {(row["problem_id"], row["candidate_index"]): row["label"] for row in rows}
    assert [r.correct for r in labelled] == [by_key[(r.problem_id, r.candidate_index)] for r in labelled]
    positives = sum(r.correct for r in labelled)
    assert manifest["data"]["positives"] == positives and 0 < positives < len(labelled)
    gold = {(r.problem_id, r.candidate_index): r.correct for r in pool}
    disagree = sum(gold[(r.problem_id, r.candidate_index)] != r.correct for r in labelled)
    assert disagree > 0  # the labels are not the checker's (this small policy is mostly wrong)
    assert manifest["stages"]["label"]["agreement_with_checker"] == pytest.approx(1 - disagree / len(pool))
    steps = lines(it / "steps.jsonl")
    assert {e["source"] for e in steps} == {"verifier"}
    assert all(set(e["labels"]) <= {0.0, 1.0} and len(set(e["labels"])) == 1 for e in steps)
    # The policy trained on the traces the verifier accepted, right or wrong.
    assert manifest["stages"]["policy"]["examples"] == distinct(labelled)
    assert all(v.abs().sum() > 0 for v in lora_b(it / "policy").values())
    assert manifest["held_out"]["verifier"] == f"genrm:{it / 'verifier'}"


def test_shots_reach_the_training_traces_only(chain_policy_dir: Path, tmp_path) -> None:
    """STaR: demonstrations prompt the traces the policy learns from; SFT and held-out stay zero-shot."""
    out = tmp_path / "run"
    settings = config(chain_policy_dir, iterations=1, shots=2, train_verifier=False, train_prm=False)
    manifest = self_train(settings, out, progress=False).manifests[0]
    it = out / "iter-1"
    pool, held_out = read_pool(it / "pool.jsonl"), read_pool(it / "eval_pool.jsonl")
    assert {r.shots for r in pool} == {2} and {r.shots for r in held_out} == {0}
    assert manifest["stages"]["generate"]["shots"] == 2
    assert manifest["stages"]["policy"]["examples"] == distinct(pool) > 0
