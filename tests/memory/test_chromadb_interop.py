"""Plain chromadb (same version, no verbalrl import) reads, queries and writes a verbalrl memory.

The plain client runs in a subprocess so that nothing verbalrl registers is
in its process. Then verbalrl reopens the memory: a row the plain client
added is foreign, skipped with a warning, never a traceback.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from verbalrl.errors import VerbalRLError
from verbalrl.memory import ChromaMemory, Experience
from verbalrl.memory.chroma.client import VerbalRLEmbeddingFunction

from ..cli.conftest import invoke

pytestmark = pytest.mark.slow

PLAIN = r"""
import json, sys
import chromadb
from chromadb.config import Settings

assert not any(name.startswith("verbalrl") for name in sys.modules)
client = chromadb.PersistentClient(sys.argv[1], settings=Settings(anonymized_telemetry=False))
col = client.get_collection("verbalrl-experiences")
hits = col.query(query_texts=["What is 17 + 25?"], n_results=1, include=["documents", "distances"])
col.add(ids=["foreign-1"], documents=["a row written by someone else"])
print(json.dumps({
    "collections": sorted(c.name for c in client.list_collections()),
    "metadata": col.metadata,
    "function": col.configuration_json["embedding_function"]["name"],
    "hit": hits["ids"][0][0], "document": hits["documents"][0][0], "distance": hits["distances"][0][0],
}))
"""


def plain_chromadb(folder: Path) -> dict:
    cmd = [sys.executable, "-c", PLAIN, str(folder)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_plain_chromadb_queries_and_writes_and_verbalrl_treats_its_rows_as_foreign(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "mem"
    question = "What is 17 + 25?"
    with ChromaMemory(folder) as memory:
        stored = memory.add_experience(
            Experience(task="arithmetic", problem=question, solution="17 + 25 = 42\nAnswer: 42",
                       outcome="success", score=0.9, verified=True)
        )
        ours = memory.embedder.embed([question])[0]
    plain = plain_chromadb(folder)
    assert {"verbalrl-experiences", "verbalrl-reflections", "verbalrl-concepts"} <= set(plain["collections"])
    assert plain["function"] == "sentence_transformer"  # chromadb's own, on the packaged model folder
    meta = plain["metadata"]
    assert meta["embedding_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert meta["embedding_dim"] == 384
    # plain chromadb's text query embeds like verbalrl does: the same row, at distance ~0
    assert plain["hit"] == stored and plain["document"] == question and plain["distance"] < 1e-4
    assert len(ours) == 384

    caplog.set_level(logging.WARNING)
    with ChromaMemory(folder) as memory:
        assert memory.count("experience") == 2  # ours and the foreign row
        assert [r.id for r in memory.iter_records("experience")] == [stored]
        assert memory.stats()["by_task"]["arithmetic"]["exemplar"] == 1
        recalled = memory.recall("a row written by someone else", task=None, k=3)
        assert [d.question for d in recalled.demonstrations()] == [question]
        with pytest.raises(VerbalRLError, match="foreign-1.*not written by verbalrl"):
            memory.get("foreign-1")
    assert "foreign-1" in caplog.text and "left out" in caplog.text
    # and the CLI over the same folder: no traceback
    for args in (["stats"], ["search", question], ["export", tmp_path / "out.jsonl"]):
        code, out = invoke("memory", *args, "--path", folder)
        assert code == 0 and "Traceback" not in out, out
    header, *records = (tmp_path / "out.jsonl").read_text().splitlines()
    assert [json.loads(r)["record"]["id"] for r in records] == [stored]


def test_a_memory_made_before_interop_keeps_opening_and_gains_the_model_metadata(tmp_path: Path) -> None:
    import chromadb
    from chromadb.config import Settings

    folder = tmp_path / "old"
    client = chromadb.PersistentClient(str(folder), settings=Settings(anonymized_telemetry=False))
    for suffix in ("experiences", "reflections", "concepts"):
        client.create_collection(
            f"verbalrl-{suffix}",
            embedding_function=VerbalRLEmbeddingFunction("hash:64"),  # type: ignore[arg-type]
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"verbalrl_format": 1, "embedder": "hash:64"},
        )
    del client
    with ChromaMemory(folder, embedder="hash:64") as memory:
        memory.add_experience(Experience(task="t", problem="What is 1 + 1?", outcome="failure"))
        assert memory.count("experience") == 1
        meta = memory._col("experience").metadata
    assert meta["embedding_model"] == "hash:64" and meta["embedding_dim"] == 64
