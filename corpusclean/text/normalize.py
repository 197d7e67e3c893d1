"""Normalization of one paragraph, in two forms: the *text* people read and the *match key* stages compare.

**The text** (:func:`faithful`) is what ``paragraphs.text`` and ``documents.text`` store: what the author
wrote, in Unicode NFC, typographic quotes, dashes, symbols (``½``, ``™``, ``m²``) and letters as they
were. Only invisible and broken things change:

1. ANSI terminal escapes (``ESC [ 31 m``), C0 controls other than white space, and the zero-width
   characters that carry no text (zero-width space U+200B, word joiner U+2060, BOM U+FEFF, soft
   hyphen U+00AD, Mongolian vowel separator U+180E) are deleted. ZWJ and ZWNJ are kept: they change
   spelling in Persian and Indic scripts; so are the bidi marks (LRM, RLM).
2. Mojibake is repaired with ftfy where it is sure (:data:`FTFY_CONFIG`: ``fix_encoding`` without
   ``restore_byte_a0`` or ``replace_lossy_sequences``; no ligature, width, quote or HTML-entity
   change), e.g. ``CafÃ©`` (UTF-8 read as Latin-1) becomes ``Café`` and a lone ``\\x96`` in Latin-1
   text (Windows-1252 read as Latin-1) becomes ``–``. ftfy only looks at lines that hold a byte pair
   of UTF-8 read as one of its single-byte encodings, a C1 control or a surrogate (:data:`_SUSPECT`,
   a cheap regex: ftfy's own first check costs ~70 µs a line).
3. C1 controls left after the repair are deleted; every run of white space (NBSP, thin, ideographic
   spaces, tabs, line breaks) becomes one space; the ends are stripped; NFC.

**The match key** (:func:`match_key`, also :func:`normalize`, its old name) is what exact hashes,
MinHash shingles, containment, passage spans, the chrome rules and title matching see: the folding
that used to be the stored text, kept as it was so links and removals do not move:

1. deletes the invisible characters of step 1 above and C0/C1 controls, and maps typographic variants
   to one form: curly and angle quotes to ``'`` and ``"``, every dash and minus to ``-``, every space
   (NBSP, thin, ideographic) to a plain space;
2. NFKC (compatibility composition: ligatures, full-width forms, ``…`` to ``...``, ``½`` to ``1⁄2``);
3. the mapping of step 1 again, because NFKC can produce characters it maps (``″`` becomes two primes);
4. collapses runs of white space (newlines included) to one space and strips the ends.

It keeps case: the rules have case-sensitive patterns, and the matchers that ignore case
(shingles, spans, titles) casefold on their own. The key is a function of the stored text, so phase B
can recompute it from ``paragraphs.text``; :func:`key_offsets` also says which character of the text
each character of the key comes from, for offsets found on the key (rule spans, passage spans).

Properties (tested with hypothesis): both forms idempotent; :func:`faithful` keeps every letter,
digit, mark, symbol and punctuation character except those listed above (``tests/test_faithful_text.py``);
:func:`match_key` drops no letter or digit of NFKD(x), marks aside.

Example:
    >>> faithful("\u201cIt\u2019s\u00a0done\u201d \u2014 ½ m²\u200b")
    '\u201cIt\u2019s done\u201d \u2014 ½ m²'
    >>> match_key("\u201cIt\u2019s\u00a0done\u201d \u2014 ½ m²\u200b")
    '"It\\'s done" - 1⁄2 m2'
    >>> faithful("Caf\u00c3\u00a9 cr\u00c3\u00a8me")
    'Café crème'
"""

from __future__ import annotations

import codecs
import functools
import re
import unicodedata

import ftfy

_QUOTES_DOUBLE = "\u201c\u201d\u201e\u201f\u2033\u2036\u00ab\u00bb\u301d\u301e\u301f\uff02"
_QUOTES_SINGLE = "\u2018\u2019\u201a\u201b\u2032\u2035\u2039\u203a\u02bc\uff07`\u00b4"
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_SPACES = "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000\t"
#: Deleted from both forms: zero-width characters that carry no text.
INVISIBLE = "\u200b\u2060\ufeff\u00ad\u180e"
#: C0 and C1 control characters other than white space (tabs, line and page breaks, NEL), deleted
#: from both forms; white space folds into single spaces.
CONTROLS = "".join(chr(code) for code in [*range(0x00, 0x20), *range(0x7F, 0xA0)] if not chr(code).isspace())
_C0 = "".join(c for c in CONTROLS if ord(c) < 0x80)

_TRANSLATION: dict[int, str | None] = {}
_TRANSLATION.update({ord(c): '"' for c in _QUOTES_DOUBLE})
_TRANSLATION.update({ord(c): "'" for c in _QUOTES_SINGLE})
_TRANSLATION.update({ord(c): "-" for c in _DASHES})
_TRANSLATION.update({ord(c): " " for c in _SPACES})
_TRANSLATION.update({ord(c): None for c in INVISIBLE + CONTROLS})

