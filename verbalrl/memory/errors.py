"""Errors the memory store raises on purpose.

In scope: a memory folder that another process holds, a folder that is not a
readable memory (corrupt, foreign or unreadable), an unreachable `chroma run`
server, a store opened with an embedder that does not match the stored
vectors, and a malformed export file. Every class subclasses
`verbalrl.errors.VerbalRLError` so callers can catch one base class. Left
out: validation of record fields (pydantic raises `ValidationError`s).
"""

from __future__ import annotations

from ..errors import VerbalRLError


class MemoryStoreError(VerbalRLError):
    """Base class of the memory errors (`MemoryError` is a Python builtin, hence the name)."""


class MemoryLockedError(MemoryStoreError):
    """Another process (or another open store in this process) holds the memory folder."""


class MemoryCorruptError(MemoryStoreError):
    """The folder is not a memory chromadb can open; nothing in it was changed."""


class MemoryUnavailableError(MemoryStoreError):
    """A `chroma run` server did not answer."""


class EmbedderMismatchError(MemoryStoreError):
    """The store was built with a different embedding model than the one given."""


class MemoryImportError(MemoryStoreError):
    """An export file (JSONL) has a line that is not a valid memory record."""
