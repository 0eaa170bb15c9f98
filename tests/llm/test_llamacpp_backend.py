"""`llamacpp:` models: the packaged GGUF run by llama.cpp behaves as an `LLM` like the transformers one.

`make setup` builds llama-cpp-python, so these run in CI; without it they skip.
"""

from __future__ import annotations

import pytest

from verbalrl.errors import ContextLengthError, ModelNotFoundError
from verbalrl.llm.aliases import ALIASES, find_packaged_gguf
from verbalrl.llm.base import LLM, GenerationConfig
from verbalrl.llm.registry import load_llm

pytest.importorskip("llama_cpp")

CHAT = [{"role": "user", "content": "What is 12 + 30? Answer with the number."}]


@pytest.fixture(scope="module")
def llama():
    return load_llm("llamacpp:smollm2-135m-instruct")


def test_loads_by_alias_and_is_an_llm(llama):
    assert isinstance(llama, LLM)
    assert llama.name == "llamacpp:smollm2-135m-instruct"
    assert llama.capabilities.chat and llama.capabilities.next_token_probs
    assert llama.context_length == 8192


def test_greedy_continuation_matches_transformers(llama, smollm):
    """Same weights (the GGUF), same prompt tokens: greedy text agrees with the float32 model."""
    config = GenerationConfig(n=1, temperature=0, max_new_tokens=12)
    ours = llama.generate([CHAT], config)[0][0]
    theirs = smollm.generate([CHAT], config)[0][0]
    assert ours.prompt_tokens == theirs.prompt_tokens == len(smollm.encode(CHAT))
    assert ours.text == theirs.text
    assert ours.completion_tokens == 12 and ours.finish_reason == "length"


def test_sampling_shapes_seeds_and_stops(llama):
    config = GenerationConfig(n=3, temperature=0.9, max_new_tokens=24, seed=5)
    first = llama.generate([CHAT, "Once upon a time"], config)
    again = llama.generate([CHAT, "Once upon a time"], config)
    other = llama.generate([CHAT, "Once upon a time"], config.model_copy(update={"seed": 6}))
    assert [len(row) for row in first] == [3, 3]
    texts = [c.text for row in first for c in row]
    assert texts == [c.text for row in again for c in row]
    assert texts != [c.text for row in other for c in row]
    assert len(set(c.text for c in first[1])) > 1  # three different stories
    assert all(c.completion_tokens <= 24 for row in first for c in row)
    greedy = GenerationConfig(temperature=0, max_new_tokens=30, stop=(" 6",))
    stopped = llama.generate(["Count: 1, 2, 3,"], greedy)
    assert stopped[0][0].text == " 4, 5," and stopped[0][0].finish_reason == "stop"


def test_more_rows_than_sequences_run_in_chunks(smollm):
    from verbalrl.llm.llamacpp_backend import LlamaCppLLM

    path = find_packaged_gguf(ALIASES["smollm2-135m-instruct"])
    small = LlamaCppLLM(path, smollm.tokenizer, sequences=4, context=512)
    prompts = [CHAT, "Once upon a time", "The capital of France is"]
    rows = small.generate(prompts, GenerationConfig(n=2, temperature=0, max_new_tokens=8))
    assert [len(r) for r in rows] == [2, 2, 2]
    alone = small.generate([prompts[2]], GenerationConfig(n=1, temperature=0, max_new_tokens=8))
    assert rows[2][0].text == rows[2][1].text == alone[0][0].text  # order kept across chunks
    with pytest.raises(ValueError, match="parallel sequences"):
        small.generate(prompts, GenerationConfig(n=5, max_new_tokens=4))
    with pytest.raises(ContextLengthError, match="KV cells"):
        small.generate(prompts, GenerationConfig(n=4, max_new_tokens=200))
    small.close()
    small.close()  # idempotent


def test_next_token_probs_match_transformers(llama, smollm):
    prompts = [CHAT, "The capital of France is", [*CHAT, {"role": "assistant", "content": "42"}]]
    ours = llama.next_token_probs(prompts, ["Yes", " Paris", "4"])
    theirs = smollm.next_token_probs(prompts, ["Yes", " Paris", "4"])
    for a, b in zip(ours, theirs, strict=True):
        for token in a:
            assert a[token] == pytest.approx(b[token], abs=0.03, rel=0.3)
    assert ours[1][" Paris"] > 0.5
    with pytest.raises(ValueError, match="tokens"):
        llama.next_token_probs(prompts, ["Yes indeed"])


def test_clear_errors(llama, tiny_llama_dir):
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        load_llm("llamacpp:/nonexistent/model.gguf")
    with pytest.raises(ModelNotFoundError, match="needs a GGUF model"):
        load_llm(f"llamacpp:{tiny_llama_dir}")
    with pytest.raises(ContextLengthError, match="context"):
        llama.generate(["word " * 9000], GenerationConfig(max_new_tokens=4))


def test_weights_are_reencoded_once_and_validated(llama):
    from verbalrl.llm.llamacpp_backend import LlamaCppLLM, reencoded

    shipped = find_packaged_gguf(ALIASES["smollm2-135m-instruct"])
    f16 = reencoded(shipped, "f16")
    assert f16.is_file() and f16.name.endswith(".f16.gguf")
    assert f16.stat().st_size > 2 * shipped.stat().st_size  # 16 bits per weight against ~5.7
    mtime = f16.stat().st_mtime_ns
    assert reencoded(shipped, "f16") == f16 and f16.stat().st_mtime_ns == mtime  # made once
    with pytest.raises(ValueError, match="weights must be one of"):
        LlamaCppLLM.load("smollm2-135m-instruct", weights="q2")
    as_shipped = load_llm("llamacpp:smollm2-135m-instruct", weights="file")
    prompt = ["The capital of France is"]
    shipped_p = as_shipped.next_token_probs(prompt, [" Paris"])[0][" Paris"]
    assert shipped_p == pytest.approx(llama.next_token_probs(prompt, [" Paris"])[0][" Paris"], abs=0.05)


def test_cli_run_samples_with_llamacpp(tmp_path):
    """`verbalrl run --model llamacpp:...`: the runner's policy is llama.cpp, end to end."""
    import json

    from typer.testing import CliRunner

    from verbalrl.cli import app

    args = ["run", "--model", "llamacpp:smollm2-135m-instruct", "--graph", "single", "--task", "arithmetic"]
    args += ["--level", "1", "--problems", "2", "--verifier", "checker"]
    args += ["--n-drafts", "2", "--max-rounds", "1"]
    args += ["--runs-dir", str(tmp_path), "--run-id", "lc", "--no-progress", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["summary"][0]["problems"] == 2
    assert json.loads((tmp_path / "lc" / "run.json").read_text())["model"] == "llamacpp:smollm2-135m-instruct"
    rows = [json.loads(line) for line in (tmp_path / "lc" / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(row["generated_tokens"] > 0 for row in rows)
