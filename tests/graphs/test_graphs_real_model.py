"""Each graph end to end on the real embedded SmolLM2-135M with a tiny budget.

The verifier is GenRM on the same untrained model: these tests check the
mechanics on real outputs (parsing, batching, accounting, memory), not quality.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from verbalrl.graphs import MultiConfig, ReflectiveConfig, SingleConfig
from verbalrl.run import Runner
from verbalrl.tasks import get_task
from verbalrl.verifier.genrm import GenRMVerifier

pytestmark = pytest.mark.slow

SMALL = dict(n_drafts=2, max_rounds=1, max_new_tokens=48, critic_max_new_tokens=24, seed=0)


@pytest.fixture(scope="module")
def task():
    return get_task("arithmetic", level=1)


def check_record(row: dict, task, problem) -> None:
    assert row["problem_id"] == problem.id and row["mode"] == "verifier_only"
    assert row["generated_tokens"] > 0 and row["rounds"] == 1
    assert row["correct"] == task.check(problem, row["answer"])
    if row["score"] is not None:
        assert 0.0 <= row["score"] <= 1.0
    assert row["seconds"] >= row["model_seconds"] > 0


def test_single_graph_on_the_real_model(smollm, task, tmp_path: Path) -> None:
    problem = task.problems("test", n=1)[0]
    report = Runner(
        "single",
        smollm,
        GenRMVerifier(smollm),
        task,
        SingleConfig(**SMALL),
        runs_dir=tmp_path,
        progress=False,
    ).run([problem])
    [row] = report["records"]
    check_record(row, task, problem)
    assert row["path"] == ["solve", "verify", "finalize"]
    answered = row["drafts"] - row["failed_drafts"]
    assert row["llm_calls"] == 2 + answered  # two drafts, one GenRM pass per draft with an answer


def test_multi_graph_on_the_real_model(smollm, task, tmp_path: Path) -> None:
    problem = task.problems("test", n=1, seed=1)[0]
    config = MultiConfig(**{**SMALL, "n_agents": 2})
    report = Runner(
        "multi", smollm, GenRMVerifier(smollm), task, config, runs_dir=tmp_path, progress=False
    ).run([problem])
    [row] = report["records"]
    check_record(row, task, problem)
    assert row["path"] == ["draft", "draft", "verify", "finalize"] and row["drafts"] == 2


def test_reflective_graph_on_the_real_model(smollm, task, tmp_path: Path) -> None:
    from verbalrl.memory import ChromaMemory

    problems = task.problems("test", n=2, seed=2)
    small = {**SMALL, "n_drafts": 1, "max_new_tokens": 32, "critic_max_new_tokens": 16}
    config = ReflectiveConfig(**small, recall_k=1, distill_every=0, threshold=0.99, show_failures=True)
    with ChromaMemory(tmp_path / "mem") as memory:  # the default, real embedding model
        report = Runner(
            "reflective",
            smollm,
            GenRMVerifier(smollm),
            task,
            config,
            memory=memory,
            runs_dir=tmp_path,
            progress=False,
        ).run(problems)
        first, second = report["records"]
        for row, problem in zip((first, second), problems, strict=True):
            check_record(row, task, problem)
            assert row["stored"] == 1
        assert first["recalled"] == 0 and second["recalled"] >= 1  # the second recalls the first
        assert memory.count("experience") == 2


class Recording:
    """The real model, with every prompt it was sent kept (to look at the solver's turns)."""

    def __init__(self, llm) -> None:  # type: ignore[no-untyped-def]
        self.llm, self.name, self.capabilities = llm, llm.name, llm.capabilities
        self.prompts: list = []

    def generate(self, prompts, config=None):  # type: ignore[no-untyped-def]
        self.prompts += list(prompts)
        return self.llm.generate(prompts, config)

    def next_token_probs(self, prompts, candidates):  # type: ignore[no-untyped-def]
        return self.llm.next_token_probs(prompts, candidates)


def test_reflective_graph_recalls_a_verified_solution_as_a_demonstration(smollm, task, tmp_path: Path) -> None:  # noqa: E501
    from verbalrl.memory import ChromaMemory
    from verbalrl.verifier import FunctionVerifier

    problems = task.problems("test", n=2, seed=4)
    small = {**SMALL, "n_drafts": 1, "max_new_tokens": 32, "critic_max_new_tokens": 16}
    config = ReflectiveConfig(**small, recall_k=1, distill_every=0, gate_majority=False)
    model = Recording(smollm)
    accept = FunctionVerifier(lambda q, c: 0.9)  # accepts every answer: the first becomes an exemplar
    with ChromaMemory(tmp_path / "mem") as memory:  # real chromadb, the real embedding model
        report = Runner(
            "reflective", model, accept, task, config, memory=memory, runs_dir=tmp_path, progress=False
        ).run(problems)
        first, second = report["records"]
        assert first["exemplar_stored"] and first["demonstrations"] == 0
        assert second["demonstrations"] == 1
        [stored] = [e for e in memory.iter_records("experience") if e.problem == problems[0].question]
    solver = [p for p in model.prompts if p[-1]["content"].endswith(task.answer_format)]
    last = solver[-1]
    assert [m["role"] for m in last] == ["system", "user", "assistant", "user"]
    assert problems[0].question in last[1]["content"] and problems[1].question in last[3]["content"]
    assert last[2]["content"] == stored.solution  # the first problem's verified solution, as a turn
