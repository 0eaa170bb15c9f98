"""Cleaning of text before it is stored: encoding, control characters, length caps.

In scope: turning any `str` or `bytes` into valid UTF-8 text without control
characters (newlines and tabs stay), removing bidirectional overrides that can
hide text from a human reader, normalising line endings, and capping length
with a `TextTruncatedWarning`. Left out: anything about prompt injection; that
is handled by rendering retrieved text fenced as quoted data (`context.py`),
never by rewriting what was stored.
"""

from __future__ import annotations

import hashlib
import re
import warnings

# Caps per field. Generous enough for a chain-of-thought trajectory, small
# enough that one record cannot blow up a prompt or the metadata store.
MAX_TASK_CHARS = 200
MAX_PROBLEM_CHARS = 4_000
MAX_SOLUTION_CHARS = 16_000
MAX_REFLECTION_CHARS = 2_000
MAX_CONCEPT_CHARS = 1_000

# Bidi embedding/override/isolate controls ("Trojan Source"): they reorder
# what a human sees without changing what a model reads.
_BIDI = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))
# Unicode category Cc is exactly U+0000-U+001F and U+007F-U+009F; keep \t and \n.
# A regex rather than a per-character loop: recall parses many stored records.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_WS = re.compile(r"\s+")


class TextTruncatedWarning(UserWarning):
    """A text was longer than its field's cap and was cut."""


def to_text(value: str | bytes) -> str:
    """Decode bytes as UTF-8 and replace what is not valid (lone surrogates included)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    # A str may carry lone surrogates (e.g. from `surrogateescape`); they cannot be encoded.
    return value.encode("utf-8", errors="replace").decode("utf-8")


def strip_controls(text: str) -> str:
    """Drop control characters except newline and tab; normalise line endings."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_BIDI)
    return _CONTROLS.sub("", text)


def clean_text(value: str | bytes, *, field: str, max_chars: int) -> str:
    """Valid UTF-8, no control characters, trimmed, at most `max_chars` (warns when cut).

    Anything but `str` or `bytes` raises `ValueError` (which pydantic reports as a
    `ValidationError` naming the field): `5` or `None` is not text to store.
    """
    if not isinstance(value, str | bytes):
        raise ValueError(f"{field} must be text, got {type(value).__name__}")
    text = strip_controls(to_text(value)).strip()
    if len(text) > max_chars:
        marker = f" …[truncated {len(text) - max_chars} chars]"
        warnings.warn(
            f"{field} has {len(text)} characters; stored the first {max_chars}",
            TextTruncatedWarning,
            stacklevel=4,
        )
        text = text[: max_chars - len(marker)].rstrip() + marker
    return text


def normalise_for_key(text: str) -> str:
    """Case-folded text with runs of whitespace collapsed: equal for trivially equal problems."""
    return _WS.sub(" ", text.casefold()).strip()


def problem_key(problem: str) -> str:
    """A short stable hash of a problem, used to exclude the same problem at recall."""
    return hashlib.sha256(normalise_for_key(problem).encode()).hexdigest()[:24]
