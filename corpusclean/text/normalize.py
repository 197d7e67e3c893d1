"""Normalization of one paragraph: the text every later stage (rules, hashes, MinHash) sees.

What it does, in order:

1. deletes invisible characters that carry no text (zero-width space, word joiner, BOM, soft hyphen,
   C0/C1 controls) and maps typographic variants to one form: curly and angle quotes to ``'`` and
   ``"``, every dash and minus to ``-``, every space (NBSP, thin, ideographic) to a plain space;
2. NFKC (compatibility composition: ligatures, full-width forms, ``…`` to ``...``);
3. the mapping of step 1 again, because NFKC can produce characters it maps (``″`` becomes two primes);
4. collapses runs of white space (newlines included) to one space and strips the ends.

ZWJ and ZWNJ are kept: they change spelling in Persian and Indic scripts.

Properties (tested with hypothesis): idempotent, ``normalize(normalize(x)) == normalize(x)``; and no
letter or digit is lost: the letters and digits of NFKD(x), marks dropped, equal those of the output.

Example:
    >>> normalize("\u201cIt\u2019s\u00a0done\u201d \u2014 she said\u200b")
    '"It\\'s done" - she said'
"""

from __future__ import annotations

import unicodedata

_QUOTES_DOUBLE = "\u201c\u201d\u201e\u201f\u2033\u2036\u00ab\u00bb\u301d\u301e\u301f\uff02"
_QUOTES_SINGLE = "\u2018\u2019\u201a\u201b\u2032\u2035\u2039\u203a\u02bc\uff07`\u00b4"
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_SPACES = "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000\t"
_INVISIBLE = "\u200b\u2060\ufeff\u00ad\u180e"

_TRANSLATION: dict[int, str | None] = {}
_TRANSLATION.update({ord(c): '"' for c in _QUOTES_DOUBLE})
_TRANSLATION.update({ord(c): "'" for c in _QUOTES_SINGLE})
_TRANSLATION.update({ord(c): "-" for c in _DASHES})
_TRANSLATION.update({ord(c): " " for c in _SPACES})
_TRANSLATION.update({ord(c): None for c in _INVISIBLE})
# C0 and C1 control characters other than white space (tabs, line and page breaks), which step 4
# folds into single spaces.
_TRANSLATION.update({code: None for code in [*range(0x00, 0x20), *range(0x7F, 0xA0)] if not chr(code).isspace()})


def single_spaced_ascii(text: str) -> bool:
    """Printable ASCII whose only white space is single inner spaces (no tab, no line break)."""
    return text.isascii() and text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " "


def normalize(text: str) -> str:
    """Return the normalized form of one paragraph (see the module docstring for the steps)."""
    # Printable ASCII without a backtick is the common line; the mapping and NFKC leave it as it is,
    # and its only white space is the plain space, usually single already.
    if "`" not in text:
        if single_spaced_ascii(text):
            return text
        if text.isascii() and text.isprintable():
            return " ".join(text.split())
    return _normalize_general(text)


def _normalize_general(text: str) -> str:
    text = text.translate(_TRANSLATION)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).translate(_TRANSLATION)
    text = " ".join(text.split())  # str.split() splits on the same Unicode white space as \s
    # Folding spaces can put a combining mark next to a new base letter; recompose once more so the
    # function is idempotent.
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return text
