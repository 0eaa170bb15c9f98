"""`verbalrl sample`, `eval-verifier` and `train-verifier` through typer's runner.

Models and verifiers come from the library's registries (`--model fake:NAME`,
a stand-in `genrm` kind), not from monkeypatched loaders.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

from verbalrl.cli import app as main_app
from verbalrl.cli import verifier as cli_eval
from verbalrl.errors import VerbalRLError
from verbalrl.evaluation.pool import PoolError, read_pool
from verbalrl.llm.fake import FakeLLM
from verbalrl.testing import registered_backend, registered_verifier
from verbalrl.training import SFTConfig
from verbalrl.verifier.base import FunctionVerifier

from .conftest import invoke

runner = CliRunner()


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    cli_eval.register(app)
    return app


@pytest.fixture
def fake_models():
    """A `fake:` backend: the generator answers 7 or 12, the judge likes 12."""
    loaded: list[str] = []

    def load(name, **options):
        loaded.append(name)
        if name == "judge-model":
            return FakeLLM(lambda p: "Verdict: Yes" if "Answer: 12" in str(p) else "Verdict: No")
        return FakeLLM(["Answer: 12", "Answer: 7", "hmm", "Answer: 12"], name=name)

    with registered_backend("fake", load):
        yield loaded


@pytest.fixture
def pool_file(app, tmp_path, fake_models):
    out = tmp_path / "pool.jsonl"
    result = runner.invoke(
        app,
        [
            "sample",
            "--task",
            "arithmetic",
            "--level",
            "1",
            "--split",
            "test",
            "--problems",
            "3",
            "--samples",
            "4",
            "--model",
            "fake:gen-model",
            "--temperature",
            "0.9",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    return out


def test_sample_writes_a_labelled_pool(pool_file, fake_models):
    records = read_pool(pool_file)
    assert fake_models == ["gen-model"]
    assert len(records) == 12 and len({r.problem_id for r in records}) == 3
    assert {r.task_options["level"] for r in records} == {1}
    assert all(r.generator == "gen-model" and r.temperature == 0.9 for r in records)
    # Problem 2 of arithmetic level 1 test seed 0 is "6 + 6": "Answer: 12" is right there.
    six = [r for r in records if r.question.startswith("What is 6 + 6")]
    assert [r.correct for r in six] == [True, False, False, True]


def test_sample_with_task_options_and_shots_from_a_pool(app, pool_file, tmp_path, fake_models):
    out = tmp_path / "shots.jsonl"
    args = ["sample", "--task", "word_sort", "--task-option", "test_min_words=2", "--task-option",
            "test_max_words=2", "--problems", "2", "--samples", "1", "--model", "fake:m",
            "--out", str(out)]  # fmt: skip
    assert runner.invoke(app, args).exit_code == 0
    records = read_pool(out)
    assert all(len(r.meta["words"]) == 2 and r.shots == 0 for r in records)
    assert records[0].task_options == {"test_min_words": 2, "test_max_words": 2}
    # demonstrations: the arithmetic pool's correct answers (never the problem's own), else references
    shown = {r.question for r in read_pool(pool_file) if r.correct}
    base = ["sample", "--task", "arithmetic", "--level", "1", "--problems", "3", "--samples", "1",
            "--model", "fake:m", "--shots", "2"]  # fmt: skip
    few_out = tmp_path / "few.jsonl"
    result = runner.invoke(app, [*base, "--shots-from", str(pool_file), "--out", str(few_out)])
    assert result.exit_code == 0, result.output
    few = read_pool(tmp_path / "few.jsonl")
    assert shown and [r.shots for r in few] == [min(2, len(shown - {r.question})) for r in few]
    result = runner.invoke(app, [*base, "--out", str(tmp_path / "refs.jsonl")])
    assert result.exit_code == 0, result.output
    assert {r.shots for r in read_pool(tmp_path / "refs.jsonl")} == {2}  # train-split references


def test_sample_json_summary(app, tmp_path, fake_models):
    out = tmp_path / "p.jsonl"
    result = runner.invoke(
        app,
        [
            "sample",
            "--task",
            "arithmetic",
            "--problems",
            "2",
            "--samples",
            "2",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert (summary["problems"], summary["candidates"], summary["pool"]) == (2, 4, str(out))


def test_eval_verifier_writes_json_png_and_table(app, pool_file, tmp_path, fake_models):
    out = tmp_path / "eval"
    result = runner.invoke(
        app,
        [
            "eval-verifier",
            "--pool",
            str(pool_file),
            "--out",
            str(out),
            "--checker",
            "--judge",
            "fake:judge-model",
            "--judge-k",
            "2",
            "--ns",
            "1,2,4",
            "--bootstrap",
            "100",
        ],
        env={"COLUMNS": "250"},
    )
    assert result.exit_code == 0, result.output
    assert fake_models[-1] == "judge-model"
    payload = json.loads((out / "eval.json").read_text())
    assert payload["ns"] == [1, 2, 4]
    acc = {(r["label"], r["n"]): r["accuracy"] for r in payload["results"]}
    for n in (1, 2, 4):
        assert acc[("best_of_n[checker]", n)] == pytest.approx(acc[("pass@n", n)])
        # The fake judge says Yes exactly to "Answer: 12", i.e. it is the checker on 6 + 6
        # and wrongly confident elsewhere; it can never beat the oracle.
        assert acc[("best_of_n[llm_judge]", n)] <= acc[("pass@n", n)] + 1e-12
    judge = next(v for v in payload["verifiers"] if v["name"] == "llm_judge")
    assert judge["llm_calls"] == 12 * 2
    assert (out / "accuracy_vs_n.png").read_bytes()[:4] == b"\x89PNG"
    assert "best_of_n[llm_judge]" in result.output and "self_consistency" in result.output


def test_eval_verifier_json_output_and_skipped_n(app, pool_file, tmp_path):
    out = tmp_path / "eval"
    result = runner.invoke(
        app,
        [
            "eval-verifier",
            "--pool",
            str(pool_file),
            "--out",
            str(out),
            "--bootstrap",
            "50",
            "--no-plot",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert (payload["ns"], payload["skipped_ns"]) == ([1, 2, 4], [8, 16])
    assert not (out / "accuracy_vs_n.png").exists()


@pytest.fixture
def stand_in_verifiers():
    """The `genrm`, `genrm-cot` and `orm` kinds (and a `scripted` one) record how they are loaded."""
    loads: list[tuple[str, str, dict[str, object]]] = []

    def recorder(kind):
        def load(argument, context):
            loads.append((kind, argument, dict(context.options)))
            return FunctionVerifier(lambda q, c: 0.5, name=kind)

        return load

    with (
        registered_verifier("genrm", recorder("genrm")),
        registered_verifier("genrm-cot", recorder("genrm-cot")),
        registered_verifier("orm", recorder("orm")),
        registered_verifier("scripted", recorder("scripted")),
    ):
        yield loads


def test_eval_verifier_loads_trained_checkpoints(app, pool_file, tmp_path, stand_in_verifiers):
    result = runner.invoke(
        app,
        [
            "eval-verifier",
            "--pool",
            str(pool_file),
            "--out",
            str(tmp_path / "e"),
            "--no-plot",
            "--genrm",
            str(tmp_path / "a"),
            "--genrm",
            str(tmp_path / "b"),
            "--genrm-cot",
            str(tmp_path / "cot"),
            "--cot-k",
            "3",
            "--orm",
            str(tmp_path / "orm"),
            "--verifier",
            "scripted:x",
            "--ns",
            "1,2",
            "--bootstrap",
            "20",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert stand_in_verifiers == [
        ("genrm", str(tmp_path / "a"), {}),
        ("genrm", str(tmp_path / "b"), {}),
        ("genrm-cot", str(tmp_path / "cot"), {"k": 3}),
        ("orm", str(tmp_path / "orm"), {}),
        ("scripted", "x", {}),
    ]
    names = [v["name"] for v in json.loads(result.output)["verifiers"]]
    assert names == ["genrm:a", "genrm:b", "genrm_cot", "orm", "scripted:x"]


def test_eval_verifier_bad_input_raises_clear_errors(app, pool_file, tmp_path):
    bad = tmp_path / "bad.jsonl"
    lines = pool_file.read_text().splitlines()
    bad.write_text("\n".join([lines[0], lines[1], '{"problem_id": "x"}']) + "\n")
    result = runner.invoke(app, ["eval-verifier", "--pool", str(bad), "--out", str(tmp_path)])
    assert isinstance(result.exception, PoolError)
    assert "bad.jsonl:3:" in str(result.exception)

    result = runner.invoke(
        app, ["eval-verifier", "--pool", str(pool_file), "--out", str(tmp_path), "--ns", "1,x"]
    )
    assert isinstance(result.exception, VerbalRLError)
    assert "--ns must be comma-separated integers" in str(result.exception)


def test_a_missing_checkpoint_names_what_is_missing(app, pool_file, tmp_path):
    missing = tmp_path / "no_such_genrm"
    result = runner.invoke(
        app, ["eval-verifier", "--pool", str(pool_file), "--out", str(tmp_path), "--genrm", str(missing)]
    )
    assert isinstance(result.exception, VerbalRLError)
    assert f"verifier {str(missing)!r}: no such folder" in str(result.exception)


def test_verifier_specs_name_one_checkpoint_by_kind_and_several_by_folder(tmp_path):
    specs = cli_eval.verifier_specs([tmp_path / "a", tmp_path / "b"], [tmp_path / "c"], [], cot_k=3)
    assert specs == [
        ("genrm:a", f"genrm:{tmp_path / 'a'}", {}),
        ("genrm:b", f"genrm:{tmp_path / 'b'}", {}),
        ("genrm_cot", f"genrm-cot:{tmp_path / 'c'}", {"k": 3}),
    ]


@pytest.mark.slow
def test_sample_with_the_real_model(app, tmp_path, smollm):  # smollm: converted already
    out = tmp_path / "pool.jsonl"
    result = runner.invoke(
        app,
        [
            "sample",
            "--task",
            "arithmetic",
            "--level",
            "1",
            "--problems",
            "1",
            "--samples",
            "1",
            "--max-new-tokens",
            "8",
            "--dtype",
            "float32",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    records = read_pool(out)
    assert len(records) == 1 and 1 <= records[0].completion_tokens <= 8
    assert all(r.generator == "smollm2-135m-instruct" for r in records)


def test_sample_reads_a_data_file_by_data_or_the_old_path(app, tmp_path, fake_models, qa_file):
    pools = []
    for flag in ("--data", "--path"):
        out = tmp_path / f"pool{flag}.jsonl"
        args = ["sample", "--task", "jsonl", flag, str(qa_file), "--problems", "3", "--samples", "1"]
        result = runner.invoke(app, [*args, "--model", "fake:gen-model", "--out", str(out)])
        assert result.exit_code == 0, result.output
        pools.append(read_pool(out))
    assert [r.question for r in pools[0]] == [r.question for r in pools[1]]
    assert pools[0][0].task_options == {"path": str(qa_file)}


def test_train_verifier_defaults_come_from_sft_config():
    params = {p.name: p.default for p in get_command(main_app).commands["train-verifier"].params}
    fields = SFTConfig.model_fields
    for flag, field in [
        ("base_model", "base_model"),
        ("method", "method"),
        ("lam", "lam"),
        ("epochs", "epochs"),
        ("lr", "learning_rate"),
        ("batch_size", "batch_size"),
        ("lora_r", "lora_r"),
        ("max_length", "max_length"),
    ]:
        assert params[flag] == fields[field].default, flag


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sample", "--task", "no-such-task", "--out", "p.jsonl"], "no-such-task"),
        (["sample", "--task", "arithmetic", "--out", "p.jsonl", "--model", "no-such-model"], "no-such-model"),
        (["eval-verifier", "--pool", "missing.jsonl", "--out", "e"], "missing.jsonl"),
        (["eval-verifier", "--pool", "POOL", "--out", "e", "--ns", "1,x"], "--ns must be comma-separated"),
        (["eval-verifier", "--pool", "POOL", "--out", "e", "--verifier", "nope"], "no such folder"),
        (["train-verifier", "--pool", "POOL", "--out", "x", "--kind", "orm", "--lam", "0.5"], "--lam"),
        (["train-verifier", "--pool", "POOL", "--out", "x", "--epochs", "0"], "epochs"),
        (["sample", "--task", "word_sort", "--out", "p.jsonl", "--task-option", "words"], "KEY=VALUE"),
        (["sample", "--task", "word_sort", "--out", "p.jsonl", "--task-option", "nope=2"], "nope"),
        (["sample", "--task", "arithmetic", "--out", "p.jsonl", "--shots", "-1"], "--shots"),
    ],
)
def test_bad_input_exits_2_with_one_line(pool_file, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    code, out = invoke(*[str(pool_file) if a == "POOL" else a for a in args])
    assert code == 2, out
    assert message in out and out.startswith("error: ") and "Traceback" not in out


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
