"""One model call as a graph step: its sampling settings and seed, its compute, the drafts it makes.

In scope: the `GenerationConfig` of a call (a seed derived per problem and
step, so problems draw independent samples and reruns repeat), generating and
counting the compute (LLM calls = sequences generated; tokens from
`Completion.completion_tokens`), and turning a completion into a
`DraftRecord`. Left out: how much may be asked for (`budget.py`), scoring
and deciding (`nodes.py`). The runner's baselines share `generation` so that
a baseline and a graph's first solve draw paired samples.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from ..agents.base import parse_draft
from ..llm.base import LLM, Completion, GenerationConfig, Prompt
from ..tasks.base import Task
from .config import GraphConfig
from .events import draft_summary, emit, report_calls
from .state import DraftRecord


def derive_seed(seed: int | None, salt: str) -> int | None:
    """A call's seed from the run's base `seed` and what the call is (problem id, step, round).

    A fixed seed for every call would give every problem the same random stream, so samples would
    be correlated across problems; a derived one keeps problems independent and reruns identical.
    """
    if seed is None or not salt:
        return seed
    digest = hashlib.blake2b(f"{seed}/{salt}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little")


def generation(
    config: GraphConfig,
    n: int,
    max_new_tokens: int,
    temperature: float | None = None,
    *,
    salt: str = "",
) -> GenerationConfig:
    """Sampling settings of one call; `salt` names the call (e.g. `f"{problem.id}/solve"`) for its seed."""
    return GenerationConfig(
        n=n,
        temperature=config.temperature if temperature is None else temperature,
        top_p=config.top_p,
        max_new_tokens=max_new_tokens,
        seed=derive_seed(config.seed, salt),
    )


def sample(
    llm: LLM, prompts: Sequence[Prompt], gen: GenerationConfig
) -> tuple[list[list[Completion]], dict[str, Any]]:
    """Generate; return the completions and the compute update (calls, generated tokens)."""
    rows = llm.generate(list(prompts), gen)
    report_calls(llm, prompts, rows)  # for stream_mode="messages" and tracers
    calls = sum(len(row) for row in rows)
    tokens = sum(c.completion_tokens for row in rows for c in row)
    return rows, {"llm_calls": calls, "generated_tokens": tokens}


def drafted(drafts: Sequence[DraftRecord], round: int) -> None:
    """Tell `stream_mode="custom"` readers what a node drafted."""
    emit("drafts", round=round, drafts=draft_summary(drafts))


def new_draft(
    task: Task, completion: Completion, *, id: str, round: int, agent: int, kind: str
) -> DraftRecord:
    """A draft record from one completion; no answer in it makes a failed draft (score 0)."""
    parsed = parse_draft(task, completion.text)
    return {
        "id": id,
        "round": round,
        "agent": agent,
        "kind": kind,
        "text": parsed.text,
        "answer": parsed.answer,
        "ok": parsed.ok,
        "error": parsed.error,
        "score": None if parsed.ok else 0.0,
        "tokens": completion.completion_tokens,
    }
