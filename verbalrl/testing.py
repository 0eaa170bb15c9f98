"""Test doubles for code built on verbalrl: a model scripted by agent role, a scripted verifier.

In scope, as DSPy ships its dummy LM: `scripted(replies)` makes a reply
function for `FakeLLM` that answers by the role a prompt was built for
(`verbalrl.agents.roles.role_of`: solver, critic, reviser, reflector,
debater, distiller), and `score_by_answer(scores)` a `FunctionVerifier` that
scores a candidate by the `Answer:` line in it. Together they drive every
graph through a chosen path without a real model:

    from verbalrl.llm import FakeLLM
    from verbalrl.testing import scripted, score_by_answer

    llm = FakeLLM(scripted({"solver": "2 + 2 = 4\\nAnswer: 4", "critic": "Check it."}))
    verifier = score_by_answer({"4": 0.9})

`registered_backend(prefix, loader)` and `registered_verifier(kind, loader)`
register a model backend or verifier kind for the length of a `with` block
and then restore what was there (so a test can stand in for the built-in
`genrm` kind too): `--model fake:x` or `load_verifier("genrm:PATH")` then
reach the test's loader, with no private loader monkeypatched.

Left out: real-model fixtures (the project's tests build those in conftest).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from .agents.roles import Role, role_of
from .llm import registry as llm_registry
from .llm.base import Prompt
from .verifier import registry as verifier_registry
from .verifier.base import FunctionVerifier

RoleReply = str | Callable[[Prompt], str]

__all__ = [
    "Role",
    "failing",
    "registered_backend",
    "registered_verifier",
    "role_of",
    "score_by_answer",
    "scripted",
]


def scripted(replies: Mapping[str, RoleReply], default: str = "zzz") -> Callable[[Prompt], str]:
    """A `FakeLLM` reply function answering by role; a role not in `replies` gets `default` (junk).

    A value is the reply text, or a function of the prompt returning it.
    """
    unknown = set(replies) - {"critic", "reflector", "distiller", "debater", "reviser", "solver"}
    if unknown:
        raise ValueError(f"unknown role(s) {sorted(unknown)}: use solver, critic, reviser, "
                         "reflector, debater or distiller")

    def reply(prompt: Prompt) -> str:
        value = replies.get(role_of(prompt), default)
        return value(prompt) if callable(value) else value

    return reply


def failing(reply: Callable[[Prompt], str], role: str, after: int = 0) -> Callable[[Prompt], str]:
    """`reply`, except that the prompts of `role` after the first `after` raise `RuntimeError`.

    Simulates a model (or a process) dying mid-run at a chosen step, for resume tests.
    """
    seen = {"n": 0}

    def wrapped(prompt: Prompt) -> str:
        if role_of(prompt) == role:
            seen["n"] += 1
            if seen["n"] > after:
                raise RuntimeError("injected crash")
        return reply(prompt)

    return wrapped


def score_by_answer(scores: Mapping[str, float], default: float = 0.1) -> FunctionVerifier:
    """A verifier whose score is that of the first `Answer: <key>` found in the candidate."""

    def fn(question: str, candidate: str) -> float:
        for key, value in scores.items():
            if f"Answer: {key}" in candidate:
                return value
        return default

    return FunctionVerifier(fn, name="scripted")


@contextmanager
def registered_backend(prefix: str, loader: llm_registry.BackendLoader) -> Iterator[None]:
    """`load_llm("PREFIX:MODEL")` calls `loader` inside the block; the previous backend comes back after."""
    previous = llm_registry._BACKENDS.get(prefix)
    llm_registry.register_backend(prefix, loader, replace=True)
    try:
        yield
    finally:
        llm_registry.unregister_backend(prefix)
        if previous is not None:
            llm_registry.register_backend(prefix, previous)


@contextmanager
def registered_verifier(
    kind: str, loader: verifier_registry.VerifierLoader, description: str = ""
) -> Iterator[None]:
    """`load_verifier("KIND:ARG")` calls `loader` inside the block; the previous kind comes back after."""
    previous = verifier_registry._REGISTRY.get(kind)
    verifier_registry.register_verifier(kind, loader, description, replace=True)
    try:
        yield
    finally:
        verifier_registry.unregister_verifier(kind)
        if previous is not None:
            verifier_registry.register_verifier(kind, previous.loader, previous.description)
