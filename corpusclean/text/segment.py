"""Segmentation: raw extracted text to a list of normalized paragraphs.

A *unit* is one non-empty line of the extracted text in its stored form,
:func:`~corpusclean.text.normalize.faithful` (or any other form the caller passes: phase A passes
:func:`~corpusclean.text.normalize.stored_form` of the ``[text]`` config).
News extractors (trafilatura, scrapers) put one paragraph on a line, so a line is the unit that chrome
rules judge. After the rules have run, :func:`rejoin_broken` glues back paragraphs that a crawler split
mid-sentence: a unit that ends without terminal punctuation followed by one that starts with a
lowercase letter, whether a blank line or a single newline came between them.

Example:
    >>> [u.text for u in split_units("Title\\n\\nThe law was\\n\\npassed today.\\n")]
    ['Title', 'The law was', 'passed today.']
    >>> rejoin_broken(["The law was", "passed today.", "Next one."])
    [('The law was passed today.', [0, 1]), ('Next one.', [2])]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import regex

from .normalize import faithful, match_key, single_spaced_ascii

# A word is a run of non-space characters, except in scripts written without spaces, where each
# ideograph or kana counts as one (a Chinese word averages about 1.5 characters).
_SPACELESS_SCRIPT = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}]")
_WORD = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}]|[^\s\p{Han}\p{Hiragana}\p{Katakana}]+")
# A line without one letter or digit ("* * *", "• • •", "---") has no words: it is a separator, and
# counting its symbols as words made it a paragraph phase B linked as an exact duplicate.
_LETTER_OR_DIGIT = regex.compile(r"[\p{L}\p{N}]")

# A paragraph that ends in one of these is finished; a character whose match key ends in one does too
# (closing typographic quotes, full-width stops), so the stored text and its key break alike.
_TERMINAL = frozenset(".!?:;\"')]}…>|*")


@dataclass(frozen=True)
class Unit:
    """One non-empty normalized line and its position in the extracted text."""

    text: str
    line_no: int


def split_units(text: str, form: Callable[[str], str] = faithful) -> list[Unit]:
    """Split extracted text into non-empty lines in ``form`` (blank and invisible-only lines dropped)."""
    units = []
    for line_no, line in enumerate(text.splitlines()):
        normalized = form(line)
        if normalized:
            units.append(Unit(normalized, line_no))
    return units


def word_count(text: str) -> int:
    """Words in ``text``; ideographs and kana count one each; none in a line without a letter or digit.

    >>> word_count("Three small words"), word_count("東京に行く"), word_count("* * *")
    (3, 5, 0)
    """
    if not _LETTER_OR_DIGIT.search(text):
        return 0
    if single_spaced_ascii(text):
        return text.count(" ") + 1 if text else 0
    if text.isascii() or not _SPACELESS_SCRIPT.search(text):  # the common case, 6x faster than the regex
        return len(text.split())
    return len(_WORD.findall(text))


def is_broken_pair(previous: str, following: str) -> bool:
    """True when ``previous`` stops mid-sentence and ``following`` continues it."""
    if not previous or not following or previous[-1] in _TERMINAL:
        return False
    if not previous[-1].isascii() and match_key(previous[-1])[-1:] in _TERMINAL:
        return False
    first = following[0]
    return first.isalpha() and first.islower()


def rejoin_broken(paragraphs: list[str]) -> list[tuple[str, list[int]]]:
    """Join each paragraph broken mid-sentence to its continuation.

    Returns:
        ``(text, source_indexes)`` per resulting paragraph, ``source_indexes`` naming the input
        paragraphs it was made of, so offsets and provenance survive the join.
    """
    joined: list[tuple[str, list[int]]] = []
    for index, paragraph in enumerate(paragraphs):
        if joined and is_broken_pair(joined[-1][0], paragraph):
            text, sources = joined[-1]
            joined[-1] = (f"{text} {paragraph}", [*sources, index])
        else:
            joined.append((paragraph, [index]))
    return joined
