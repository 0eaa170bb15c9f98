"""Finding the final answer in free model text, and normalising answers for comparison.

In scope: locating the answer segment (`Answer:` line, `####`, `\\boxed{}`,
"the answer is"), pulling numbers out of text, and canonical forms for
numbers and short text answers. Every function here is total: any `str` in,
a `str` or `None` out, never an exception, because model output is arbitrary.
Left out: task-specific rules (which fallback a task uses, what counts as
equal for it); each task composes these pieces.
"""

from __future__ import annotations

import re
import unicodedata
from fractions import Fraction

# Why a cap: `int()` refuses strings over 4300 digits (CPython's DoS guard) and
# no real answer is this long, so longer "numbers" are treated as not numbers.
_MAX_NUMBER_CHARS = 200

# "Answer:" / "Final answer:" / "**Answer:**"; the last one in the text wins.
_ANSWER_MARK = re.compile(r"answer\s*\**\s*[:：]", re.IGNORECASE)
_HASH_MARK = re.compile(r"####")
_BOXED_MARK = re.compile(r"\\boxed\s*\{")
_ANSWER_IS = re.compile(r"answer\s+is\s*[:：]?", re.IGNORECASE)

# A number as models write it: optional sign (a "-" glued to a preceding digit
# or letter is an operator, not a sign), thousands separators only in groups of
# three (so "1, 2, 3" stays three numbers), optional decimals or a fraction.
_NUMBER = re.compile(
    r"(?:(?<![\w)])[-−])?"
    r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?"
    r"|(?:(?<![\w)])[-−])?\.\d+"
)
_PLAIN_NUMBER = re.compile(r"([+-]?)(\d*)(?:\.(\d*))?")
_FRACTION = re.compile(r"([+-]?)(\d+)/(\d+)")
# Characters that decorate a number without changing it: currency, percent,
# thousands separators, markdown emphasis, LaTeX spacing and dollar delimiters.
_NUMBER_DECORATION = re.compile(r"[$€£%*_`]|\\[,!;: ]|\\text\{[^}]*\}")
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")
_LATEX_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_MARKUP = re.compile(r"[*_`$]|\\text\{|\\mathrm\{|[{}]")
# A sentence end inside an answer segment ("Answer: tnea. Because ...").
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")


def _segment_after(text: str, end: int) -> str | None:
    """The rest of the line after position `end`, or the next non-empty line if that is blank."""
    rest = text[end:]
    lines = rest.split("\n")
    first = lines[0].strip()
    if first:
        return first
    # "Answer:\n42": the answer sits on the following line.
    for line in lines[1:]:
        if line.strip():
            return line.strip()
    return None


def _boxed_content(text: str) -> str | None:
    """The content of the last `\\boxed{...}` with balanced braces, or None."""
    matches = list(_BOXED_MARK.finditer(text))
    # Only the last few marks: scanning from every unbalanced mark would be quadratic.
    for match in reversed(matches[-3:]):
        depth = 1
        for i in range(match.end(), len(text)):
            char = text[i]
            if char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
                if depth == 0:
                    content = text[match.end() : i].strip()
                    if content:
                        return content
                    break
    return None


def _clean_segment(segment: str) -> str | None:
    """Strip markup and trailing prose from an answer segment; None when nothing is left."""
    cut = _SENTENCE_END.search(segment)
    if cut is not None and cut.start() > 0:
        segment = segment[: cut.start()]
    segment = _LATEX_FRAC.sub(r"\1/\2", segment)
    cleaned = _MARKUP.sub("", segment).strip().strip("\"'“”‘’").strip()
    return cleaned or None


def find_answer_segment(text: str) -> str | None:
    """The text a model marked as its final answer, or None.

    Preference order: the last `Answer:` line, then the last `####`, then the
    last `\\boxed{}`, then the last "the answer is ...". The segment is one
    line, with markdown/LaTeX decoration and a trailing sentence removed.
    """
    for mark in (_ANSWER_MARK, _HASH_MARK):
        matches = list(mark.finditer(text))
        if matches:
            segment = _segment_after(text, matches[-1].end())
            if segment is not None:
                cleaned = _clean_segment(segment)
                if cleaned is not None:
                    return cleaned
    boxed = _boxed_content(text)
    if boxed is not None:
        cleaned = _clean_segment(boxed)
        if cleaned is not None:
            return cleaned
    matches = list(_ANSWER_IS.finditer(text))
    if matches:
        segment = _segment_after(text, matches[-1].end())
        if segment is not None:
            return _clean_segment(segment)
    return None


def find_numbers(text: str) -> list[str]:
    """Every number written in `text`, in order, as written (e.g. "1,234", "-3.5", "1/2")."""
    return [m.group(0) for m in _NUMBER.finditer(text)]


