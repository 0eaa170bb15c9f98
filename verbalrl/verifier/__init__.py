"""Verifiers: scoring candidate solutions, nothing else.

    from verbalrl.verifier import GenRMVerifier, load_verifier

    verifier = load_verifier("genrm-sum30")             # packaged, a folder, genrm-cot:PATH, checker, ...
    verification = verifier.verify(problem, ["3 + 4 = 7\nAnswer: 7", "Answer: 8"])
    verification.scores                                 # p("Yes") per candidate

The `Verifier` protocol and compute accounting (`base.py`); GenRM, direct
(`genrm.py`) and CoT (`genrm_cot.py`); the ORM baseline (`orm.py`) and
LLM-as-a-Judge (`judge.py`); the task's checker and user functions as
verifiers (`base.py`); trained artifacts on disk (`artifact.py`); and the
registry of verifier kinds behind `load_verifier` (`registry.py`). Training
lives in `verbalrl.training`, evaluation in `verbalrl.evaluation`. Exports
are lazy: importing this package does not import torch.
"""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "Verifier": ".base",
    "Verification": ".base",
    "Usage": ".base",
    "CheckerVerifier": ".base",
    "FunctionVerifier": ".base",
    "TimedVerifier": ".base",
    "GenRMVerifier": ".genrm",
    "ProcessVerifier": ".process",
    "StepScores": ".process",
    "OutcomeFromProcess": ".process",
    "CheckerStepVerifier": ".process",
    "aggregate": ".process",
    "GenRMCoTVerifier": ".genrm_cot",
    "ORMVerifier": ".orm",
    "LLMJudgeVerifier": ".judge",
    "ArtifactError": ".artifact",
    "load_verifier": ".registry",
    "register_verifier": ".registry",
    "unregister_verifier": ".registry",
    "available_verifiers": ".registry",
    "verifier_help": ".registry",
    "default_verifier": ".registry",
    "VerifierContext": ".registry",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
