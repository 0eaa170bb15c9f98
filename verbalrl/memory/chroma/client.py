"""Opening chromadb for memory: the folder checks, the lock, the client, the collections.

In scope: an embedded `PersistentClient` on a folder (checked to be a memory
folder or empty, locked for one writer) or an `HttpClient` to a `chroma run`
server; telemetry off; one cosine collection per record kind (its HNSW index
saved every `config.hnsw_sync_threshold` writes), registered with
an embedding function plain chromadb can rebuild (chromadb's own
sentence-transformers function on the packaged model folder for the default
embedder; verbalrl's registered function, which needs `import
verbalrl.memory`, for the others; never chromadb's default, which
downloads a model) and metadata naming the embedding model and dimension,
each wrapped to retry chromadb's transient server errors
(`retry.py`); a check that the stored vectors were made by the same embedder.
Left out: reading and writing records (`base.py`, `writes.py`).

Errors are translated: a folder chromadb cannot open gives
`MemoryCorruptError` (and nothing in it is changed), a held folder
`MemoryLockedError`, a silent server `MemoryUnavailableError`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import chromadb
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.config import Settings
from chromadb.utils.embedding_functions import (
    SentenceTransformerEmbeddingFunction,
    register_embedding_function,
)

from ..config import MemoryConfig
from ..embedding import Embedder, SentenceTransformerEmbedder, resolve_embedder
from ..errors import EmbedderMismatchError, MemoryCorruptError, MemoryUnavailableError
from ..kinds import KINDS, Kind
from .lock import LOCK_NAME, FolderLock
from .retry import RetryingCollection

MARKER_NAME = "verbalrl-memory.json"
FORMAT_VERSION = 1
DB_NAME = "chroma.sqlite3"
_CHROMA_FILES = frozenset({DB_NAME})
_COLLECTION_SUFFIX: dict[Kind, str] = {
    "experience": "experiences",
    "reflection": "reflections",
    "concept": "concepts",
}


@register_embedding_function
class VerbalRLEmbeddingFunction(EmbeddingFunction[Documents]):
    """chromadb's view of a verbalrl `Embedder`, so text queries made by other
    tools on these collections use the same model (and never chromadb's default)."""

    def __init__(self, embedder: Embedder | str | None = None) -> None:
        self._embedder = embedder if isinstance(embedder, Embedder) else None
        self._spec = embedder.name if isinstance(embedder, Embedder) else (embedder or "default")

    def __call__(self, input: Documents) -> Embeddings:  # noqa: A002 - chromadb's name
        if self._embedder is None:
            self._embedder = resolve_embedder(self._spec)
        return list(self._embedder.embed(list(input)))

    @staticmethod
    def name() -> str:
        return "verbalrl"

    def default_space(self) -> str:  # type: ignore[override]
        return "cosine"

    def get_config(self) -> dict[str, Any]:
        return {"embedder": self._spec}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> VerbalRLEmbeddingFunction:
        return VerbalRLEmbeddingFunction(str(config.get("embedder", "default")))


class SharedSentenceTransformerFunction(SentenceTransformerEmbeddingFunction):
    """chromadb's own sentence-transformers function, as plain chromadb rebuilds it from the collection.

    The collection records `sentence_transformer` with the model's local folder, so
    `chromadb.PersistentClient(path).get_collection(name).query(query_texts=...)` works
    without importing verbalrl, offline, with the vectors verbalrl stores (normalised,
    same model). Inside verbalrl this instance embeds through verbalrl's embedder (one
    model load, lazily) instead of loading a second copy as chromadb's class would.
    """

    def __init__(self, embedder: SentenceTransformerEmbedder) -> None:  # no super(): it loads eagerly
        assert embedder.folder is not None
        self.model_name = str(embedder.folder)
        self.device = "cpu"
        self.normalize_embeddings = True
        self.kwargs: dict[str, Any] = {}
        self._embedder = embedder

    def __call__(self, input: Documents) -> Embeddings:  # noqa: A002 - chromadb's name
        return list(self._embedder.embed(list(input)))

    def is_legacy(self) -> bool:
        # chromadb's check builds the function from its config, which would load the model.
        return False


class _SharedModel:
    """Stands in chromadb's model cache for verbalrl's loaded model (loaded on first use).

    chromadb rebuilds a collection's embedding function from its stored config on every
    write (to look for sparse-vector targets); its sentence-transformers class caches models
    by name, so seeding that cache keeps it from loading a second copy of the same model.
    """

    def __init__(self, embedder: SentenceTransformerEmbedder) -> None:
        self._embedder = embedder

    def encode(self, sentences: list[str], **kwargs: Any) -> Any:
        return self._embedder._load().encode(sentences, **kwargs)


def chroma_function(embedder: Embedder) -> EmbeddingFunction[Documents]:
    """The embedding function a collection records: chromadb's own where it can be (a local
    sentence-transformers model, the default), else verbalrl's (registered on import)."""
    if isinstance(embedder, SentenceTransformerEmbedder) and embedder.folder is not None:
        SentenceTransformerEmbeddingFunction.models.setdefault(str(embedder.folder), _SharedModel(embedder))
        return SharedSentenceTransformerFunction(embedder)
    return VerbalRLEmbeddingFunction(embedder)


def collection_metadata(embedder: Embedder) -> dict[str, Any]:
    """What a collection says about its vectors: format, embedder name, model and dimension."""
    return {
        "verbalrl_format": FORMAT_VERSION,
        "embedder": embedder.name,
        "embedding_model": str(getattr(embedder, "model_id", embedder.name)),
        "embedding_dim": int(embedder.dim),
    }


@dataclass
class OpenedStore:
    """What `open_store` returns: the client, its collections and the held lock."""

    client: ClientAPI
    collections: dict[Kind, Collection]
    lock: FolderLock | None
    location: str


def _settings(**extra: Any) -> Settings:
    return Settings(anonymized_telemetry=False, **extra)


def _check_folder(folder: Path) -> None:
    """Refuse a path that is a file, or a non-empty folder that is not a memory."""
    if folder.exists() and not folder.is_dir():
        raise MemoryCorruptError(f"memory path {folder} is a file, not a folder")
    if not folder.exists():
        return
    names = {p.name for p in folder.iterdir()} - {LOCK_NAME}
    if names and not (names & (_CHROMA_FILES | {MARKER_NAME})):
        raise MemoryCorruptError(
            f"{folder} is not empty and holds no verbalrl memory; refusing to write into it. "
            "Give an empty or new folder."
        )
    if not os.access(folder, os.R_OK | os.W_OK | os.X_OK):
        raise MemoryCorruptError(f"memory folder {folder} is not readable and writable by you")


def _check_marker(folder: Path, embedder: Embedder) -> None:
    marker = folder / MARKER_NAME
    if not marker.exists():
        return
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MemoryCorruptError(f"{marker} is unreadable: {exc}") from exc
    if info.get("embedder") != embedder.name:
        raise EmbedderMismatchError(
            f"memory at {folder} was built with embedder {info.get('embedder')!r}, "
            f"not {embedder.name!r}; open it with that embedder, or export it and import "
            "the JSONL into a new folder (import re-embeds)"
        )


def _write_marker(folder: Path, embedder: Embedder) -> None:
    marker = folder / MARKER_NAME
    if marker.exists():
        return
    info = {"format": FORMAT_VERSION, "embedder": embedder.name, "chromadb": chromadb.__version__}
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    tmp.replace(marker)


def _open_collection(client: ClientAPI, name: str, embedder: Embedder, sync_threshold: int) -> Collection:
    """Get or create one collection; one made before chromadb interop keeps verbalrl's function."""
    # The embedder also lives with the collection (name, model, dimension): a server has no marker.
    metadata = collection_metadata(embedder)
    hnsw = {"space": "cosine", "sync_threshold": sync_threshold}
    options: dict[str, Any] = {"configuration": {"hnsw": hnsw}, "metadata": metadata}
    try:
        function = chroma_function(embedder)
        collection = client.get_or_create_collection(name, embedding_function=function, **options)  # type: ignore[arg-type]
    except ValueError as exc:
        if "conflict" not in str(exc).lower():
            raise
        # A memory written by an earlier verbalrl records the `verbalrl` function (readable by plain
        # chromadb after `import verbalrl.memory`); chromadb cannot change a collection's function.
        legacy = VerbalRLEmbeddingFunction(embedder)
        collection = client.get_or_create_collection(name, embedding_function=legacy, **options)  # type: ignore[arg-type]
    _set_sync_threshold(collection, sync_threshold)
    return collection


def _set_sync_threshold(collection: Collection, sync_threshold: int) -> None:
    """Give an existing collection (made with chromadb's default, 1000) the configured threshold.

    Why it matters: chromadb writes to its log first and saves the HNSW index every
    `sync_threshold` writes; until then each write re-reads every logged write since the last
    save (chromadb 1.5's local compaction backfill), so with the default a single add cost
    ~11 ms after a save and ~31 ms 800 writes later (`benchmarks/memory.py`, per-add section).
    """
    hnsw = (collection.configuration or {}).get("hnsw") or {}
    if hnsw.get("sync_threshold") != sync_threshold:
        collection.modify(configuration={"hnsw": {"sync_threshold": sync_threshold}})


def _collections(client: ClientAPI, config: MemoryConfig, embedder: Embedder) -> dict[Kind, Collection]:
    out: dict[Kind, Collection] = {}
    for kind in KINDS:
        name = f"{config.collection_prefix}-{_COLLECTION_SUFFIX[kind]}"
        collection = _open_collection(client, name, embedder, config.hnsw_sync_threshold)
        meta = dict(collection.metadata or {})
        stored = meta.get("embedder")
        if stored is not None and stored != embedder.name:
            raise EmbedderMismatchError(
                f"collection {collection.name} holds vectors from embedder {stored!r}, not {embedder.name!r}"
            )
        wanted = collection_metadata(embedder)
        if any(meta.get(k) != v for k, v in wanted.items()):  # an older memory: say which model
            collection.modify(metadata={**meta, **wanted})
        out[kind] = RetryingCollection(collection)  # type: ignore[assignment]
    return out


def open_store(config: MemoryConfig, embedder: Embedder) -> OpenedStore:
    """Open (creating if new) the store `config` points at; see the module docstring."""
    if config.host is not None:
        try:
            client = chromadb.HttpClient(host=config.host, port=config.port, settings=_settings())
            client.heartbeat()
        except Exception as exc:  # chromadb raises several types for a dead server
            raise MemoryUnavailableError(
                f"no chroma server answered at {config.host}:{config.port} ({exc}); "
                "start one with `chroma run --path FOLDER --port PORT`"
            ) from exc
        return OpenedStore(
            client,
            _collections(client, config, embedder),
            None,
            f"http://{config.host}:{config.port}",
        )

    folder = config.folder
    _check_folder(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = FolderLock(folder).acquire()
    try:
        _check_marker(folder, embedder)
        existed = (folder / DB_NAME).exists()
        try:
            client = chromadb.PersistentClient(path=str(folder), settings=_settings())
            collections = _collections(client, config, embedder)
        except EmbedderMismatchError:
            raise
        except Exception as exc:
            if existed:
                raise MemoryCorruptError(
                    f"chromadb cannot open the memory at {folder} ({type(exc).__name__}: {exc}). "
                    "Nothing was changed. Restore it from a JSONL export "
                    "(`verbalrl memory import`) into a new folder."
                ) from exc
            raise
        _write_marker(folder, embedder)
    except BaseException:
        lock.release()
        raise
    return OpenedStore(client, collections, lock, str(folder))
