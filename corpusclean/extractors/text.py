"""Plain-text and Markdown pages: the light parser for already-extracted text.

Scrapers often store articles as text with a little structure left in: a ``date YYYY-MM-DD`` prefix
glued to the first line, Markdown links ``[text](url)``, ``**bold**`` and ``*emphasis*``, ``#``
headings, horizontal rules (``---``, ``* * *``). This module turns such markup into plain text and pulls
the date out, recording every span it cut so ``removed.parquet`` can explain it. The body keeps the
input's lines: a rule line is left empty rather than deleted, so line ``n`` of the body is line ``n`` of
the page and the rows that name lines point at the page's own. Finding the title is left to
:mod:`corpusclean.filters.titles`, after chrome such as photo credits has been stripped from the first
line.

Example:
    >>> parsed = parse_text("date 2026-03-14 Title\\n\\nSee [the plan](https://x.example) **now**.\\n* * *\\nEnd.",
    ...                     markdown=True)
    >>> parsed.date, parsed.body
    ('2026-03-14', 'Title\\n\\nSee the plan now.\\n\\nEnd.')
    >>> parsed.removed, parsed.cut_lines
    ([('date 2026-03-14', 'text.date_prefix')], [(3, '* * *', 'markdown.rule')])
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
# a CRLF file's rule line ends in "\r": part of the line, not of the text around it
_RULE_LINE = regex.compile(r"^[ \t]*([-*_])(?:[ \t]*\1){2,}+[ \t]*\r?$", regex.MULTILINE)
# Nested emphasis unwraps one level per pass; real text nests two or three deep.
_MAX_PASSES = 8
_STRAY_MARKUP = regex.compile(r"\*\*|__")
#: reason of a rule line's row in ``removed.parquet``
RULE_REASON = "markdown.rule"


@dataclass
class ParsedText:
    """Plain body text, the date found in a prefix, and what was cut out.

    ``removed`` holds the spans cut that have no line of their own (the date prefix) as ``(text,
    reason)``; ``cut_lines`` the whole lines emptied (Markdown rules) as ``(line, text, reason)``, ``line``
    counted as :func:`corpusclean.text.segment.split_units` counts the body's lines.
    """

    body: str
    date: str | None = None
    removed: list[tuple[str, str]] = field(default_factory=list)
    cut_lines: list[tuple[int, str, str]] = field(default_factory=list)


def markdown_to_text(text: str, cut_lines: list[tuple[int, str, str]] | None = None) -> str:
    """Markdown inline markup to plain text: links keep their text, images and rules go.

    A rule line is emptied, not deleted, so the lines keep their numbers; each one is appended to
    ``cut_lines`` as ``(line, text, "markdown.rule")`` when a list is given.
    """
    # each pattern needs a character most text lacks: test for it first (a plain page costs no regex)
    if "](" in text or "][" in text:
        text = _IMAGE.sub("", text)
        text = _LINK.sub(r"\1", text)
        text = _REFERENCE_LINK.sub(r"\1", text)
    if "#" in text:
        text = _HEADING.sub(lambda m: m.group(1).rstrip(" \t#"), text)
    if "-" in text or "*" in text or "_" in text:
        text = _RULE_LINE.sub("", text) if cut_lines is None else _cut_rule_lines(text, cut_lines)
    if "*" in text or "_" in text:
        for _ in range(_MAX_PASSES):  # nested emphasis (**[*x*]**) unwraps one level per pass
            previous, text = text, _EMPHASIS.sub(lambda m: next(g for g in m.groups() if g is not None), text)
            if text == previous:
                break
        text = _STRAY_MARKUP.sub("", text)
    return text


def _cut_rule_lines(text: str, cut_lines: list[tuple[int, str, str]]) -> str:
    """``_RULE_LINE.sub("", text)``, appending ``(line, text, reason)`` of each rule line to ``cut_lines``."""
    kept, line, end = [], 0, 0
    for match in _RULE_LINE.finditer(text):
        between = text[end:match.start()]
        # counted as split_units counts (str.splitlines also breaks at \r, \x0c, \u2028, ...); after a
        # rule, ``between`` starts with its line break, which counts the rule's own line
        line += len(between.splitlines())
        cut_lines.append((line, match.group(0).strip(), RULE_REASON))
        kept.append(between)
        end = match.end()
    if not kept:
        return text
    kept.append(text[end:])
    return "".join(kept)


def parse_text(text: str, markdown: bool) -> ParsedText:
    """Parse one text or Markdown page (markup is also unwrapped in ``.txt``: scrapers leave it there)."""
    parsed = ParsedText(body=text)
    match = _DATE_PREFIX.match(parsed.body)
    if match:
        parsed.date = match.group(1)
        parsed.removed.append((match.group(0).strip(), "text.date_prefix"))
        prefix = match.group(0)
        # the white space before it stays: blank lines above the prefix are lines of the page too
        parsed.body = prefix[:len(prefix) - len(prefix.lstrip())] + parsed.body[match.end():]
    parsed.body = markdown_to_text(parsed.body, parsed.cut_lines)
    return parsed
