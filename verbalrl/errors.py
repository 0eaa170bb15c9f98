"""Exceptions raised by verbalrl.

Every error a user can cause (bad config, unknown model, unreachable server,
prompt too long) is a subclass of `VerbalRLError` with a message that says
what was wrong and how to fix it. Pydantic `ValidationError`s are raised
for invalid field values and name the field.
"""

from __future__ import annotations


class VerbalRLError(Exception):
    """Base class of every error verbalrl raises on purpose."""


class ModelNotFoundError(VerbalRLError):
    """A model name, path or alias does not resolve to loadable weights."""


class CapabilityError(VerbalRLError):
    """A backend was asked for something it cannot do (e.g. next-token probs)."""


class ContextLengthError(VerbalRLError):
    """A prompt (plus the tokens to generate) does not fit the model's context."""


class BackendError(VerbalRLError):
    """A model backend failed: a server is unreachable or answered with an error."""


class ServiceUnavailableError(BackendError):
    """A model server did not answer within its retry budget (down, or overloaded).

    Never recorded as a problem's result: a run stops on it and resumes later (`--resume`).
    """


class TaskNotFoundError(VerbalRLError):
    """An unknown task name was requested."""


class CorruptFileError(VerbalRLError):
    """A run's results file or checkpoint database is damaged; the message names it and what to do.

    Never handled by starting over: that would redo or lose finished problems silently.
    """


class DiskFullError(VerbalRLError):
    """The disk filled while a run wrote its results or checkpoints; free space, then resume."""
