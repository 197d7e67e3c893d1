"""Bytes to text, choosing the encoding the way a careful browser would.

Order of evidence:

1. a byte-order mark (UTF-8/16/32);
2. valid UTF-8 with non-ASCII bytes: random bytes of a single-byte charset are almost never valid
   multi-byte UTF-8, so this beats a declaration, which is often a template's stale default;
3. UTF-8 with a few invalid bytes (a stray byte in a JSONL line, a page cut mid-character): when valid
   multi-byte characters are at least twice as many as the places with invalid bytes, the text is
   UTF-8 and each bad run becomes U+FFFD (evidence ``utf-8-repaired``), where a detector would read
   the whole text as mojibake. Text in a single-byte charset has next to no valid multi-byte
   sequences, so it does not pass for UTF-8;
4. the declared charset (HTTP header, ``<meta charset>``, XML prolog), if it decodes without error,
   unless its reading is plainly wrong: garbage (charset-normalizer's mess ratio at least 0.2) or no
   language at all where detection reads clean text in one (a cp1251 page declaring windows-1252 or
   ISO-8859-1, a common template default). Then detection wins, with evidence
   ``detected_over_declared``, so the document says its declaration was overruled;
5. detection by charset-normalizer (cp1251, latin-1 and friends in pages that declare nothing);

and pure ASCII is ASCII-compatible with all of them. The chosen encoding and which evidence chose it
(``bom``, ``utf-8``, ``utf-8-repaired``, ``declared``, ``detected_over_declared``, ``detected``,
``ascii``) go into the document's provenance.

Stray NUL bytes (a scraper's artefact: a few in an otherwise ordinary page) are dropped before all
this, and the evidence says so with a ``+nul-dropped`` suffix (``ascii+nul-dropped``), as
``utf-8-repaired`` says bytes were replaced; :func:`decode_text` also returns how many were dropped.
NULs are stray (:func:`stray_nuls`) when they are at most 8 or under 1 % of the bytes (a short page
with two NULs is still a page), the other control bytes
text never holds are under 1 % too (random or compressed bytes hold about 10 % of them, and 0.4 % of
NULs: the second test is what tells them from text), and the bytes do not start with a UTF-16/32
byte-order mark (whose text is half NULs by design). More NULs than that mean binary data, which
:mod:`corpusclean.readers.records` refuses before decoding.
"""

from __future__ import annotations

import codecs
import re
from typing import NamedTuple

from charset_normalizer import from_bytes

from ..errors import InputError

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_REPLACEMENT = "\ufffd".encode()
_REPLACED_RUN = re.compile("\ufffd+")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_WIDE_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# C0 control bytes that text does not hold (all but NUL, tab, line feed, vertical tab, form feed,
# carriage return and escape)
_BINARY_CONTROLS = bytes(code for code in range(1, 32) if code not in (9, 10, 11, 12, 13, 27))
#: NUL suffix of the encoding evidence when stray NUL bytes were dropped.
NUL_DROPPED = "+nul-dropped"


class Decoded(NamedTuple):
    """What :func:`decode_text` made of some bytes: the text, its encoding and the evidence that
    chose it (see the module docstring), and how many stray NUL bytes were dropped first."""

    text: str
    encoding: str
    evidence: str
    nuls_dropped: int = 0


def stray_nuls(data: bytes) -> int:
    """How many NUL bytes ``data`` holds as strays in text, to be dropped: 0 when it holds none, and
    0 when they are too many to be strays (binary data; see the module docstring).

    Example:
        >>> stray_nuls(b"A page of plain text " * 10 + b"\\x00"), stray_nuls(b"abc\\x00def\\x00" * 10)
        (1, 0)
    """
    if b"\x00" not in data or data.startswith(_WIDE_BOMS):
        return 0
    nuls = data.count(b"\x00")
    controls = len(data) - len(data.translate(None, _BINARY_CONTROLS))
    if (nuls <= 8 or nuls * 100 < len(data)) and controls * 100 < len(data):
        return nuls
    return 0


def declared_charset(data: bytes) -> str | None:
    """The charset an HTML or XML document declares in its first 4 KB, if any and if Python knows it."""
    head = data[:4096]
    match = _META_CHARSET.search(head) or _XML_ENCODING.search(head)
    if not match:
        return None
    name = match.group(1).decode("ascii", "ignore").lower()
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_bytes(data: bytes, declared: str | None = None) -> tuple[str, str, str]:
    """Decode ``data``; return ``(text, encoding, evidence)`` (:func:`decode_text` without the NUL count).

    Raises:
        InputError: (stage ``decode``) no encoding gives text.

    Example:
        >>> decode_bytes("Привет, мир".encode("utf-8"))
        ('Привет, мир', 'utf-8', 'utf-8')
        >>> decode_bytes(b"One stray NUL\\x00 in a page of plain text. " + b"More plain text. " * 5)[1:]
        ('ascii', 'ascii+nul-dropped')
    """
    text, encoding, evidence, _ = decode_text(data, declared)
    return text, encoding, evidence


