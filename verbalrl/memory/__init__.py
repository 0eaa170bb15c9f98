"""Vector memory: experiences, reflections and concepts, on chromadb or in process.

Memory is how agents reinforce across problems: they imitate verified
successes (exemplars), avoid stored failures and their lessons, and use
concepts distilled from many attempts. Typical use from a graph:

    from verbalrl.memory import ChromaMemory, Experience

    memory = ChromaMemory()                       # $VERBALRL_HOME/memory, one process
    context = memory.recall(problem, task="gsm8k", k=3, exclude_problem=True)
    prompt = context.render() + "\\n\\n" + problem
    ...
    memory.add_experience(Experience(task="gsm8k", problem=problem, solution=answer,
                                     outcome="success", score=0.93, verified=True,
                                     checker_confirmed=True))
    memory.maybe_distill(llm, task="gsm8k", every=20)

`InMemoryStore(embedder="hash:128")` is the same memory without disk or
chromadb. Backends implement the `MemoryStore` protocol and share the rules
in this package (duplicates `dedupe.py`, caps `caps.py`, recall `recall.py`,
MMR `mmr.py`, concept strength `concepts.py`, distillation `schedule.py`);
only `chroma/` imports chromadb. The exports are lazy, so importing this
package (or `verbalrl.memory.records`) imports neither chromadb nor torch.
"""

from __future__ import annotations

from .._lazy import lazy_exports

# `distill` names both a submodule and the function exported here. Importing any
# module that imports `.distill` binds the package attribute to the submodule, which
# would hide a lazy export; binding the function now (pydantic + llm.base, no chromadb
# or torch) keeps `from verbalrl.memory import distill` the function, as it always was.
from .distill import distill as distill

_EXPORTS = {
    "ChromaMemory": ".chroma.store",
    "InMemoryStore": ".in_memory",
    "MemoryConfig": ".config",
    "MemoryContext": ".context",
    "Demonstration": ".context",
    "Recalled": ".context",
    "RecalledConcept": ".context",
    "RecalledReflection": ".context",
    "DistillConfig": ".distill",
    "DistillResult": ".distill",
    "parse_operations": ".distill",
    "CallableEmbedder": ".embedding",
    "Embedder": ".embedding",
    "HashEmbedder": ".embedding",
    "SentenceTransformerEmbedder": ".embedding",
    "resolve_embedder": ".embedding",
    "EmbedderMismatchError": ".errors",
    "MemoryCorruptError": ".errors",
    "MemoryImportError": ".errors",
    "MemoryLockedError": ".errors",
    "MemoryStoreError": ".errors",
    "MemoryUnavailableError": ".errors",
    "export_jsonl": ".jsonl",
    "import_jsonl": ".jsonl",
    "read_jsonl": ".jsonl",
    "Concept": ".records",
    "Experience": ".records",
    "Outcome": ".records",
    "Provenance": ".records",
    "Reflection": ".records",
    "Status": ".records",
    "TextTruncatedWarning": ".sanitize",
    "MemoryStore": ".store",
    "RecordStore": ".store",
}
__all__ = sorted([*_EXPORTS, "distill"])
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
