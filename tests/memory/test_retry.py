"""Transient chromadb server errors are retried; other errors are not."""

from __future__ import annotations

from typing import Any

import pytest
from chromadb.errors import InternalError

from verbalrl.memory.chroma import retry
from verbalrl.memory.chroma.retry import RetryingCollection


class Flaky:
    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error, self.calls = failures, error, 0
        self.name = "flaky"

    def get(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return {"ids": ["a"]}


def test_internal_errors_are_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry, "FIRST_PAUSE_S", 0.0)
    flaky = Flaky(2, InternalError("Error creating hnsw segment reader: Nothing found on disk"))
    assert RetryingCollection(flaky).get(ids=["a"]) == {"ids": ["a"]}  # type: ignore[arg-type]
    assert flaky.calls == 3
    assert RetryingCollection(flaky).name == "flaky"  # type: ignore[arg-type]


def test_other_errors_and_persistent_failures_are_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry, "FIRST_PAUSE_S", 0.0)
    bad = Flaky(5, ValueError("bad argument"))
    with pytest.raises(ValueError):
        RetryingCollection(bad).get()  # type: ignore[arg-type]
    assert bad.calls == 1
    down = Flaky(100, InternalError("still broken"))
    with pytest.raises(InternalError):
        RetryingCollection(down).get()  # type: ignore[arg-type]
    assert down.calls == retry.ATTEMPTS
