"""Reading rendered memory back: CommonMark fences, the section headers, zero-width characters.

Shared by the bad-input and poisoning tests: they check that every stored text sits inside a
fence and nothing else stands outside one.
"""

from __future__ import annotations

import re

HEADERS = {
    "concepts": "### General insights (distilled from many attempts)",
    "exemplars": "### Verified solutions to similar problems (imitate the approach)",
    "failures": "### Failed attempts at similar problems (avoid these)",
    "reflections": "### Lessons from earlier mistakes",
}
BLOCK = "\x00BLOCK\x00"
_LINE_END = re.compile(r"\r\n|\r|\n")  # CommonMark's line endings
_OPEN_FENCE = re.compile(r" {0,3}(`{3,})([^`]*)")


def parse_fences(text: str) -> tuple[str, list[tuple[str, str, str]]]:
    """(text with each backtick-fenced block replaced by BLOCK, [(bar, info, body)]), per CommonMark.

    A block closes at the first line of at least as many backticks (up to 3
    spaces before, only spaces or tabs after); an unclosed block runs to the end.
    """
    lines = _LINE_END.split(text)
    outside: list[str] = []
    blocks: list[tuple[str, str, str]] = []
    i = 0
    while i < len(lines):
        opening = _OPEN_FENCE.fullmatch(lines[i])
        if opening is None:
            outside.append(lines[i])
            i += 1
            continue
        bar, info = opening.group(1), opening.group(2)
        closing = re.compile(f" {{0,3}}`{{{len(bar)},}}[ \t]*")
        j = i + 1
        while j < len(lines) and not closing.fullmatch(lines[j]):
            j += 1
        blocks.append((bar, info, "\n".join(lines[i + 1 : j])))
        outside.append(BLOCK)
        i = j + 1
    return "\n".join(outside), blocks


def visible(text: str) -> str:
    """Text without zero-width characters (the renderer adds some to defuse template tokens)."""
    return re.sub("[\u200b\u200c\u200d\u2060]", "", text)
