"""An agent graph behind the `LLM` protocol, so `verbalrl serve --graph ...` puts the agent on the OpenAI API.

Any OpenAI-compatible harness (lm-evaluation-harness, a LangChain app, a
notebook) can then evaluate or use the agent itself, not only the raw
model: each prompt is a question, the reply is the graph's final answer
(`reply="answer"`, the default: what a harness's answer filter reads,
and short enough that no stop string cuts it) or the text of the draft it
chose (`reply="solution"`, ending with the task's `Answer:` line). No
answer gives an empty reply. A chat prompt's question is its last user
message; a raw prompt is the question as a whole.

In scope: `GraphLLM` (generate runs the graph once per prompt and sample,
with its own config: the request's `max_tokens` and temperature do not
reach the graph; stop strings cut the reply). Token counts are the graph's
generated tokens. `next_token_probs` is refused (an agent has no
next-token distribution), so a server in front of it answers logprob
requests with a clear 400. Left out: the server (`llm/server.py`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Literal

from ..errors import CapabilityError
from ..graphs import GraphConfig, graph_options, initial_state
from ..llm.base import Capabilities, Completion, GenerationConfig, Prompt, truncate_at_stop, validate_prompts
from ..tasks.base import Problem, Task


def question_of(prompt: Prompt) -> str:
    """The question a prompt asks: a raw string as it is, else the last user message."""
    if isinstance(prompt, str):
        return prompt
    users = [m["content"] for m in prompt if m["role"] == "user"]
    if not users or not users[-1].strip():
        raise ValueError("a chat prompt for an agent needs a non-empty user message (the question)")
    return users[-1]


def chosen_text(state: dict[str, Any]) -> str:
    """The text of the draft behind the graph's answer (the best-scored one with that answer)."""
    answer = (state.get("result") or {}).get("answer")
    if answer is None:
        return ""
    drafts = [d for d in state.get("drafts", []) if d.get("answer") == answer]
    best = max(drafts, key=lambda d: d.get("score") or 0.0, default=None)
    return str(best["text"]) if best else f"Answer: {answer}"


class GraphLLM:
    """A compiled verbalrl graph used as a model: generate = solve each prompt's question."""

    def __init__(
        self,
        graph: Any,
        task: Task,
        config: GraphConfig,
        *,
        name: str = "agent",
        reply: Literal["answer", "solution"] = "answer",
    ) -> None:
        if reply not in ("answer", "solution"):
            raise ValueError(f"reply must be 'answer' or 'solution', got {reply!r}")
        self.reply = reply
        self.graph = graph
        self.task = task
        self.config = config
        self.name = name
        self.capabilities = Capabilities(chat=True, raw_prompts=True, next_token_probs=False, seed=False)

    def generate(
        self, prompts: Sequence[Prompt], config: GenerationConfig | None = None
    ) -> list[list[Completion]]:
        config = config or GenerationConfig()
        rows = []
        for prompt in validate_prompts(prompts):
            question = question_of(prompt)
            rows.append([self._solve(question, k, config) for k in range(config.n)])
        return rows

    def _solve(self, question: str, sample: int, config: GenerationConfig) -> Completion:
        digest = hashlib.sha256(f"{question}\n{sample}".encode()).hexdigest()[:12]
        problem = Problem(
            id=f"served-{digest}", task=self.task.name, split="test", question=question, answer=""
        )
        state = self.graph.invoke(initial_state(problem), graph_options(self.config))
        result = state.get("result") or {}
        if self.reply == "answer":
            text = "" if result.get("answer") is None else str(result["answer"])
        else:
            text, _ = truncate_at_stop(chosen_text(state), config.stop)
        return Completion(
            text=text,
            prompt_tokens=0,
            completion_tokens=int(result.get("generated_tokens", 0)),
            finish_reason="stop",
        )

    def next_token_probs(
        self, prompts: Sequence[Prompt], candidates: Sequence[str]
    ) -> list[dict[str, float]]:
        raise CapabilityError(
            f"{self.name} is an agent graph: it has no next-token probabilities (serve the model itself "
            "for logprobs)"
        )
