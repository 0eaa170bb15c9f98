"""`ChromaMemory`: the chromadb-backed store of experiences, reflections and concepts.

In scope: the class users see, assembled from its parts: the open store and
raw reads (`base.py`), writes with merging and caps (`writes.py`), recall
(`recall.py`) and concepts with distillation (`concepts.py`). Left out:
opening chromadb (`client.py`), the row layout (`codec.py`), the staged
candidate search (`candidates.py`), and every rule shared with other
backends (`memory/dedupe.py`, `caps.py`, `recall.py`, `concepts.py`,
`schedule.py`).

Processes: an embedded store (a folder) admits one process at a time, which
holds an exclusive lock until `close()`; a second one gets
`MemoryLockedError`. Many processes share one memory through a `chroma run`
server: `ChromaMemory(host="127.0.0.1", port=8000)`. With several writers on a
server, writes stay idempotent and nothing is lost, but two writers may both
store a near-duplicate the other is writing at the same moment.

Recall fetches candidates without chromadb `where` filters (`candidates.py` says why).

Disk: caps bound the number of records, not the folder size. Evicted records
leave dead slots in chromadb's HNSW files, which neither deletes nor `chroma
vacuum` give back (measured in `benchmarks/memory.py`); to compact, export
to JSONL and import into a fresh folder.
"""

from __future__ import annotations

from .concepts import ChromaConcepts
from .recall import ChromaRecall
from .writes import ChromaWrites


class ChromaMemory(ChromaWrites, ChromaRecall, ChromaConcepts):
    """Vector memory on chromadb (see the module docstring for processes and costs).

    >>> with ChromaMemory("/tmp/mem") as memory:                       # doctest: +SKIP
    ...     memory.add_experience(Experience(task="gsm8k", problem=..., solution=...,
    ...                                      outcome="success", verified=True))
    ...     context = memory.recall(problem, task="gsm8k", k=3, exclude_problem=True)
    ...     prompt = context.render() + "\\n\\n" + problem

    `path` (a folder) or `host`/`port` (a server) override `config`; `embedder`
    is an `Embedder`, a sentence-transformers path or name, `'hash:<dim>'`, a
    function `texts -> vectors`, or None for `config.embedder` (default
    all-MiniLM-L6-v2, offline).
    """

    def __enter__(self) -> ChromaMemory:
        return self
