"""`verbalrl models`, `generate` and `serve` in process, with a registered fake backend."""

from __future__ import annotations

import json

import pytest

from verbalrl.llm.fake import FakeLLM
from verbalrl.testing import registered_backend

from .conftest import invoke


@pytest.fixture
def fake_backend():
    loaded: list[tuple[str, dict]] = []

    def load(model, **options):
        loaded.append((model, options))
        return FakeLLM(["4", "5"], name=model)

    with registered_backend("fake", load):
        yield loaded


def test_generate_with_a_registered_backend(fake_backend, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("What is 2 + 2?\n\nWhat is 2 + 3?\n")
    code, out = invoke("generate", "--model", "fake:toy", "--n", "2", "--file", prompts, "--json")
    assert code == 0, out
    payload = json.loads(out)
    assert [p["prompt"] for p in payload] == ["What is 2 + 2?", "What is 2 + 3?"]
    assert all(len(p["completions"]) == 2 for p in payload)
    assert fake_backend == [("toy", {"dtype": "auto"})]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["generate", "--file", "no-such-file.txt"], "does not exist"),
        (["generate", "--model", "fake:toy", "--max-new-tokens", "0", "hi"], "max_new_tokens"),
        (["serve", "--model", "no-such-model"], "unknown model 'no-such-model'"),
    ],
)
def test_bad_input_exits_2_with_one_line(fake_backend, args, message):
    code, out = invoke(*args)
    assert code == 2, out
    assert message in out and out.startswith("error: ") and out.count("\n") == 1
