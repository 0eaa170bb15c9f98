"""Importing memory's domain modules pulls neither chromadb nor torch (a fresh interpreter each)."""

from __future__ import annotations

import subprocess
import sys

import pytest

CHECK = (
    "import sys, {module}; "
    "heavy = sorted(m for m in ('chromadb', 'torch', 'sentence_transformers') if m in sys.modules); "
    "assert not heavy, heavy"
)


@pytest.mark.parametrize(
    "module",
    [
        "verbalrl.memory",
        "verbalrl.memory.records",
        "verbalrl.memory.recall",
        "verbalrl.memory.dedupe",
        "verbalrl.memory.jsonl",
        "verbalrl.memory.in_memory",
        "verbalrl.memory.store",
    ],
)
def test_domain_modules_import_without_chromadb_or_torch(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK.format(module=module)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def test_in_memory_store_runs_without_chromadb() -> None:
    code = (
        "import sys; from verbalrl.memory import Experience, InMemoryStore; "
        "m = InMemoryStore(embedder='hash:64'); "
        "m.add_experience(Experience(task='t', problem='What is 1 + 1?', solution='2', "
        "outcome='success', verified=True)); "
        "assert m.recall('What is 1 + 1?', task='t').exemplars; "
        "assert 'chromadb' not in sys.modules and 'torch' not in sys.modules"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_chroma_memory_is_still_exported_lazily() -> None:
    code = (
        "import sys, verbalrl.memory as m; assert 'chromadb' not in sys.modules; "
        "from verbalrl.memory import ChromaMemory, distill; "
        "assert 'chromadb' in sys.modules and ChromaMemory.__name__ == 'ChromaMemory'; "
        "import verbalrl.memory.schedule; from verbalrl.memory import distill as d; assert callable(d)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
