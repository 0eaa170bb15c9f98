"""`load_llm`: one entry point from a model name to a ready `LLM`, and the registry of backends.

In scope: the registry (`register_backend(prefix, loader)`, as
`register_task` does for tasks) and choosing the backend from a prefix or an
explicit argument. Built-in backends: `openai:MODEL` (an OpenAI-compatible
server at `base_url`), `langchain:MODULE:ATTR` (a LangChain chat model, see
`_langchain`; `load_llm(chat_model)` takes the object itself), `llamacpp:GGUF`
(llama.cpp, the fastest sampler of the embedded model on a CPU), `vllm:NAME`
(vLLM offline engine), `transformers:NAME` and anything without a registered
prefix: a local transformers model (alias, folder, .gguf, hub id). A
plugin or a test registers its own prefix, e.g.
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
# How long an `openai:` model waits for an unreachable server (seconds); `verbalrl run --retry-wait`.
RETRY_WAIT_ENV = "VERBALRL_RETRY_WAIT"
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
    name: str | Any,
    *,
    backend: Backend = "auto",
    base_url: str | None = None,
    api_key: str | None = None,
    **options: Any,
) -> LLM:
    """Load a model: `load_llm("smollm2-135m-instruct")`, `load_llm("openai:NAME", base_url=...)`.

    `options` go to the backend (e.g. `dtype`, `adapter`, `batch_size` for
    transformers; engine options for vLLM; `timeout`, `max_retries` for openai).
    A LangChain chat model object (`load_llm(ChatOpenAI(...))`) is wrapped as
    a `LangChainLLM` (`options`: its `name`, `sampling`, `max_concurrency`).
    """
    if not isinstance(name, str):
        from .langchain_backend import LangChainLLM, is_chat_model

        if is_chat_model(name):
            return LangChainLLM(name, **options)
        raise VerbalRLError(
            f"load_llm takes a model name or a LangChain chat model, got {type(name).__name__}"
        )
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
    if "retry_wait" not in options and os.environ.get(RETRY_WAIT_ENV):
        try:
            options["retry_wait"] = float(os.environ[RETRY_WAIT_ENV])
        except ValueError:
            given = os.environ[RETRY_WAIT_ENV]
            raise VerbalRLError(f"${RETRY_WAIT_ENV} must be a number of seconds, got {given!r}") from None
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


def _llamacpp(
    model: str,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    dtype: str | None = None,
    **options: Any,
) -> LLM:
    """`llamacpp:ALIAS_OR_GGUF`. `dtype` (which every CLI command passes) means nothing to a GGUF
    file: its precision is chosen by `weights=` ("f16", "q8_0", "file")."""
    from .llamacpp_backend import LlamaCppLLM

    return LlamaCppLLM.load(model, **options)


def _langchain(
    model: str, *, base_url: str | None = None, api_key: str | None = None, **options: Any
) -> LLM:
    """`langchain:MODULE:ATTR`: a chat model object in an importable module, or a factory making one.

    A factory is called with `base_url`/`api_key` when given (so `--base-url` reaches a
    `ChatOpenAI` factory); the object is wrapped as a `LangChainLLM` with `options`.
    """
    import importlib

    from .langchain_backend import LangChainLLM, is_chat_model

    module_name, sep, attr = model.partition(":")
    if not sep or not module_name or not attr:
        raise VerbalRLError(
            f"langchain:{model} must name MODULE:ATTR, e.g. langchain:mymodels:chat, where "
            "mymodels.chat is a LangChain chat model or a function returning one"
        )
    try:
        target = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise VerbalRLError(f"cannot load langchain:{model}: {err}") from err
    if not is_chat_model(target) and callable(target):
        given = {k: v for k, v in (("base_url", base_url), ("api_key", api_key)) if v is not None}
        target = target(**given)
    if not is_chat_model(target):
        raise VerbalRLError(
            f"langchain:{model} is a {type(target).__name__}, not a LangChain chat model (BaseChatModel)"
        )
    options.pop("dtype", None)  # the CLI passes --dtype to every backend; a chat API has none
    return LangChainLLM(target, **options)


register_backend("openai", _openai)
register_backend("langchain", _langchain)
register_backend("vllm", _vllm)
register_backend("transformers", _transformers)
register_backend("llamacpp", _llamacpp)
