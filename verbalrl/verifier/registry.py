"""`load_verifier`: one entry point from a verifier spec to a ready `Verifier`, and its registry.

In scope: the registry of verifier kinds (`register_verifier(kind, loader)`,
as `register_task` does for tasks) and parsing a spec — `KIND`,
`KIND:ARGUMENT` or a trained verifier folder (or a packaged name such as
`genrm-sum30`), whose `verifier.json` names its kind. Built-in kinds:

- `genrm:PATH` / `genrm-cot:PATH` / `orm:PATH`: a trained artifact;
- `genrm` / `genrm-cot` alone: the untrained generator as the verifier (poor: a warning);
- `prm:PATH`: a trained process verifier (steps scored in one pass; `how=` last|min|prod
  aggregates them into a solution score, default min); `prm` alone: the untrained generator;
- `checker`: the task's exact checker (an oracle that reads the gold answer: experiments only);
- `step-checker`: the task's step checker as a process verifier (an oracle, experiments only).

A loader gets the argument after `KIND:` (may be empty) and a
`VerifierContext` (the generator model, the task, extra options such as
`k` for GenRM-CoT). Left out: the verifiers themselves. The built-in loaders
import their classes (and so torch) only when called.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import VerbalRLError

if TYPE_CHECKING:
    from ..llm.base import LLM
    from ..tasks.base import Task
    from .base import Verifier

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VerifierContext:
    """What a loader may use: the run's generator model and task, and extra options."""

    llm: LLM | None = None
    task: Task | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


VerifierLoader = Callable[[str, VerifierContext], "Verifier"]


@dataclass(frozen=True)
class _Entry:
    loader: VerifierLoader
    description: str


_REGISTRY: dict[str, _Entry] = {}


def register_verifier(
    kind: str, loader: VerifierLoader, description: str = "", *, replace: bool = False
) -> None:
    """Make `load_verifier("KIND:ARG")` call `loader(ARG, context)`; `replace` to override a kind."""
    if not kind or ":" in kind or kind != kind.strip():
        raise ValueError(f"verifier kind {kind!r} must be a non-empty name without ':' or spaces")
    if kind in _REGISTRY and not replace:
        raise ValueError(f"verifier kind {kind!r} is already registered (pass replace=True to override)")
    _REGISTRY[kind] = _Entry(loader, description)


def unregister_verifier(kind: str) -> None:
    """Remove a registered kind (a no-op when it is not registered)."""
    _REGISTRY.pop(kind, None)


def available_verifiers() -> dict[str, str]:
    """Registered kinds and what each loads."""
    return {kind: entry.description for kind, entry in _REGISTRY.items()}


def verifier_help() -> str:
    """The message shown when no (or an unusable) verifier is given."""
    return (
        "choose a verifier: --verifier PATH (a trained GenRM folder from `verbalrl train-verifier`), "
        "'genrm-sum30' (the packaged GenRM for arithmetic sum30), "
        "'genrm-cot:PATH', 'checker' (oracle, reads the gold answer: experiments only), or "
        "'genrm' (the untrained generator as GenRM: a poor verifier)"
    )


def default_verifier(task: str, options: Mapping[str, Any] | None = None) -> str | None:
    """The packaged verifier trained on `task` with these options (e.g. `genrm-sum30` for arithmetic
    sum30), or None when none covers it. What `verbalrl run` and `solve` use without `--verifier`.
    """
    from .artifact import PACKAGED, PACKAGED_COVERS, is_artifact

    given = {k: str(v) for k, v in (options or {}).items()}
    for name, covers in PACKAGED_COVERS.items():
        for covered_task, needed in covers:
            if covered_task != task or not is_artifact(PACKAGED[name]):
                continue
            if all(given.get(k) == str(v) for k, v in needed.items()):
                return name
    return None


def load_verifier(spec: str, llm: LLM | None = None, task: Task | None = None, **options: Any) -> Verifier:
    """A verifier from `spec`: `KIND`, `KIND:ARG`, or a trained verifier folder / packaged name.

    `llm` is the generator (for the untrained `genrm` kinds), `task` the run's
    task (for `checker`); `options` reach the loader (e.g. `k=8` for GenRM-CoT).
    """
    if not isinstance(spec, str) or not spec.strip():
        raise VerbalRLError(verifier_help())
    kind, _, argument = spec.partition(":")
    context = VerifierContext(llm=llm, task=task, options=dict(options))
    if kind in _REGISTRY:
        return _REGISTRY[kind].loader(argument, context)
    return _load_folder(spec, context)


