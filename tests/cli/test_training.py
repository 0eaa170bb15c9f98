"""sample -> train-verifier -> eval-verifier through the real CLI on the embedded model (small)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def cli(*args: str, cwd) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "verbalrl.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.slow
def test_sample_train_eval_end_to_end(tmp_path, smollm):  # smollm: the GGUF is converted already
    cli(
        "sample",
        "--task",
        "arithmetic",
        "--level",
        "1",
        "--split",
        "train",
        "--problems",
        "3",
        "--samples",
        "2",
        "--max-new-tokens",
        "24",
        "--out",
        "train.jsonl",
        cwd=tmp_path,
    )
    cli(
        "sample",
        "--task",
        "arithmetic",
        "--level",
        "1",
        "--split",
        "test",
        "--problems",
        "2",
        "--samples",
        "2",
        "--max-new-tokens",
        "24",
        "--seed",
        "1",
        "--out",
        "test.jsonl",
        cwd=tmp_path,
    )
    trained = cli(
        "train-verifier",
        "--pool",
        "train.jsonl",
        "--out",
        "genrm",
        "--epochs",
        "1",
        "--batch-size",
        "4",
        "--lora-r",
        "2",
        "--json",
        cwd=tmp_path,
    )
    summary = json.loads(trained.stdout)  # --json: stdout holds the JSON only
    assert summary["steps"] >= 1 and summary["examples"] >= 2
    meta = json.loads((tmp_path / "genrm" / "verifier.json").read_text())
    assert meta["kind"] == "genrm" and meta["base_model"] == "smollm2-135m-instruct"

    cli(
        "eval-verifier",
        "--pool",
        "test.jsonl",
        "--out",
        "eval",
        "--genrm",
        "genrm",
        "--ns",
        "1,2",
        cwd=tmp_path,
    )
    report = json.loads((tmp_path / "eval" / "eval.json").read_text())
    text = json.dumps(report)
    assert "genrm" in text and "self_consistency" in text
    assert (tmp_path / "eval" / "accuracy_vs_n.png").stat().st_size > 1000


def test_train_verifier_rejects_bad_kind_and_empty_pool(tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    for args, message in [
        (["--pool", "empty.jsonl", "--out", "x", "--kind", "bogus"], "--kind"),
        (["--pool", "empty.jsonl", "--out", "x"], "empty"),
        (["--pool", "missing.jsonl", "--out", "x"], "missing.jsonl"),
    ]:
        result = subprocess.run(
            [sys.executable, "-m", "verbalrl.cli", "train-verifier", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr
