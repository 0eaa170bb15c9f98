"""The runner: JSONL per problem, SQLite checkpoints, resume after a crash, baselines and summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from verbalrl.graphs import MultiConfig, ReflectiveConfig, SingleConfig
from verbalrl.llm.fake import FakeLLM, prompt_text
from verbalrl.memory import ChromaMemory
from verbalrl.run import Runner, read_results, summarize
from verbalrl.tasks import get_task
from verbalrl.testing import failing, role_of, scripted
from verbalrl.verifier.base import CheckerVerifier, FunctionVerifier


def replies(fail_on: str | None = None, after: int = 0):
    """Role-scripted replies; the prompts of role `fail_on` after the first `after` raise."""
    reply = scripted(
        {
            "critic": "Check the sum.",
            "reflector": "Plan: add the ones first.",
            "reviser": "Revised. Answer: 99",
        },
        default="First try. Answer: 98",  # the solver, and any other role
    )
    return failing(reply, fail_on, after) if fail_on else reply


def low(q: str, c: str) -> float:
    return 0.1


@pytest.fixture
def task():
    return get_task("arithmetic", level=2)


@pytest.fixture
def problems(task):
    return task.problems("test", n=4, seed=1)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_run_writes_one_line_per_problem_and_a_summary(task, problems, tmp_path: Path) -> None:
    llm = FakeLLM(replies())
    runner = Runner(
        "single",
        llm,
        FunctionVerifier(low),
        task,
        SingleConfig(n_drafts=2, max_rounds=2),
        run_id="r1",
        runs_dir=tmp_path / "runs",
        output=tmp_path / "out.jsonl",
        progress=False,
    )
    report = runner.run(problems)
    rows = lines(tmp_path / "out.jsonl")
    assert [r["problem_id"] for r in rows] == [p.id for p in problems]
    for row in rows:
        assert row["mode"] == "verifier_only" and row["method"] == "single"
        assert row["rounds"] == 2 and row["llm_calls"] == 4 and row["answer"] == "98"
        assert row["correct"] is False and row["seconds"] >= row["model_seconds"] >= 0
        assert row["path"] == ["solve", "verify", "critique", "revise", "verify", "finalize"]
    [summary] = report["summary"]
    assert summary["problems"] == 4 and summary["mean_llm_calls"] == 4.0 and summary["accuracy"] == 0.0
    saved = json.loads(Path(report["summary_path"]).read_text())
    assert saved["summary"] == report["summary"] and saved["mode"] == "verifier_only"
    assert (tmp_path / "runs" / "r1" / "checkpoints.sqlite").is_file()
    # running again skips everything
    again = runner.run(problems)
    assert again["skipped"] == 4 and len(lines(tmp_path / "out.jsonl")) == 4


def test_resume_after_a_crash_mid_problem_continues_from_the_checkpoint(
    task, problems, tmp_path: Path
) -> None:
    common = dict(run_id="crash", runs_dir=tmp_path / "runs", output=tmp_path / "o.jsonl", progress=False)
    config = SingleConfig(n_drafts=2, max_rounds=2)
    # the 3rd reviser prompt is the third problem's revise step: it crashes there
    crashing = FakeLLM(replies(fail_on="reviser", after=2))
    with pytest.raises(RuntimeError, match="injected crash"):
        Runner("single", crashing, FunctionVerifier(low), task, config, **common).run(problems)
    assert [r["problem_id"] for r in lines(tmp_path / "o.jsonl")] == [p.id for p in problems[:2]]
    # written problems' checkpoints are deleted; the interrupted one's stay for the resume
    assert set(threads(tmp_path / "runs" / "crash")) == {f"crash/{problems[2].id}"}

    healthy = FakeLLM(replies())
    report = Runner("single", healthy, FunctionVerifier(low), task, config, **common).run(problems)
    rows = lines(tmp_path / "o.jsonl")
    assert sorted(r["problem_id"] for r in rows) == sorted(p.id for p in problems)  # each exactly once
    assert report["skipped"] == 2
    resumed = rows[2]
    assert resumed["problem_id"] == problems[2].id and resumed["resumed"] is True
    assert resumed["path"] == ["solve", "verify", "critique", "revise", "verify", "finalize"]
    # the interrupted problem did not redo its drafts or critique: only the revision was sampled
    kinds = [role_of(p) for c in healthy.calls for p in c.prompts]
    assert sum(k == "reviser" for k in kinds) == 2  # problems 3 and 4
    assert sum(k == "critic" for k in kinds) == 1  # problem 4 only
    assert resumed["llm_calls"] == 4
    assert threads(tmp_path / "runs" / "crash") == {}


def threads(run_dir: Path) -> dict[str, int]:
    """Checkpoints per thread in a run's SQLite file."""
    import sqlite3

    with sqlite3.connect(run_dir / "checkpoints.sqlite") as conn:
        rows = conn.execute("SELECT thread_id, count(*) FROM checkpoints GROUP BY thread_id").fetchall()
    return dict(rows)


