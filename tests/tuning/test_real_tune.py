"""A small real tune on the embedded model (SmolLM2-135M): two trials on three dev problems, compute
counted from the real calls (n drafts, plus one verifier call per draft with an answer), the chosen
spec written and loadable."""

from __future__ import annotations

from pathlib import Path

import pytest

from verbalrl.run.agent import AgentSpec, load_agent, read_agent_spec
from verbalrl.tuning import SearchSpace, TuneSettings, tune
from verbalrl.verifier.registry import load_verifier


@pytest.mark.slow
def test_a_small_real_tune_on_the_embedded_model(smollm, tmp_path: Path) -> None:
    base = AgentSpec(
        task="arithmetic", task_options={"level": "sum30"}, verifier="genrm",
        config={"max_new_tokens": 24, "seed": 0},
    )  # fmt: skip
    space = SearchSpace(graphs=("single",), n_drafts=(1, 2), max_rounds=(1,), thresholds=(0.5,))
    verifier = load_verifier("genrm", smollm)  # the untrained model as judge: mechanics only
    result = tune(
        TuneSettings(base=base, space=space, dev_n=3, prune_fraction=0.0), trials=2,
        storage=f"sqlite:///{tmp_path / 'study.db'}", llm=smollm, verifier=verifier,
    )  # fmt: skip
    assert len(result.finished()) == 2
    for r in result.results:
        assert r.spec is not None and r.problems == 3 and 0.0 <= (r.accuracy or 0.0) <= 1.0
        n = r.spec.config.n_drafts
        assert n <= r.calls <= 2 * n  # n drafts generated, those with an answer scored (one round)
        assert r.tokens is not None and 0 < r.tokens <= n * 24
    spec_path, _ = result.write(tmp_path / "agent.yaml")
    spec = read_agent_spec(spec_path)
    agent = load_agent(spec, llm=smollm, verifier=verifier)
    result_ = agent.solve("What is 12 + 7?")
    n = spec.config.n_drafts
    assert n <= result_["llm_calls"] <= 2 * n and result_["status"] in ("accept", "max_rounds")