_MAPPED = re.compile("[" + re.escape("".join(map(chr, _TRANSLATION))) + "]+")

# faithful(): what goes before ftfy (C1 controls, NBSP and the soft hyphen stay: they are bytes of
# mojibake, "Ã­" is "í") ...
_BEFORE_REPAIR = re.compile(f"[{re.escape(INVISIBLE.replace(chr(0xAD), '') + _C0)}]+")
# ... and after it (what the repair may produce, and C1 controls it did not read as Windows-1252)
_AFTER_REPAIR = re.compile(f"[{re.escape(INVISIBLE + CONTROLS)}]+")
_TERMINAL_ESCAPE = re.compile("\x1b\\[[0-9;]*[A-Za-z]")

#: ftfy, only where it is sure: mojibake fixed, nothing else rewritten (NFC is the text's own form).
FTFY_CONFIG = ftfy.TextFixerConfig(
    unescape_html=False,            # "&amp;" in extracted text is what the page showed
    remove_terminal_escapes=False,  # done before the repair (_TERMINAL_ESCAPE), with the C0 controls
    fix_encoding=True,
    restore_byte_a0=False,          # a plain space read as NBSP: ftfy's own doc calls it false-positive prone
    replace_lossy_sequences=False,  # would put U+FFFD where bytes were lost: not a repair
    decode_inconsistent_utf8=True,  # distinct UTF-8 mojibake inside otherwise good text
    fix_c1_controls=False,          # C1 controls are deleted, unless fix_encoding reads the line as cp1252
    fix_latin_ligatures=False,      # ﬁ stays ﬁ: folding is the match key's job
    fix_character_width=False,      # full-width forms stay
    uncurl_quotes=False,            # typographic quotes stay
    fix_line_breaks=False,          # lines are split before; white space is folded after
    fix_surrogates=True,            # a UTF-16 surrogate pair becomes its character
    remove_control_chars=False,     # our own list (CONTROLS, INVISIBLE), documented above
    normalization="NFC",
    explain=False,
)


def _suspect_pattern() -> re.Pattern[str]:
    """A UTF-8 lead byte then a continuation byte, each as read by one of ftfy's single-byte
    encodings (one class of all leads, one of all continuations: a superset, in one fast scan), a C1
    control, or a surrogate: what mojibake needs to be there."""
    leads, continuations = set(), set()
    for encoding in ftfy.chardata.CHARMAP_ENCODINGS:
        leads.update(bytes(range(0xC2, 0xF5)).decode(encoding, "ignore"))
        continuations.update(bytes(range(0x80, 0xC0)).decode(encoding, "ignore"))
    lead, continuation = ("".join(sorted(chars)) for chars in (leads, continuations))
    return re.compile(f"[{re.escape(lead)}][{re.escape(continuation)}]|[\x80-\x9f\ud800-\udfff]")


codecs.lookup("sloppy-windows-1252")  # ftfy registers its sloppy codecs on import
_SUSPECT = _suspect_pattern()


def single_spaced_ascii(text: str) -> bool:
    """Printable ASCII whose only white space is single inner spaces (no tab, no line break)."""
    return text.isascii() and text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " "


def faithful(text: str) -> str:
    """The stored form of one paragraph: the author's characters, invisible and broken ones fixed
    (see the module docstring)."""
    if single_spaced_ascii(text):
        return text
    if text.isascii() and text.isprintable():
        return " ".join(text.split())
    # a few rounds at most: a repair or a deletion can put together what the next round repairs
    for _ in range(4):
        fixed = _faithful_once(text)
        if fixed == text:
            break
        text = fixed
    return text


def _faithful_once(text: str) -> str:
    # printable text has no control, zero-width character or space but the plain one: only the
    # repair, the ends and NFC are left to do (the common non-ASCII line: curly quotes, dashes)
    printable = text.isprintable()
    if not printable:
        if "\x1b" in text:
            text = _TERMINAL_ESCAPE.sub("", text)
        text = _BEFORE_REPAIR.sub("", text)
    if not text.isascii():
        if _SUSPECT.search(text):
            text = ftfy.fix_text(text, FTFY_CONFIG)
            printable = False
        if not printable:
            text = _AFTER_REPAIR.sub("", text)
    if not printable or "  " in text or text[:1] == " " or text[-1:] == " ":
        text = " ".join(text.split())  # str.split() splits on the same Unicode white space as \s
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    return text


def match_key(text: str) -> str:
    """The folded form of one paragraph that hashes, shingles and rules match on (module docstring)."""
    # Printable ASCII without a backtick is the common line; the mapping and NFKC leave it as it is,
    # and its only white space is the plain space, usually single already.
    if "`" not in text:
        if single_spaced_ascii(text):
            return text
        if text.isascii() and text.isprintable():
            return " ".join(text.split())
    return _normalize_general(text)