def test_checkpoints_are_pruned_unless_kept(task, problems, tmp_path: Path) -> None:
    def run(run_id: str, keep: bool) -> None:
        Runner(
            "single",
            FakeLLM(replies()),
            FunctionVerifier(low),
            task,
            SingleConfig(n_drafts=1, max_rounds=2),
            run_id=run_id,
            runs_dir=tmp_path,
            baselines=True,
            baseline_n=2,
            progress=False,
            keep_checkpoints=keep,
        ).run(problems)

    run("pruned", keep=False)
    assert threads(tmp_path / "pruned") == {}
    assert len(read_results(tmp_path / "pruned" / "results.jsonl")) == 4 * 4
    run("kept", keep=True)
    kept = threads(tmp_path / "kept")
    assert set(kept) == {f"kept/{p.id}" for p in problems} and all(n >= 5 for n in kept.values())
    spec = json.loads((tmp_path / "kept" / "run.json").read_text())
    assert spec["keep_checkpoints"] is True and spec["checkpoint_url"] is None
    # a crash between the write and the delete leaves threads of written problems:
    # the next run deletes them when it starts (and skips the problems)
    run("kept", keep=False)
    assert threads(tmp_path / "kept") == {}
    assert len(read_results(tmp_path / "kept" / "results.jsonl")) == 4 * 4


def test_a_problem_is_pruned_only_after_its_baselines_are_written(task, problems, tmp_path: Path) -> None:
    common = dict(run_id="bl", runs_dir=tmp_path, baselines=True, baseline_n=2, progress=False)
    config = SingleConfig(n_drafts=1, max_rounds=1)
    # the graph's one draft per problem is fine; the first self-consistency sample crashes
    calls = {"n": 0}
    base = replies()

    def reply(prompt: Any) -> str:
        calls["n"] += 1
        if calls["n"] == 2:  # problem 1: graph draft (1), then the baselines' first sample (2)
            raise RuntimeError("injected crash")
        return base(prompt)

    with pytest.raises(RuntimeError):
        Runner("single", FakeLLM(reply), FunctionVerifier(low), task, config, **common).run(problems)
    assert [r["method"] for r in read_results(tmp_path / "bl" / "results.jsonl")] == ["single"]
    assert set(threads(tmp_path / "bl")) == {f"bl/{problems[0].id}"}  # graph written, baselines not
    report = Runner("single", FakeLLM(replies()), FunctionVerifier(low), task, config, **common).run(problems)
    assert sorted((r["method"], r["problem_id"]) for r in report["records"]) == sorted(
        (m, p.id) for m in ("single", "single_shot", "self_consistency@2", "best_of_2") for p in problems
    )
    assert threads(tmp_path / "bl") == {}


