"""Embedders: an unknown embedder name is a clear memory error, not a hub traceback."""

from __future__ import annotations

import pytest

from verbalrl.memory import HashEmbedder, MemoryStoreError, SentenceTransformerEmbedder, resolve_embedder


def test_unknown_embedder_is_a_clear_error(tmp_path) -> None:
    # conftest sets HF_HUB_OFFLINE=1: what a user on a machine without a hub sees for a typo
    embedder = SentenceTransformerEmbedder(str(tmp_path / "no-such-embedder"))
    with pytest.raises(MemoryStoreError, match="neither a sentence-transformers folder"):
        _ = embedder.dim


def test_hash_embedder_is_deterministic_and_normalised() -> None:
    embedder = resolve_embedder("hash:32")
    assert isinstance(embedder, HashEmbedder) and embedder.dim == 32
    a, b = embedder.embed(["What is 2 + 2?", "What is 2 + 2?"])
    assert (a == b).all() and abs(float((a * a).sum()) - 1.0) < 1e-5
