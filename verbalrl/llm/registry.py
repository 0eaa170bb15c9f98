"""`load_llm`: one entry point from a model name to a ready `LLM`, and the registry of backends.

In scope: the registry (`register_backend(prefix, loader)`, as
`register_task` does for tasks) and choosing the backend from a prefix or an
explicit argument. Built-in backends: `openai:MODEL` (an OpenAI-compatible
server at `base_url`), `vllm:NAME` (vLLM offline engine), `transformers:NAME`
and anything without a registered prefix: a local transformers model (alias,
folder, .gguf, hub id). A plugin or a test registers its own prefix, e.g.
`register_backend("fake", lambda model, **options: FakeLLM(...))` makes
`load_llm("fake:x")` (and `--model fake:x` on the command line) use it.
Left out: the backends themselves, imported only when their loader runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ..errors import VerbalRLError
from .base import LLM

Backend = str  # a registered prefix, or "auto"
BackendLoader = Callable[..., LLM]  # loader(model, *, base_url=None, api_key=None, **options)

_BACKENDS: dict[str, BackendLoader] = {}


def register_backend(prefix: str, loader: BackendLoader, *, replace: bool = False) -> None:
    """Route `load_llm("PREFIX:MODEL", **options)` to `loader(MODEL, **options)`."""
    if not prefix or ":" in prefix or prefix != prefix.strip() or prefix == "auto":
        raise ValueError(f"backend prefix {prefix!r} must be a non-empty name without ':' or spaces")
    if prefix in _BACKENDS and not replace:
        raise ValueError(f"backend {prefix!r} is already registered (pass replace=True to override)")
    _BACKENDS[prefix] = loader


def unregister_backend(prefix: str) -> None:
    """Remove a registered backend (a no-op when it is not registered)."""
    _BACKENDS.pop(prefix, None)


def available_backends() -> list[str]:
    """The registered prefixes."""
    return list(_BACKENDS)


def split_backend(name: str, backend: Backend = "auto") -> tuple[Backend, str]:
    """Split a registered `PREFIX:` off a model name; no prefix means `transformers`."""
    if backend != "auto":
        if backend not in _BACKENDS:
            raise VerbalRLError(f"unknown backend {backend!r}: choose one of {', '.join(_BACKENDS)}")
        return backend, name
    prefix, sep, rest = name.partition(":")
    if sep and prefix in _BACKENDS:
        return prefix, rest
    return "transformers", name


def load_llm(
    name: str,
    *,
    backend: Backend = "auto",
    base_url: str | None = None,
    api_key: str | None = None,
    **options: Any,
) -> LLM:
    """Load a model: `load_llm("smollm2-135m-instruct")`, `load_llm("openai:NAME", base_url=...)`.

    `options` go to the backend (e.g. `dtype`, `adapter`, `batch_size` for
    transformers; engine options for vLLM; `timeout`, `max_retries` for openai).
    """
    kind, model = split_backend(name, backend)
    if not model:
        raise VerbalRLError(f"model name is empty in {name!r}")
    if base_url is not None:
        options["base_url"] = base_url
    if api_key is not None:
        options["api_key"] = api_key
    return _BACKENDS[kind](model, **options)


# ----------------------------------------------------------------- built-in backends
def _openai(model: str, *, base_url: str | None = None, api_key: str | None = None, **options: Any) -> LLM:
    from .openai_backend import OpenAILLM

    url = base_url or os.environ.get("OPENAI_BASE_URL")
    if not url:
        raise VerbalRLError(
            "an openai: model needs a server URL: pass base_url=... (or --base-url) "
            "or set OPENAI_BASE_URL, e.g. http://127.0.0.1:8000/v1 for `verbalrl serve`"
        )
    return OpenAILLM(model=model, base_url=url, api_key=api_key, **options)


# A server URL or key means nothing to an in-process engine: ignored, as before the registry.
def _vllm(model: str, *, base_url: str | None = None, api_key: str | None = None, **options: Any) -> LLM:
    from .vllm_backend import VLLMLLM

    return VLLMLLM(model, **options)


def _transformers(
    model: str, *, base_url: str | None = None, api_key: str | None = None, **options: Any
) -> LLM:
    from .transformers_backend import TransformersLLM

    return TransformersLLM.load(model, **options)


register_backend("openai", _openai)
register_backend("vllm", _vllm)
register_backend("transformers", _transformers)
