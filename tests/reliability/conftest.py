"""Load the reliability harness, `benchmarks/reliability.py` (the benchmark uses it too), by path."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

HARNESS = Path(__file__).resolve().parents[2] / "benchmarks" / "reliability.py"
NAME = "verbalrl_reliability_harness"


@pytest.fixture(scope="session")
def harness() -> ModuleType:
    if NAME not in sys.modules:
        spec = importlib.util.spec_from_file_location(NAME, HARNESS)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[NAME] = module  # dataclasses look their module up here
        spec.loader.exec_module(module)
    return sys.modules[NAME]
