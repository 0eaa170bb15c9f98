"""What a graph tells a streaming caller while it runs: progress events and the models' messages.

    for mode, chunk in graph.stream(state, stream_mode=["custom", "messages"]):
        if mode == "custom":   chunk == {"event": "drafts", "node": "solve", "round": 1, "drafts": [...]}
        else:                  message, metadata = chunk   # metadata["langgraph_node"] == "solve"

In scope: `emit` (a progress event through LangGraph's `get_stream_writer`,
read with `stream_mode="custom"`; a no-op outside a graph run or when nobody
streams that mode), the events the nodes send (`drafts`, `critiques`,
`scores`, `lesson`, `recalled`, `stored`, `distilled`, `result`; each a
dict with `event` and `node`), and `report_calls`: a backend that is not a
LangChain chat model (transformers, vLLM, a server through `OpenAILLM`)
fires no LangChain callbacks, so after each graph model call its messages
are reported through the run's callback manager as chat-model runs. That is
what `stream_mode="messages"` reads (and what tracers such as LangSmith
record), tagged with the node. A `LangChainLLM` reports its own calls
(`emits_messages`), token by token where the provider streams.
Left out: verifier scoring calls (they produce numbers, reported by `scores`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..llm.base import Completion, Prompt
from ..llm.langchain_backend import to_langchain_messages


def _config() -> dict[str, Any] | None:
    from langgraph.config import get_config

    try:
        return dict(get_config())
    except RuntimeError:  # called outside a graph run (a node called directly, a test)
        return None


def emit(event: str, **data: Any) -> None:
    """Send `{"event": event, "node": <this node>, **data}` to `stream_mode="custom"` readers."""
    config = _config()
    if config is None:
        return
    from langgraph.config import get_stream_writer

    node = (config.get("metadata") or {}).get("langgraph_node")
    get_stream_writer()({"event": event, "node": node, **data})


def report_calls(llm: Any, prompts: Sequence[Prompt], rows: Sequence[Sequence[Completion]]) -> None:
    """Report a finished model call to the run's LangChain callbacks, one chat-model run per completion."""
    if getattr(llm, "emits_messages", False):
        return
    config = _config()
    if config is None or not config.get("callbacks"):
        return
    from langchain_core.callbacks import CallbackManager
    from langchain_core.messages import AIMessage
    from langchain_core.outputs import ChatGeneration, LLMResult

    manager = CallbackManager.configure(
        inheritable_callbacks=config.get("callbacks"),
        inheritable_tags=config.get("tags"),
        inheritable_metadata=config.get("metadata"),
    )
    if not manager.handlers:
        return
    name = str(getattr(llm, "name", "model"))
    for prompt, row in zip(prompts, rows, strict=True):
        messages = to_langchain_messages(prompt)
        for completion in row:
            (run,) = manager.on_chat_model_start({"name": name}, [messages], name=name)
            reply = AIMessage(
                content=completion.text,
                response_metadata={"model_name": name, "finish_reason": completion.finish_reason},
                usage_metadata={
                    "input_tokens": completion.prompt_tokens,
                    "output_tokens": completion.completion_tokens,
                    "total_tokens": completion.prompt_tokens + completion.completion_tokens,
                },
            )
            run.on_llm_end(LLMResult(generations=[[ChatGeneration(message=reply)]]))


def draft_summary(drafts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """What a `drafts` or `scores` event says of each draft: id, answer, ok, score, tokens."""
    keys = ("id", "answer", "ok", "score", "tokens")
    return [{k: d.get(k) for k in keys} for d in drafts]
