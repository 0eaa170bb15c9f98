"""The chromadb backend of memory: `ChromaMemory` and what only it needs.

    from verbalrl.memory import ChromaMemory     # the usual import (lazy)

Only this sub-package imports chromadb. The rules it applies (duplicates,
caps, recall sections, MMR, concept strength, distillation schedule) live
one level up and are shared with `InMemoryStore`.
"""

from __future__ import annotations

from ..._lazy import lazy_exports

_EXPORTS = {"ChromaMemory": ".store"}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
