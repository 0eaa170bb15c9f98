"""Model layer: the `LLM` protocol and its backends.

Only this package imports torch, transformers, vllm or openai; backends are
imported lazily so `import verbalrl.llm` stays fast.
"""

from __future__ import annotations

from typing import Any

from .base import LLM, Capabilities, Completion, GenerationConfig, Message, Prompt, prompt_text
from .fake import FakeLLM

__all__ = [
    "LLM",
    "Capabilities",
    "Completion",
    "FakeLLM",
    "GenerationConfig",
    "LangChainLLM",
    "Message",
    "OpenAILLM",
    "Prompt",
    "TransformersLLM",
    "VLLMLLM",
    "load_llm",
    "prompt_text",
    "register_backend",
]

_LAZY = {
    "TransformersLLM": ".transformers_backend",
    "OpenAILLM": ".openai_backend",
    "LangChainLLM": ".langchain_backend",
    "VLLMLLM": ".vllm_backend",
    "load_llm": ".registry",
    "register_backend": ".registry",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name], __name__)
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
