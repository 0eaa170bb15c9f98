"""Bad input at the edge: encodings, control characters, empty and huge texts."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from verbalrl.memory import Experience, TextTruncatedWarning
from verbalrl.memory.sanitize import MAX_SOLUTION_CHARS, clean_text, problem_key


def test_control_characters_are_removed_but_newlines_and_tabs_stay() -> None:
    text = clean_text("a\x00b\x1b[31mc\r\nd\te\u202eevil", field="x", max_chars=100)
    assert text == "ab[31mc\nd\teevil"


def test_non_utf8_bytes_and_lone_surrogates_become_valid_text() -> None:
    assert clean_text(b"caf\xe9 \xff ok", field="x", max_chars=100) == "caf\ufffd \ufffd ok"
    bad = b"x\xffy".decode("utf-8", errors="surrogateescape")
    out = clean_text(bad, field="x", max_chars=100)
    out.encode("utf-8")  # would raise on a surrogate
    assert out.startswith("x") and out.endswith("y")


def test_huge_text_is_capped_with_a_warning() -> None:
    with pytest.warns(TextTruncatedWarning, match="solution"):
        e = Experience(task="t", problem="p", solution="x" * (MAX_SOLUTION_CHARS * 3), outcome="failure")
    assert len(e.solution) == MAX_SOLUTION_CHARS
    assert e.solution.endswith("chars]")


def test_empty_problem_and_bad_task_are_rejected() -> None:
    with pytest.raises(ValidationError, match="problem is empty"):
        Experience(task="t", problem=" \x00\n ", outcome="success")
    with pytest.raises(ValidationError, match="task"):
        Experience(task="two\nlines", problem="p", outcome="success")


def test_problem_key_ignores_case_and_spacing_only() -> None:
    assert problem_key("What is  2+3?\n") == problem_key("what is 2+3?")
    assert problem_key("What is 2+3?") != problem_key("What is 2+4?")


@given(st.text(max_size=300))
def test_clean_text_output_is_always_safe(raw: str) -> None:
    out = clean_text(raw, field="x", max_chars=400)
    out.encode("utf-8")
    assert all(ch in "\n\t" or unicodedata.category(ch) != "Cc" for ch in out)
    assert len(out) <= 400
