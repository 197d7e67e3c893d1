"""Plain-text and Markdown pages: the light parser for already-extracted text.

Scrapers often store articles as text with a little structure left in: a ``date YYYY-MM-DD`` prefix
glued to the first line, Markdown links ``[text](url)``, ``**bold**`` and ``*emphasis*``, ``#``
headings. This module turns such markup into plain text and pulls the date out, recording every span it
cut so ``removed.parquet`` can explain it. Finding the title is left to
:mod:`corpusclean.filters.titles`, after chrome such as photo credits has been stripped from the first
line.

Example:
    >>> parsed = parse_text("date 2026-03-14 Title\\n\\nSee [the plan](https://x.example) **now**.", markdown=True)
    >>> parsed.date, parsed.body
    ('2026-03-14', 'Title\\n\\nSee the plan now.')
"""

from __future__ import annotations

from dataclasses import dataclass, field

import regex

_DATE_PREFIX = regex.compile(r"^\s*date\s+(\d{4}-\d{2}-\d{2})\b[ \t]*", regex.IGNORECASE)
# Every pattern runs in linear time: bracket and emphasis bodies exclude their own delimiters, so a
# long line of "*a *a *a" or "[[[" cannot make the engine backtrack quadratically (a 1 MB line took
# hours with the first, looser patterns; tests/fuzz.py and tests/test_hostile.py found it).
_IMAGE = regex.compile(r"!\[([^\[\]\n]*)\]\([^)\[\]\n]*\)")
_LINK = regex.compile(r"\[([^\[\]\n]*)\]\([^)\[\]\n]*\)")
_REFERENCE_LINK = regex.compile(r"\[([^\[\]\n]+)\]\[[^\[\]\n]*\]")
_EMPHASIS = regex.compile(r"\*\*(?=\S)((?:[^*\n]|\*(?!\*))+?)(?<=\S)\*\*|__(?=\S)((?:[^_\n]|_(?!_))+?)(?<=\S)__"
                          r"|(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])|(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")
_HEADING = regex.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.*)$", regex.MULTILINE)
_RULE_LINE = regex.compile(r"^[ \t]*([-*_])(?:[ \t]*\1){2,}+[ \t]*$", regex.MULTILINE)
# Nested emphasis unwraps one level per pass; real text nests two or three deep.
_MAX_PASSES = 8
_STRAY_MARKUP = regex.compile(r"\*\*|__")


@dataclass
class ParsedText:
    """Plain body text, the date found in a prefix, and the spans cut out as ``(text, reason)``."""

    body: str
    date: str | None = None
    removed: list[tuple[str, str]] = field(default_factory=list)


def markdown_to_text(text: str) -> str:
    """Markdown inline markup to plain text: links keep their text, images and rules go."""
    # each pattern needs a character most text lacks: test for it first (a plain page costs no regex)
    if "](" in text or "][" in text:
        text = _IMAGE.sub("", text)
        text = _LINK.sub(r"\1", text)
        text = _REFERENCE_LINK.sub(r"\1", text)
    if "#" in text:
        text = _HEADING.sub(lambda m: m.group(1).rstrip(" \t#"), text)
    if "-" in text or "*" in text or "_" in text:
        text = _RULE_LINE.sub("", text)
    if "*" in text or "_" in text:
        for _ in range(_MAX_PASSES):  # nested emphasis (**[*x*]**) unwraps one level per pass
            previous, text = text, _EMPHASIS.sub(lambda m: next(g for g in m.groups() if g is not None), text)
            if text == previous:
                break
        text = _STRAY_MARKUP.sub("", text)
    return text


def parse_text(text: str, markdown: bool) -> ParsedText:
    """Parse one text or Markdown page (markup is also unwrapped in ``.txt``: scrapers leave it there)."""
    parsed = ParsedText(body=text)
    match = _DATE_PREFIX.match(parsed.body)
    if match:
        parsed.date = match.group(1)
        parsed.removed.append((match.group(0).strip(), "text.date_prefix"))
        parsed.body = parsed.body[match.end():]
    parsed.body = markdown_to_text(parsed.body)
    return parsed