# ----------------------------------------------------------------- built-in kinds
_META_KINDS = {"genrm": "genrm", "genrm_cot": "genrm-cot", "orm": "orm", "prm": "prm"}


def _is_folder(name: str) -> bool:
    from .artifact import resolve_artifact

    return Path(resolve_artifact(name)).exists()


def _load_folder(spec: str, context: VerifierContext) -> Verifier:
    """A folder (or packaged name) given without a kind: its `verifier.json` says which."""
    from .artifact import is_artifact, read_metadata, resolve_artifact

    path = resolve_artifact(spec)
    if not Path(path).exists():
        raise VerbalRLError(f"verifier {spec!r}: no such folder. {verifier_help()}")
    kind = _META_KINDS.get(read_metadata(path).kind, "genrm") if is_artifact(path) else "genrm"
    return _REGISTRY[kind].loader(str(path), context)


def _require(what: str, context: VerifierContext) -> Any:
    if context.llm is None:
        raise VerbalRLError(f"verifier '{what}' without a folder uses the generator model: pass llm=")
    return context.llm


def _genrm(argument: str, context: VerifierContext) -> Verifier:
    from .artifact import resolve_artifact
    from .genrm import GenRMVerifier

    if not argument:
        llm = _require("genrm", context)
        log.warning("GenRM on the untrained generator model: expect a poor verifier")
        return GenRMVerifier(llm, name=f"genrm:untrained:{llm.name}")
    _exists(argument)
    return GenRMVerifier.load(resolve_artifact(argument), **context.options)


def _genrm_cot(argument: str, context: VerifierContext) -> Verifier:
    from .artifact import resolve_artifact
    from .genrm_cot import GenRMCoTVerifier

    if not argument:
        llm = _require("genrm-cot", context)
        log.warning("GenRM-CoT on the untrained generator model: expect a poor verifier")
        return GenRMCoTVerifier(llm, name=f"genrm_cot:untrained:{llm.name}", **context.options)
    _exists(argument)
    return GenRMCoTVerifier.load(resolve_artifact(argument), **context.options)


def _orm(argument: str, context: VerifierContext) -> Verifier:
    from .artifact import resolve_artifact
    from .orm import ORMVerifier

    if not argument:
        raise VerbalRLError("verifier 'orm' needs a trained folder: orm:PATH")
    _exists(argument)
    return ORMVerifier.load(resolve_artifact(argument), **context.options)


def _prm(argument: str, context: VerifierContext) -> Verifier:
    from .prm import PRMVerifier, load_prm

    options = dict(context.options)
    how = options.pop("how", "min")
    if not argument:
        llm = _require("prm", context)
        log.warning("PRM on the untrained generator model: expect a poor process verifier")
        return PRMVerifier(llm, how=how, name=f"prm:untrained:{llm.name}")
    _exists(argument)
    return load_prm(argument, how=how, **options)


def _step_checker(argument: str, context: VerifierContext) -> Verifier:
    from .process import CheckerStepVerifier

    if context.task is None:
        raise VerbalRLError("verifier 'step-checker' needs the task (pass task=)")
    try:
        verifier = CheckerStepVerifier(context.task)
    except ValueError as exc:
        raise VerbalRLError(str(exc)) from exc
    log.warning("verifier 'step-checker' reads the gold answer: an oracle for experiments, not a real run")
    return verifier


def _checker(argument: str, context: VerifierContext) -> Verifier:
    from .base import CheckerVerifier

    if context.task is None:
        raise VerbalRLError("verifier 'checker' needs the task (pass task=)")
    log.warning("verifier 'checker' reads the gold answer: an oracle for experiments, not a real run")
    return CheckerVerifier(context.task)


def _exists(argument: str) -> None:
    if not _is_folder(argument):
        raise VerbalRLError(f"verifier {argument!r}: no such folder. {verifier_help()}")


register_verifier("genrm", _genrm, "trained direct GenRM folder (genrm:PATH), or the untrained generator")
register_verifier(
    "genrm-cot", _genrm_cot, "trained GenRM-CoT folder (genrm-cot:PATH), or the untrained generator"
)
register_verifier("genrm_cot", _genrm_cot, "alias of genrm-cot")
register_verifier("orm", _orm, "trained discriminative ORM folder (orm:PATH)")
register_verifier("prm", _prm, "trained process verifier folder (prm:PATH), or the untrained generator")
register_verifier("checker", _checker, "the task's exact checker: an oracle, for experiments only")
register_verifier(
    "step-checker", _step_checker, "the task's step checker as a process verifier (oracle, experiments only)"
)
