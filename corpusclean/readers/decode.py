"""Bytes to text, choosing the encoding the way a careful browser would.

Order of evidence:

1. a byte-order mark (UTF-8/16/32);
2. valid UTF-8 with non-ASCII bytes: random bytes of a single-byte charset are almost never valid
   multi-byte UTF-8, so this beats a declaration, which is often a template's stale default;
3. the declared charset (HTTP header, ``<meta charset>``, XML prolog), if it decodes without error;
4. detection by charset-normalizer (cp1251, latin-1 and friends in pages that declare nothing);

and pure ASCII is ASCII-compatible with all of them. The chosen encoding and which evidence chose it
(``bom``, ``utf-8``, ``declared``, ``detected``, ``ascii``) go into the document's provenance.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

from ..errors import InputError

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


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
    """Decode ``data``; return ``(text, encoding, evidence)``.

    Raises:
        InputError: (stage ``decode``) no encoding gives text.

    Example:
        >>> decode_bytes("Привет, мир".encode("utf-8"))
        ('Привет, мир', 'utf-8', 'utf-8')
    """
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
    if declared:
        try:
            name = codecs.lookup(declared).name
            if name not in ("utf-8", "ascii"):
                return data.decode(name), name, "declared"
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


def _best_guess(data: bytes):
    matches = from_bytes(data)
    best = matches.best()
    if best is None or best.encoding not in _CENTRAL_EUROPEAN:
        return best
    for match in matches:
        if match.encoding in _WESTERN and match.chaos <= best.chaos + 0.05:
            return match
    return best
