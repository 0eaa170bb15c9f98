"""Vector memory on chromadb: experiences, reflections and concepts.

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

Only this package imports chromadb.
"""

from .chroma_memory import ChromaMemory
from .config import MemoryConfig
from .context import MemoryContext, Recalled, RecalledConcept, RecalledReflection
from .distill import DistillConfig, DistillResult, distill, parse_operations
from .embedding import (
    CallableEmbedder,
    Embedder,
    HashEmbedder,
    SentenceTransformerEmbedder,
    resolve_embedder,
)
from .errors import (
    EmbedderMismatchError,
    MemoryCorruptError,
    MemoryImportError,
    MemoryLockedError,
    MemoryStoreError,
    MemoryUnavailableError,
)
from .jsonl import export_jsonl, import_jsonl, read_jsonl
from .records import Concept, Experience, Outcome, Provenance, Reflection, Status
from .sanitize import TextTruncatedWarning
from .store import MemoryStore

__all__ = [
    "CallableEmbedder",
    "ChromaMemory",
    "Concept",
    "DistillConfig",
    "DistillResult",
    "Embedder",
    "EmbedderMismatchError",
    "Experience",
    "HashEmbedder",
    "MemoryConfig",
    "MemoryContext",
    "MemoryCorruptError",
    "MemoryImportError",
    "MemoryLockedError",
    "MemoryStore",
    "MemoryStoreError",
    "MemoryUnavailableError",
    "Outcome",
    "Provenance",
    "Recalled",
    "RecalledConcept",
    "RecalledReflection",
    "Reflection",
    "SentenceTransformerEmbedder",
    "Status",
    "TextTruncatedWarning",
    "distill",
    "export_jsonl",
    "import_jsonl",
    "parse_operations",
    "read_jsonl",
    "resolve_embedder",
]