def last_number(text: str) -> str | None:
    """The canonical form of the last number in `text` that normalises, or None."""
    for raw in reversed(find_numbers(text)):
        canonical = normalize_number(raw)
        if canonical is not None:
            return canonical
    return None


def number_in_answer(segment: str) -> str | None:
    """The number an answer segment states, canonical, or None.

    The whole segment if it is one number ("$1,234"); else the first number
    after the last "=" ("9 * 2 = 18 dollars"); else the first number
    ("18 (9 eggs at $2)"): models put the result first or after the equals sign.
    """
    whole = normalize_number(segment)
    if whole is not None:
        return whole
    _, equals, after = segment.rpartition("=")
    for part in (after, segment) if equals else (segment,):
        for raw in find_numbers(part):
            canonical = normalize_number(raw)
            if canonical is not None:
                return canonical
    return None


def _canonical_decimal(sign: str, whole: str, frac: str) -> str:
    whole = whole.lstrip("0") or "0"
    frac = frac.rstrip("0")
    body = f"{whole}.{frac}" if frac else whole
    return f"-{body}" if sign == "-" and body != "0" else body


def _canonical_fraction(sign: str, num: str, den: str) -> str | None:
    if int(den) == 0:
        return None
    value = Fraction(int(num), int(den))
    if sign == "-":
        value = -value
    if value.denominator == 1:
        return str(value.numerator)
    # A denominator of only 2s and 5s has an exact decimal form: make 1/2 equal 0.5.
    rest, twos, fives = value.denominator, 0, 0
    while rest % 2 == 0:
        rest, twos = rest // 2, twos + 1
    while rest % 5 == 0:
        rest, fives = rest // 5, fives + 1
    if rest != 1:
        return f"{value.numerator}/{value.denominator}"
    places = max(twos, fives)
    scaled = abs(value.numerator) * 10**places // value.denominator
    digits = str(scaled).rjust(places + 1, "0")
    neg = "-" if value < 0 else ""
    return _canonical_decimal(neg, digits[:-places], digits[-places:])


def _ascii_digits(text: str) -> str:
    """`text` with every Unicode decimal digit ("١", "１", "३") written as its ASCII digit."""
    if text.isascii():
        return text
    return "".join(str(d) if (d := unicodedata.decimal(ch, None)) is not None else ch for ch in text)


def normalize_number(text: str) -> str | None:
    """The canonical string of a number written as `text`, or None if it is not one number.

    "1,234" -> "1234", "$5" -> "5", "5.0" -> "5", "-0" -> "0", "50%" -> "50",
    "1/2" -> "0.5", "2/6" -> "1/3", "١٢" -> "12". Exact (no floats), so "0.1" stays "0.1".
    The result is always ASCII: `re`'s `\\d` also matches other scripts' digits.
    """
    cleaned = _ascii_digits(_NUMBER_DECORATION.sub("", text).replace("−", "-")).strip().rstrip(".")
    if not cleaned or len(cleaned) > _MAX_NUMBER_CHARS:
        return None
    if "," in cleaned:
        # Only thousands separators are dropped: "1,2" is two numbers, not twelve.
        if _GROUPED.fullmatch(cleaned) is None:
            return None
        cleaned = cleaned.replace(",", "")
    match = _PLAIN_NUMBER.fullmatch(cleaned)
    if match is not None:
        sign, whole, frac = match.group(1), match.group(2), match.group(3) or ""
        if not whole and not frac:
            return None
        return _canonical_decimal(sign, whole, frac)
    match = _FRACTION.fullmatch(cleaned)
    if match is not None:
        return _canonical_fraction(match.group(1), match.group(2), match.group(3))
    return None


def normalize_text(text: str) -> str:
    """Case- and whitespace-insensitive form of a short text answer.

    Lowercases, collapses runs of whitespace, and drops surrounding quotes and
    trailing punctuation, so "  Paris. " equals "paris".
    """
    collapsed = " ".join(text.lower().split())
    return collapsed.strip("\"'“”‘’`*").rstrip(".!?;:,").strip()


def letters_only(text: str) -> str:
    """Lowercase ASCII letters of `text`, everything else dropped ("T-n E a" -> "tnea")."""
    return "".join(re.findall(r"[a-z]", text.lower()))


def words_only(text: str) -> list[str]:
    """Lowercase alphabetic words of `text` in order ("Apple, banana." -> ["apple", "banana"])."""
    return re.findall(r"[a-z]+", text.lower())


def split_steps(text: str) -> list[str]:
    """The non-blank lines of a solution, stripped: the steps a step checker or a PRM scores."""
    return [line.strip() for line in text.splitlines() if line.strip()]