#: The match key under its old name: what every stage compared, and the stored text, before the text
#: kept the author's characters.
normalize = match_key


def _translate(text: str) -> str:
    """``text.translate(_TRANSLATION)``, only on the runs of characters it maps: a str.translate
    with a dict looks every character up in Python (~160 ns a character), a regex scan does not."""
    return _MAPPED.sub(_translate_run, text)


def _translate_run(match: re.Match[str]) -> str:
    return match.group().translate(_TRANSLATION)


def _normalize_general(text: str) -> str:
    text = _translate(text)
    if not text.isascii():
        text = _translate(unicodedata.normalize("NFKC", text))
    text = " ".join(text.split())  # str.split() splits on the same Unicode white space as \s
    # Folding spaces can put a combining mark next to a new base letter; recompose once more so the
    # function is idempotent.
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return text


def stored_form(folded: bool):
    """The function that makes the stored text: :func:`faithful`, or with ``[text] folded = true``
    the match key of it (the text as stored before, for users who want it folded)."""
    return _folded_faithful if folded else faithful


def _folded_faithful(text: str) -> str:
    for _ in range(4):  # until stable: folding can make what the repair then reads as mojibake (rare)
        folded = match_key(faithful(text))
        if folded == text:
            break
        text = folded
    return text


@functools.lru_cache(maxsize=65536)
def _char_key(char: str) -> str:
    """The match key's mapping of one character, white space kept (what :func:`key_offsets` aligns)."""
    folded = char.translate(_TRANSLATION)
    if not folded.isascii():
        folded = unicodedata.normalize("NFKC", folded).translate(_TRANSLATION)
    return folded


def char_folds(text: str) -> list[str]:
    """The match key's mapping of each character of ``text``, one string per character (possibly
    empty or longer): the key is their concatenation with white space folded, for text that is
    :func:`faithful` already, but for NFKC compositions across characters (rare)."""
    return [_char_key(char) for char in text]


def key_offsets(text: str) -> tuple[str, list[int] | None]:
    """``(match_key(text), owner)``: ``owner[k]`` is the index in ``text`` of the character that key
    character ``k`` comes from (non-decreasing), or ``owner`` is None when the key equals the text.

    A span ``[s, e)`` of the key is ``[owner[s], owner[e - 1] + 1)`` of the text. When the key is not
    the characters' mappings put together (an NFKC composition across characters), ``owner`` spreads
    the key over the text in proportion: offsets stay in range and in order, approximately placed.

    >>> key_offsets("It\u2019s \u00bd m\u00b2")
    ("It's 1\u20442 m2", [0, 1, 2, 3, 4, 5, 5, 5, 6, 7, 8])
    >>> key_offsets("plain")
    ('plain', None)
    """
    key = match_key(text)
    if key == text:
        return key, None
    chars: list[str] = []
    owner: list[int] = []
    space_at = -1  # where a run of white space started, -1: none pending
    for index, piece in enumerate(char_folds(text)):
        for char in piece:
            if char.isspace():
                if chars and space_at < 0:
                    space_at = index
                continue
            if space_at >= 0:
                chars.append(" ")
                owner.append(space_at)
                space_at = -1
            chars.append(char)
            owner.append(index)
    if "".join(chars) == key:
        return key, owner
    scale = len(text) / max(len(key), 1)
    return key, [min(int(k * scale), len(text) - 1) for k in range(len(key))]


def span_in_text(owner: list[int] | None, start: int, end: int) -> tuple[int, int]:
    """The span ``[start, end)`` of a key as a span of its text (``owner`` from :func:`key_offsets`)."""
    if owner is None:
        return start, end
    if end <= start:
        at = owner[start] if start < len(owner) else (owner[-1] + 1 if owner else 0)
        return at, at
    return owner[start], owner[end - 1] + 1


def cut_in_text(text: str, key_spans: list[tuple[int, int]], expected_key: str) -> str:
    """``text`` with the spans ``key_spans`` of its match key cut out and white space folded: what
    the chrome rules, which cut the key, leave of the stored text. When the match key of the result
    is not ``expected_key`` (the key the rules left; an offset placed approximately, or a cut the
    rules located in the key by its text at another occurrence), ``expected_key`` itself is
    returned: the removal stays exact, the text is folded in that one place.

    >>> cut_in_text("\u201cShare this\u201d \u2014 and the news.", [(0, 12)], "- and the news.")
    '\u2014 and the news.'
    """
    _, owner = key_offsets(text)
    pieces, last = [], 0
    for start, end in sorted(span_in_text(owner, start, end) for start, end in key_spans):
        if start > last:
            pieces.append(text[last:start])
        last = max(last, end)
    pieces.append(text[last:])
    cut = " ".join("".join(pieces).split())
    return cut if match_key(cut) == expected_key else expected_key
