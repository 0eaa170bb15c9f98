"""The packaged trained GenRM (`genrm-sum30`): it loads by name and it really discriminates."""

from __future__ import annotations

import pytest

from verbalrl.tasks import get_task
from verbalrl.verifier.artifact import PACKAGED, read_metadata
from verbalrl.verifier.genrm import GenRMVerifier


def test_packaged_verifier_metadata():
    meta = read_metadata(PACKAGED["genrm-sum30"])
    assert meta.kind == "genrm" and meta.base_model == "smollm2-135m-instruct"
    assert (PACKAGED["genrm-sum30"] / "adapter_model.safetensors").is_file()


@pytest.mark.slow
def test_packaged_verifier_loads_by_name_and_applies_its_adapter(smollm):
    # Quality is measured by benchmarks/genrm_quality.py (see benchmarks/RESULTS.md), not here:
    # this checks the packaged adapter is found by name, loads onto the base model and changes
    # its verdicts on in-distribution training-style candidates.
    task = get_task("arithmetic", level="sum30")
    problem = task.problems("train", n=1, seed=0)[0]
    a, b = (int(x) for x in problem.question.rstrip("?").split("is ")[-1].split(" + "))
    candidates = [f"{a} + {b} = {a + b}", f"{a} + {b} = {a + b + 4}", "I am not sure."]
    trained = GenRMVerifier.load("genrm-sum30", dtype="float32").verify(problem, candidates)
    base = GenRMVerifier(smollm).verify(problem, candidates)
    assert all(0.0 <= s <= 1.0 for s in trained.scores)
    assert max(abs(x - y) for x, y in zip(trained.scores, base.scores, strict=True)) > 0.05
