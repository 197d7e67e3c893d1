"""Titles: find the title of a plain-text page and drop exact repeats of it from the body.

Metadata titles (HTML ``<title>``/``og:title`` via trafilatura, a JSONL field) are taken as given. A
text page's title is its first paragraph when that looks like a headline: at most 250 characters, at
least two words, not ending in a full stop, colon or comma, and followed by more text. A first paragraph equal to the metadata title, or to it less a site name ("Headline | Site"), is that
title. The title is kept
once, as paragraph 0 (``is_title``), so every document's text starts the same way whatever its format;
a later paragraph equal to it (case-insensitive) is a repeat and is removed with reason
``title.repeated`` while it stands before the article has begun, that is with fewer than
:data:`ARTICLE_BEGUN` lines of prose (:func:`~corpusclean.filters.rules.is_prose`) above it; further
down it is a heading of the article (a guide titled "Best X of 2026" has a section "Best X of 2026"),
and stays. On wcxb-dev-articles 27 of the 43 repeats removed before this test were in the ground
truth, 17 of them below two or more lines of prose.

Example:
    >>> t = split_title(["Ferry adds sailings", "Ferry adds sailings", "The ferry will run daily."], None)
    >>> t.title, t.body, t.repeats
    ('Ferry adds sailings', ['The ferry will run daily.'], [1])
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .rules import is_prose

_NOT_A_HEADLINE_END = frozenset(".:,;")
#: lines of prose above a repeat of the title that make it a heading of the article, not chrome
ARTICLE_BEGUN = 2
# Separators between a headline and the site name in <title> ("Headline | Site", "Site - Headline").
_SITE_SEPARATORS = frozenset("|-:·•»/")


def same_title(paragraph: str, title: str) -> bool:
    """Equal ignoring case, or equal once a site name joined by a separator is taken off ``title``."""
    p, t = paragraph.casefold(), title.casefold()
    if p == t:
        return True
    if len(p) < 8 or len(p) >= len(t):
        return False
    if t.startswith(p):
        rest = t[len(p):].lstrip()
    elif t.endswith(p):
        rest = t[:-len(p)].rstrip()[-1:]
    else:
        return False
    return rest[:1] in _SITE_SEPARATORS


@dataclass
class TitleSplit:
    """The title (``None`` if none), the body paragraphs after it, and indexes of repeats removed."""

    title: str | None
    body: list[str]
    body_idx: list[int] = field(default_factory=list)
    title_idx: int | None = None
    repeats: list[int] = field(default_factory=list)


def looks_like_headline(paragraph: str) -> bool:
    return 0 < len(paragraph) <= 250 and paragraph[-1] not in _NOT_A_HEADLINE_END and len(paragraph.split()) >= 2


def split_title(paragraphs: list[str], known_title: str | None) -> TitleSplit:
    """Split ``paragraphs`` into title and body; ``known_title`` comes from metadata, already normalized."""
    title, title_idx, start = known_title or None, None, 0
    if paragraphs and title and same_title(paragraphs[0], title):
        title, title_idx, start = paragraphs[0], 0, 1
    elif title is None and len(paragraphs) > 1 and looks_like_headline(paragraphs[0]):
        title, title_idx, start = paragraphs[0], 0, 1
    split = TitleSplit(title=title, body=[], title_idx=title_idx)
    prose = 0
    for index in range(start, len(paragraphs)):
        if title is not None and prose < ARTICLE_BEGUN and same_title(paragraphs[index], title):
            split.repeats.append(index)
        else:
            prose += is_prose(paragraphs[index])
            split.body.append(paragraphs[index])
            split.body_idx.append(index)
    return split