def decode_text(data: bytes, declared: str | None = None) -> Decoded:
    """Decode ``data`` after dropping its stray NUL bytes, if any (:func:`stray_nuls`); ``declared``
    is a charset declared outside the bytes or in them (:func:`declared_charset`).

    Raises:
        InputError: (stage ``decode``) no encoding gives text.

    Example:
        >>> decoded = decode_text("Un café\\x00 au lait,".encode() + b" et deux croissants pour la table." * 4)
        >>> decoded.text[:18], decoded.encoding, decoded.evidence, decoded.nuls_dropped
        ('Un café au lait, e', 'utf-8', 'utf-8+nul-dropped', 1)
    """
    nuls = stray_nuls(data)
    if nuls:
        text, encoding, evidence = _decode(data.replace(b"\x00", b""), declared)
        return Decoded(text, encoding, evidence + NUL_DROPPED, nuls)
    return Decoded(*_decode(data, declared))


def _decode(data: bytes, declared: str | None) -> tuple[str, str, str]:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding, "bom"
            except UnicodeDecodeError:
                break
    if data.isascii():
        return data.decode("ascii"), "ascii", "ascii"
    try:
        return data.decode("utf-8"), "utf-8", "utf-8"
    except UnicodeDecodeError:
        pass
    repaired = _mostly_utf8(data)
    if repaired is not None:
        return repaired, "utf-8", "utf-8-repaired"
    if declared:
        try:
            name = codecs.lookup(declared).name
            if name not in ("utf-8", "ascii"):
                text = data.decode(name)
                better = _overrule_declared(data, name, text)
                if better is None:
                    return text, name, "declared"
                return str(better), codecs.lookup(better.encoding).name, "detected_over_declared"
        except (LookupError, UnicodeDecodeError):
            pass
    best = _best_guess(data)
    if best is None or best.encoding is None:
        raise InputError("decode", "undecodable", "bytes are not text in any encoding tried (no BOM, not UTF-8, "
                         f"declared {declared or 'nothing'}, detection found none)")
    return str(best), codecs.lookup(best.encoding).name, "detected"


# Central-European code pages that charset-normalizer sometimes prefers for Western text: cp1250
# turns French "è" into "č". When the Western reading is about as coherent, Western wins, being far
# more common on the web.
_CENTRAL_EUROPEAN = {"cp1250", "iso8859_2", "mac_latin2"}
_WESTERN = ("cp1252", "latin_1", "iso8859_15")


def _mostly_utf8(data: bytes) -> str | None:
    """``data`` as UTF-8 with its few invalid bytes replaced, when it is UTF-8 but for them; else None."""
    text = data.decode("utf-8", "replace")
    replaced = text.count("\ufffd") - data.count(_REPLACEMENT)
    valid = len(text) - len(text.encode("ascii", "ignore")) - replaced - data.count(_REPLACEMENT)
    # a run of bad bytes (a cut character, an encoded surrogate) is one place, however many bytes
    places = max(1, len(_REPLACED_RUN.findall(text)) - data.count(_REPLACEMENT))
    if valid >= 2 and valid >= 2 * places:
        return text
    return None


def _overrule_declared(data: bytes, declared: str, text: str):
    """Detection's reading when the declared charset's reading is plainly wrong, else ``None``.

    Conservative on purpose: a wrong overrule would corrupt a correct page. Detection must read the
    bytes as clean text (mess ratio at most 0.05) and differently, and the declared reading must be
    garbage (no reading within a mess ratio of 1.0, or at least 0.2, charset-normalizer's own cut-off)
    or in no language at all where detection's reading is coherent (0.5 and more).
    """
    best = _best_guess(data, preemptive=False)
    if best is None or best.encoding is None or best.chaos > 0.05 or str(best) == text:
        return None
    try:
        own = from_bytes(data, cp_isolation=[declared], preemptive_behaviour=False, threshold=1.0).best()
    except (LookupError, ValueError):
        return None
    if own is None or own.chaos >= 0.2:
        return best
    if own.coherence == 0.0 and best.coherence >= 0.5 and best.chaos < own.chaos:
        return best
    return None


def _best_guess(data: bytes, preemptive: bool = True):
    matches = from_bytes(data, preemptive_behaviour=preemptive)
    best = matches.best()
    if best is None or best.encoding not in _CENTRAL_EUROPEAN:
        return best
    for match in matches:
        if match.encoding in _WESTERN and match.chaos <= best.chaos + 0.05:
            return match
    return best
