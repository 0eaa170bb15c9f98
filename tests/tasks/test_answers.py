"""Answer finding and normalisation: the cases models actually produce, and totality."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verbalrl.tasks.answers import (
    find_answer_segment,
    find_numbers,
    last_number,
    letters_only,
    normalize_number,
    normalize_text,
    number_in_answer,
    words_only,
)


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("5", "5"),
        ("5.0", "5"),
        ("5.", "5"),
        ("05", "5"),
        ("1,234", "1234"),
        ("$1,234.50", "1234.5"),
        ("$5", "5"),
        ("50%", "50"),
        ("-0", "0"),
        ("-3.10", "-3.1"),
        ("−7", "-7"),
        ("+4", "4"),
        (".5", "0.5"),
        ("1/2", "0.5"),
        ("-3/4", "-0.75"),
        ("2/6", "1/3"),
        ("10/5", "2"),
        ("  7. ", "7"),
        ("**12**", "12"),
        ("5 \\text{ dollars}", "5"),
    ],
)
def test_normalize_number_canonical_forms(raw: str, canonical: str) -> None:
    assert normalize_number(raw) == canonical


@pytest.mark.parametrize(
    "raw", ["", "abc", "1,2", "12,34", "1 2", "1/0", "-", ".", "5 apples", "1e5"]
)
def test_normalize_number_rejects_non_numbers(raw: str) -> None:
    assert normalize_number(raw) is None


def test_normalize_number_refuses_absurdly_long_input_instead_of_crashing() -> None:
    assert normalize_number("9" * 10_000) is None
    assert normalize_number("1" * 5000 + "/3") is None


@given(st.integers(min_value=-(10**30), max_value=10**30))
def test_integers_with_separators_normalise_to_plain_digits(n: int) -> None:
    assert normalize_number(f"{n:,}") == str(n)
    assert normalize_number(f"{n}.000") == str(n)


@given(st.fractions(max_denominator=1000))
def test_normalised_numbers_keep_their_value(value: Fraction) -> None:
    canonical = normalize_number(f"{value.numerator}/{value.denominator}")
    assert canonical is not None
    assert Fraction(canonical) == value
    assert normalize_number(canonical) == canonical  # idempotent


@given(st.text())
def test_normalisers_are_total_and_idempotent(text: str) -> None:
    number = normalize_number(text)
    assert number is None or normalize_number(number) == number
    assert normalize_text(normalize_text(text)) == normalize_text(text)
    assert letters_only(text).isalpha() or letters_only(text) == ""


@pytest.mark.parametrize(
    ("text", "segment"),
    [
        ("So 3 + 4 = 7.\nAnswer: 7", "7"),
        ("Answer: 3\nWait, let me redo it.\nAnswer: 5", "5"),  # the last answer line wins
        ("**Answer:** $1,234", "1,234"),
        ("**Answer**: 12", "12"),
        ("Final answer: tnea. Because the letters are...", "tnea"),
        ('Answer: "apple banana"', "apple banana"),
        ("Answer:\n\n  9", "9"),
        ("She makes 9 * 2 = 18 dollars.\n#### 18", "18"),
        ("Answer: 4\n#### 18", "4"),  # Answer: is preferred over ####
        ("#### 18\nthe answer is 20", "18"),  # #### is preferred over "answer is"
        ("so $\\boxed{42}$ is it", "42"),
        ("\\boxed{\\frac{1}{2}}", "1/2"),
        ("\\boxed{\\text{ab}}", "ab"),
        ("I think the answer is 12.", "12"),
        ("no marked answer, 12 and 13", None),
        ("Answer:", None),
        ("\\boxed{", None),
    ],
)
def test_find_answer_segment(text: str, segment: str | None) -> None:
    assert find_answer_segment(text) == segment


def test_find_numbers_and_last_number() -> None:
    assert find_numbers("1, 2, 3 and 1,234.5 or -7 but 5-3") == [
        "1",
        "2",
        "3",
        "1,234.5",
        "-7",
        "5",
        "3",
    ]
    assert last_number("x = 5 - 3 = 2.50 dollars.") == "2.5"
    assert last_number("no digits") is None


def test_text_normalisers() -> None:
    assert normalize_text('  "Paris."  ') == "paris"
    assert normalize_text("New   York") == "new york"
    assert letters_only("T-n, E a!") == "tnea"
    assert words_only("Apple, banana. CHERRY") == ["apple", "banana", "cherry"]


@settings(max_examples=300)
@given(st.text())
def test_find_answer_segment_is_total(text: str) -> None:
    segment = find_answer_segment(text)
    assert segment is None or (isinstance(segment, str) and segment.strip() == segment)
    assert all(isinstance(n, str) for n in find_numbers(text))


@given(
    prefix=st.text().filter(
        lambda t: "answer" not in t.lower() and "####" not in t and "\\boxed" not in t
    ),
    n=st.integers(min_value=-(10**12), max_value=10**12),
)
def test_a_final_answer_line_is_always_found(prefix: str, n: int) -> None:
    assert normalize_number(find_answer_segment(f"{prefix}\nAnswer: {n}") or "") == str(n)


@pytest.mark.parametrize(
    ("segment", "number"),
    [
        ("$1,234", "1234"),
        ("9 * 2 = 18", "18"),
        ("9 * 2 = $18 per day", "18"),
        ("18 (9 eggs at $2 each)", "18"),
        ("The total is 70,000 dollars", "70000"),
        ("x = y", None),
        ("x = y, so 12", "12"),
        ("none", None),
    ],
)
def test_number_in_answer(segment: str, number: str | None) -> None:
    assert number_in_answer(segment) == number


@pytest.mark.parametrize(
    "text",
    ["\\boxed{" * 20_000, "Answer:" * 20_000, "1," * 50_000, "9" * 100_000, "\n" * 100_000],
)
def test_pathological_inputs_finish(text: str) -> None:
    # Would take minutes if any scan were quadratic; the suite's runtime catches a regression.
    segment = find_answer_segment(text)
    assert segment is None or isinstance(segment, str)
    assert last_number(text) is None or isinstance(last_number(text), str)
