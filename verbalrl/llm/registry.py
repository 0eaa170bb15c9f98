"""`load_llm`: one entry point from a model name to a ready `LLM`.

In scope: choosing the backend from a prefix or an explicit argument —
`openai:MODEL` (an OpenAI-compatible server at `base_url`), `vllm:NAME`
(vLLM offline engine), anything else a local transformers model (alias,
folder, .gguf, hub id). Left out: the backends themselves.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from ..errors import VerbalRLError
from .base import LLM

Backend = Literal["auto", "transformers", "openai", "vllm"]


def split_backend(name: str, backend: Backend = "auto") -> tuple[Backend, str]:
    """Split `openai:MODEL` / `vllm:NAME` / `transformers:NAME` prefixes off a model name."""
    if backend != "auto":
        return backend, name
    for prefix in ("openai", "vllm", "transformers"):
        if name.startswith(prefix + ":"):
            return prefix, name[len(prefix) + 1 :]  # type: ignore[return-value]
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
    if kind == "openai":
        from .openai_backend import OpenAILLM

        url = base_url or os.environ.get("OPENAI_BASE_URL")
        if not url:
            raise VerbalRLError(
                "an openai: model needs a server URL: pass base_url=... (or --base-url) "
                "or set OPENAI_BASE_URL, e.g. http://127.0.0.1:8000/v1 for `verbalrl serve`"
            )
        return OpenAILLM(model=model, base_url=url, api_key=api_key, **options)
    if kind == "vllm":
        from .vllm_backend import VLLMLLM

        return VLLMLLM(model, **options)
    from .transformers_backend import TransformersLLM

    return TransformersLLM.load(model, **options)
