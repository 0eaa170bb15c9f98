"""The reliability harness (`harness.py` here; `benchmarks/reliability.py` uses it too), as a fixture."""

from __future__ import annotations

from types import ModuleType

import pytest

from . import harness as harness_module


@pytest.fixture(scope="session")
def harness() -> ModuleType:
    return harness_module