def test_torn_last_line_is_repaired(task, problems, tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    out.write_text('{"method": "single", "problem_id": "x"}\n{"method": "sin')
    Runner(
        "single",
        FakeLLM(replies()),
        FunctionVerifier(low),
        task,
        SingleConfig(n_drafts=1, max_rounds=1),
        run_id="t",
        runs_dir=tmp_path,
        output=out,
        progress=False,
    ).run(problems[:1])
    assert [r["problem_id"] for r in read_results(out)] == ["x", problems[0].id]


def test_reflective_resume_does_not_duplicate_memory_records(task, problems, tmp_path: Path) -> None:
    config = ReflectiveConfig(n_drafts=1, max_rounds=2, distill_every=0, recall_k=2)

    def run_all(llm: FakeLLM, mem_dir: Path, run_id: str) -> None:
        with ChromaMemory(mem_dir, embedder="hash:64") as memory:
            Runner(
                "reflective",
                llm,
                FunctionVerifier(low),
                task,
                config,
                memory=memory,
                run_id=run_id,
                runs_dir=tmp_path / "runs",
                progress=False,
            ).run(problems)

    def counts(mem_dir: Path) -> tuple[int, int]:
        with ChromaMemory(mem_dir, embedder="hash:64") as memory:
            return memory.count("experience"), memory.count("reflection")

    run_all(FakeLLM(replies()), tmp_path / "clean", "clean")
    # crash in the 4th reflection = problem 2's second trial, after its first failure was stored
    with pytest.raises(RuntimeError):
        run_all(FakeLLM(replies(fail_on="reflector", after=3)), tmp_path / "m", "res")
    run_all(FakeLLM(replies()), tmp_path / "m", "res")
    assert counts(tmp_path / "m") == counts(tmp_path / "clean")
    rows = read_results(tmp_path / "runs" / "res" / "results.jsonl")
    assert sorted(r["problem_id"] for r in rows) == sorted(p.id for p in problems)


def test_baselines_report_their_compute(task, problems, tmp_path: Path) -> None:
    llm = FakeLLM(replies())
    report = Runner(
        "multi",
        llm,
        CheckerVerifier(task),
        task,
        MultiConfig(max_rounds=1),
        run_id="b",
        runs_dir=tmp_path,
        baselines=True,
        baseline_n=4,
        progress=False,
    ).run(problems[:2])
    by_method = {r["method"]: r for r in report["summary"]}
    assert set(by_method) == {"multi", "single_shot", "self_consistency@4", "best_of_4"}
    assert by_method["single_shot"]["mean_llm_calls"] == 1
    assert by_method["self_consistency@4"]["mean_llm_calls"] == 4
    assert by_method["best_of_4"]["mean_llm_calls"] == 4  # the checker spends no model calls
    assert by_method["multi"]["mean_llm_calls"] == 3
    assert all(r["problems"] == 2 for r in report["summary"])
    assert all(r["mode"] == "verifier_only" for r in report["records"])


def test_summarize_means() -> None:
    rows = summarize(
        [
            {
                "method": "a",
                "correct": True,
                "llm_calls": 2,
                "generated_tokens": 10,
                "seconds": 1.0,
                "score": 0.5,
                "answer": "1",
            },
            {
                "method": "a",
                "correct": False,
                "llm_calls": 4,
                "generated_tokens": 30,
                "seconds": 3.0,
                "score": None,
                "answer": None,
            },
        ]
    )
    [row] = rows
    assert row["accuracy"] == 0.5 and row["mean_llm_calls"] == 3 and row["mean_generated_tokens"] == 20
    assert row["mean_seconds"] == 2.0 and row["mean_score"] == 0.5 and row["no_answer"] == 1


def test_a_problem_too_long_for_the_model_is_recorded_and_the_run_goes_on(task, problems, tmp_path) -> None:
    from verbalrl.errors import ContextLengthError

    base = replies()

    def reply(prompt: Any) -> str:
        if "HUGE" in prompt_text(prompt):
            raise ContextLengthError("prompt has 90000 tokens; the model holds 8192")
        return base(prompt)

    huge = problems[1].model_copy(update={"question": "HUGE " + "x " * 50_000})
    batch = [problems[0], huge, problems[2]]
    report = Runner(
        "single",
        FakeLLM(reply),
        FunctionVerifier(low),
        task,
        SingleConfig(n_drafts=1, max_rounds=1),
        run_id="huge",
        runs_dir=tmp_path,
        baselines=True,
        baseline_n=2,
        progress=False,
    ).run(batch)
    rows = [r for r in report["records"] if r["problem_id"] == huge.id]
    assert len(rows) == 4 and all(r["status"] == "error" and r["answer"] is None for r in rows)
    assert "8192" in rows[0]["errors"][-1]
    assert sum(r["method"] == "single" and r["status"] != "error" for r in report["records"]) == 2


def test_run_spec_is_written_atomically_and_a_broken_one_is_a_clear_error(tmp_path: Path) -> None:
    from verbalrl.errors import VerbalRLError
    from verbalrl.run import read_spec

    task = get_task("arithmetic", level=1)
    runner = Runner(
        "single", FakeLLM("Answer: 1"), CheckerVerifier(task), task, SingleConfig(n_drafts=1),
        run_id="spec", runs_dir=tmp_path, progress=False,
    )
    runner.run(task.problems("test", n=1))
    spec_file = tmp_path / "spec" / "run.json"
    assert read_spec("spec", tmp_path).graph == "single"
    assert not spec_file.with_name("run.json.tmp").exists()
    spec_file.write_text("", encoding="utf-8")  # what a kill mid-write used to leave
    with pytest.raises(VerbalRLError, match="unreadable.*cannot be resumed"):
        read_spec("spec", tmp_path)
    spec_file.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(VerbalRLError, match="not a verbalrl run spec"):
        read_spec("spec", tmp_path)


def test_the_summary_reports_the_exemplar_gate_precision(task, problems, tmp_path: Path) -> None:
    # An always-wrong answer ("98") accepted by an over-confident verifier: every exemplar the
    # gate lets through is wrong, and the summary must say so (precision 0), not hide it.
    confident = FunctionVerifier(lambda q, c: 0.95)
    with ChromaMemory(tmp_path / "mem", embedder="hash:64") as memory:
        report = Runner(
            "reflective",
            FakeLLM(replies()),
            confident,
            task,
            ReflectiveConfig(n_drafts=2, max_rounds=1, distill_every=0),
            memory=memory,
            run_id="gate",
            runs_dir=tmp_path / "runs",
            progress=False,
        ).run(problems[:3])
    row = report["summary"][0]
    assert row["exemplars"] == 3 and row["gate_precision"] == 0.0
    assert all(r["exemplar_stored"] is True and r["correct"] is False for r in report["records"])
    assert [r["demonstrations"] for r in report["records"]] == [0, 1, 2]  # memory grows, recall uses it
