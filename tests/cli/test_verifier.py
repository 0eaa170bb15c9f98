"""`verbalrl sample` and `verbalrl eval-verifier` through typer's runner on a fresh app."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from verbalrl.cli import verifier as cli_eval
from verbalrl.errors import VerbalRLError
from verbalrl.evaluation.pool import PoolError, read_pool
from verbalrl.llm.fake import FakeLLM

runner = CliRunner()


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    cli_eval.register(app)
    return app


@pytest.fixture
def fake_models(monkeypatch):
    """Replace model loading: the generator answers 7 or 12, the judge likes 12."""
    loaded: list[str] = []

    def load(name, base_url, dtype):
        loaded.append(name)
        if name == "judge-model":
            return FakeLLM(lambda p: "Verdict: Yes" if "Answer: 12" in str(p) else "Verdict: No")
        return FakeLLM(["Answer: 12", "Answer: 7", "hmm", "Answer: 12"], name=name)

    monkeypatch.setattr(cli_eval, "load_model", load)
    return loaded


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
            "gen-model",
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
            "judge-model",
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


class _Recorder:
    """Stands in for a trained verifier class: records how the CLI loads it."""

    loads: list[tuple[str, str, dict[str, object]]] = []

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def load(self, path, **kwargs):
        from verbalrl.verifier.base import FunctionVerifier

        self.loads.append((self.kind, str(path), kwargs))
        return FunctionVerifier(lambda q, c: 0.5, name=self.kind)


def test_eval_verifier_loads_trained_checkpoints(app, pool_file, tmp_path, monkeypatch):
    _Recorder.loads = []
    monkeypatch.setattr(cli_eval, "_import_verifier", lambda module, cls: _Recorder(cls))
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
            "--ns",
            "1,2",
            "--bootstrap",
            "20",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert _Recorder.loads == [
        ("GenRMVerifier", str(tmp_path / "a"), {}),
        ("GenRMVerifier", str(tmp_path / "b"), {}),
        ("GenRMCoTVerifier", str(tmp_path / "cot"), {"k": 3}),
        ("ORMVerifier", str(tmp_path / "orm"), {}),
    ]
    names = [v["name"] for v in json.loads(result.output)["verifiers"]]
    assert names == ["genrm:a", "genrm:b", "genrm_cot", "orm"]


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


def test_import_verifier_names_what_is_missing():
    with pytest.raises(VerbalRLError, match="verbalrl.verifier.no_such_module.X is not available"):
        cli_eval._import_verifier("no_such_module", "X")


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
