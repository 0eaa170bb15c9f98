"""`verbalrl self-train` killed (SIGKILL) mid-iteration resumes with `--resume`: finished stages are not
redone, the interrupted training continues from its checkpoint; `verbalrl consolidate`; bad input exits 2."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import invoke

ROOT = Path(__file__).resolve().parents[2]

# The child runs the real CLI; a Trainer callback hook blocks it right after the policy's first
# checkpoint is saved (and says so in a file), so the kill lands mid-iteration, mid-training.
CHILD = """
import sys, time
from pathlib import Path
from typing import Any
from verbalrl.training import sft_trainer

def on_save(self, args, state, control, **kwargs):
    Path(sys.argv[1]).write_text(str(state.global_step))
    time.sleep(3600)

sft_trainer.LossHistory.on_save = on_save
from verbalrl.cli.app import app
app(sys.argv[2:], prog_name="verbalrl")
"""


def last_json(text: str) -> dict[str, Any]:
    """The --json object in output that also holds the trainers' log lines (stderr, mixed in)."""
    obj, _ = json.JSONDecoder().raw_decode(text[text.index('{\n  "') :])
    return dict(obj)


def args(base: Path, out: Path) -> list[object]:
    return [
        "self-train", "--out", out, "--task", "chain", "--level", "2", "--task-option", "max_number=3",
        "--iterations", "1", "--problems", "6", "--eval-problems", "3", "--samples", "4",
        "--eval-samples", "2", "--max-new-tokens", "24", "--base-model", base, "--dtype", "float32",
        "--no-baseline", "--policy-epochs", "2", "--verifier-epochs", "1", "--prm-epochs", "1",
        "--lr", "1e-2", "--batch-size", "1", "--lora-r", "4", "--save-steps", "2",
    ]  # fmt: skip


def test_kill_9_mid_iteration_then_resume_redoes_nothing_finished(chain_policy_dir: Path, tmp_path) -> None:
    out, halt = tmp_path / "run", tmp_path / "halted"
    argv = [str(a) for a in args(chain_policy_dir, out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VERBALRL_THREADS": "1"}
    log = (tmp_path / "child.log").open("w")
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(halt), *argv], env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 300
        while not halt.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert halt.exists(), (tmp_path / "child.log").read_text()[-3000:]
        it = out / "iter-1"
        finished = {p.name: p.stat().st_mtime_ns for p in (it / "stages").iterdir()}
        outputs = {name: (it / name).stat().st_mtime_ns for name in ("pool.jsonl", "labelled.jsonl")}
        assert sorted(finished) == ["generate.json", "label.json"]  # killed inside the policy stage
        assert (it / "policy" / "checkpoints" / "checkpoint-2").is_dir()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL

    code, text = invoke(*args(chain_policy_dir, out))  # without --resume: refused, nothing touched
    assert code == 2 and "--resume" in text
    code, text = invoke(*args(chain_policy_dir, out), "--resume", "--json")
    assert code == 0, text
    manifest = json.loads((it / "manifest.json").read_text())
    assert manifest["attempts"] == {
        "generate": 1,
        "label": 1,
        "policy": 2,
        "verifier": 1,
        "prm": 1,
        "evaluate": 1,
    }
    for name, mtime in finished.items():
        assert (it / "stages" / name).stat().st_mtime_ns == mtime, name
    for name, mtime in outputs.items():
        assert (it / name).stat().st_mtime_ns == mtime, name
    policy = manifest["stages"]["policy"]
    assert policy["resumed_from"] == "checkpoint-2" and policy["optimizer_steps"] > 2
    assert "done before, skipped" in text and manifest["label_source"]["outcomes"] == "checker"
    rows = last_json(text)["iterations"]
    assert [r["iteration"] for r in rows] == [1] and rows[0]["n"] == 2


def test_resume_with_other_settings_is_refused(tmp_path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"task": "chain"}))
    code, text = invoke("self-train", "--out", out, "--resume", "--iterations", "1")
    assert code == 2 and "other settings" in text


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--mode", "verifier-only"], "give the first one"),
        (["--mode", "verifier-only", "--verifier", "checker"], "never reads the gold answer"),
        (["--mode", "sometimes"], "mode"),
        (["--threshold", "2"], "threshold"),
        (["--shots", "-1"], "shots"),
        (["--shots", "9"], "shots"),
        (["--mode", "verifier-only", "--verifier", "genrm", "--top-fraction", "0"], "top_fraction"),
        (["--top-fraction", "0.1"], "feedback mode labels with the checker"),
    ],
)
def test_bad_self_train_input_exits_2(tmp_path, extra, message) -> None:
    code, text = invoke("self-train", "--out", tmp_path / "run", *extra)
    assert code == 2 and message in text and "Traceback" not in text


def test_consolidate_cli_trains_on_the_gated_experiences(tmp_path, tiny_llama_dir) -> None:
    from verbalrl.memory import ChromaMemory, Experience

    with ChromaMemory(tmp_path / "memory", embedder="hash:64") as memory:
        memory.add_experiences([
            Experience(task="chain", problem="Compute 2 + 3 - 2.", solution="2 + 3 = 5\n5 - 2 = 3\nAnswer: 3",
                       outcome="success", verified=True, checker_confirmed=True),
            Experience(task="chain", problem="Compute 3 + 3 + 2.", solution="Answer: 9", outcome="failure"),
        ])  # fmt: skip
    code, text = invoke(
        "consolidate", "--memory", tmp_path / "memory", "--out", tmp_path / "policy", "--embedder", "hash:64",
        "--base-model", tiny_llama_dir, "--epochs", "1", "--batch-size", "1", "--lora-r", "4", "--json",
    )  # fmt: skip
    assert code == 0, text
    manifest = last_json(text)
    assert manifest["examples"] == 1 and manifest["by_status"] == {"exemplar": 1, "failure": 1}
    assert (tmp_path / "policy" / "adapter_model.safetensors").is_file()
    code, text = invoke("consolidate", "--memory", tmp_path / "nowhere", "--out", tmp_path / "x")
    assert code == 2 and "does not exist" in text
