"""Records: one input file to the page records inside it, with provenance.

A file is sniffed, not trusted by its extension: a WARC (``WARC/1.`` at the start, after gunzip) is
streamed record by record (:mod:`corpusclean.readers.warc`), gzip is recognised by its magic bytes and
decompressed (up to a size cap, so a gzip bomb stops there), common binary formats (PNG, PDF, …) and
bytes laden with NULs are refused (a few stray ones in text are dropped), HTML is told from text by its tags, and a JSONL file (``.jsonl``,
``.ndjson``, also gzipped) yields one record per line, a ``.json`` file one record for an object with
a text or html field or one per object of an array of them (anything else in it, an answer key or a
config file, is an errors row, never a page). Each record carries a stable ``doc_id`` (xxh64
of source path and record offset) and the xxh64 of its raw bytes, so any output row can be traced to
the exact bytes it came from.

A large JSONL file is read in pieces (:class:`~corpusclean.readers.discover.Piece`, planned by
:func:`jsonl_pieces`): line ranges that different workers read apart, each yielding exactly the items
that reading the whole file yields for the lines of its range, with the same offsets and ids. A plain
file's piece is a seek and a read of its byte range; a gzipped one is decompressed from the start of
the stream up to the end of the range (a worker keeps its stream open for its next, later piece of the
same file, so a worker decompresses the file about once however many pieces it reads).
"""

from __future__ import annotations

import bisect
import dataclasses
import json
import os
import re
import zlib
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Iterator

import xxhash

from ..errors import InputError
from .decode import decode_bytes, declared_charset, stray_nuls
from .discover import InputFile, Piece

_BINARY_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"%PDF-", "PDF document"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"RIFF", "RIFF media file"),
    (b"\x7fELF", "ELF executable"),
    (b"BZh", "bzip2 archive"),
    (b"\xfd7zXZ\x00", "xz archive"),
    (b"\x28\xb5\x2f\xfd", "zstd archive"),
    (b"OggS", "Ogg media file"),
)
_GZIP_MAGIC = b"\x1f\x8b"
_HTML_SNIFF = re.compile(rb"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]|<article[\s>]|<p[\s>]|<div[\s>]", re.IGNORECASE)
_HEAD_BYTES = 64 * 1024
_SURROGATE = re.compile("[\ud800-\udfff]")
_MARKDOWN_SUFFIXES = (".md", ".markdown")
_JSONL_SUFFIXES = (".jsonl", ".ndjson")


@dataclass
class Record:
    """One page to turn into a document; ``text`` is decoded, ``hints`` come from JSONL fields."""

    doc_id: str
    source_path: str
    record_offset: int
    source_hash: str
    format: str  # html | text | markdown
    container: str  # file | gzip | jsonl | warc | gzip+warc
    text: str
    encoding: str
    encoding_evidence: str
    folder_outlet: str | None
    hints: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordError:
    """A record (or a whole file) that failed before extraction."""

    doc_id: str
    source_path: str
    record_offset: int
    stage: str
    error_type: str
    message: str


#: How ``doc_id`` is made; the manifest records it, and ``--against`` refuses an output made otherwise.
ID_SCHEME = "xxh64(source_path#record_offset#source_hash)"
#: The scheme of outputs whose manifest names none: the place alone, so two crawls stored in folders
#: of the same name gave different pages the same ids.
OLD_ID_SCHEME = "xxh64(source_path#record_offset)"


def make_doc_id(source_path: str, record_offset: int, source_hash: str = "") -> str:
    """Document id: xxh64 of ``source_path#record_offset#source_hash`` as 16 hex digits.

    The place (input folder name and path inside it, offset of the record in the file) and the
    content (``source_hash``, the xxh64 of the record's stored bytes): the same bytes at the same
    place give the same id in every run, so resumed and repeated runs agree; a page fetched again
    into a folder of the same name with other bytes gets another id. A record that failed before
    its bytes were read has no hash (``""``); errors are never linked, so nothing compares them.

    Two different records share an id only if their 64-bit hashes collide: among n records the
    expected number of colliding pairs is about n**2 / 2**65 (1e6 records: 3e-8; 1e8: 3e-4).

        >>> make_doc_id("crawl/a.html", 0, "1f2e") != make_doc_id("crawl/a.html", 0, "9c8d")
        True
        >>> make_doc_id("crawl/a.html", 0, "1f2e") == make_doc_id("crawl/a.html", 0, "1f2e")
        True
    """
    return xxhash.xxh64(f"{source_path}#{record_offset}#{source_hash}".encode()).hexdigest()


def read_records(file: InputFile, input_config: dict[str, Any]) -> Iterator[Record | RecordError]:
    """Yield the records of one file, or the errors that stopped them; never raises for bad input.

    For a :class:`Piece` of a JSONL file (``file.piece``), only the items of the lines in its range."""
    if file.piece is not None:
        yield from _piece_records(file, input_config)
        return

    def failure(error: InputError, offset: int = 0) -> RecordError:
        return RecordError(make_doc_id(file.source_path, offset), file.source_path, offset,
                           error.stage, error.error_type, error.message)

    from .warc import warc_records  # here: warc builds on this module's records

    try:
        data = _read_unless_warc(file, input_config["max_file_bytes"])
    except InputError as error:
        yield failure(error)
        return
    if data is None:
        yield from warc_records(file, input_config)
        return
    try:
        data, container = _unpack(data, input_config)
        kind = _sniff(data, file.source_path)
        if kind in ("jsonl", "json"):
            item = None
        else:
            item = _make_record(file, 0, data, kind, container, {})
    except InputError as error:
        item = failure(error)
    except Exception as exc:  # noqa: BLE001 - a bug on one file must not stop the run
        item = failure(InputError("read", "internal_error", f"{type(exc).__name__}: {exc}"))
    if item is None and kind == "json":
        yield from _json_document_records(file, data, input_config)
    elif item is None:
        yield from _jsonl_records(file, data, container, input_config)
    else:
        yield item


def _read_unless_warc(file: InputFile, limit: int) -> bytes | None:
    """The bytes of ``file`` (at most ``limit + 1``), or None when it is a WARC, which is read record by
    record instead. One open per file: most inputs are pages of a few kilobytes, for which a second
    open and read cost as much as the read itself."""
    from .warc import is_warc  # here: warc builds on this module's records

    try:
        with file.path.open("rb") as handle:
            head = handle.read(_HEAD_BYTES)
            if is_warc(head):
                return None
            return head + handle.read(max(0, limit + 1 - len(head)))
    except OSError as exc:
        raise InputError("read", "unreadable", f"cannot read file: {exc.strerror or exc}") from None


def _unpack(data: bytes, input_config: dict[str, Any]) -> tuple[bytes, str]:
    """``data`` checked against the size limit and gunzipped if it is gzip, and its container."""
    limit = input_config["max_file_bytes"]
    if len(data) > limit:
        raise InputError("read", "too_large", f"file is larger than input.max_file_bytes ({limit} bytes)")
    if data.startswith(_GZIP_MAGIC):
        return _gunzip(data, input_config["max_decompressed_bytes"]), "gzip"
    return data, "file"


def _gunzip(data: bytes, limit: int) -> bytes:
    """Decompress all gzip members, refusing output past ``limit`` (a gzip bomb) and truncation."""
    out = bytearray()
    while data:
        decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            out += decompressor.decompress(data, limit + 1 - len(out))
        except zlib.error as exc:
            raise InputError("read", "corrupt_gzip", f"gzip data is corrupt: {exc}") from None
        if len(out) > limit:
            raise InputError("read", "decompression_limit",
                             f"decompresses past input.max_decompressed_bytes ({limit} bytes): refused as a gzip bomb")
        if not decompressor.eof:
            raise InputError("read", "truncated_gzip", "gzip stream ends early (truncated archive)")
        data = decompressor.unused_data
    return bytes(out)


def sniff_binary(data: bytes) -> str | None:
    """What binary format ``data`` is (``"a PNG image"``, ``"binary data (NUL bytes)"``), or None for text."""
    for magic, name in _BINARY_MAGIC:
        if data.startswith(magic):
            return f"a {name}"
    head = data[:8192]
    if _wide_unicode_head(head) is None and b"\x00" in head and not stray_nuls(data):
        return "binary data (NUL bytes)"
    return None


def looks_like_html(data: bytes) -> bool:
    """Whether the start of ``data`` has HTML tags."""
    head = data[:8192]
    return bool(_HTML_SNIFF.search(_wide_unicode_head(head) or head))


def _sniff(data: bytes, source_path: str) -> str:
    """Classify bytes as ``html``, ``markdown``, ``text``, ``jsonl`` or ``json``; refuse binary and empty input."""
    if not data.strip():
        raise InputError("read", "empty", "file is empty" if not data else "file holds only white space")
    for magic, name in _BINARY_MAGIC:
        if data.startswith(magic):
            raise InputError("read", "binary", f"content is a {name}, not a web page or text")
    head = data[:8192]
    lowered = source_path.lower().removesuffix(".gz")
    wide = _wide_unicode_head(head)
    if wide is not None:
        head = wide  # UTF-16/32 put NULs between ASCII letters: sniff the decoded text instead
    elif b"\x00" in head:
        if not stray_nuls(data):
            raise InputError("read", "binary", "content is binary (NUL bytes), not a web page or text")
        head = head.replace(b"\x00", b"")  # a scraper's stray NULs: dropped when decoding
    if lowered.endswith(_JSONL_SUFFIXES):
        return "jsonl"
    if lowered.endswith(".json"):
        return "json"
    if _HTML_SNIFF.search(head):
        return "html"
    if lowered.endswith(_MARKDOWN_SUFFIXES):
        return "markdown"
    return "text"


def _wide_unicode_head(head: bytes) -> bytes | None:
    """The start of a UTF-16/32 text with a byte-order mark, re-encoded as UTF-8; else ``None``."""
    for bom, encoding in ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
                          (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if head.startswith(bom):
            usable = len(head) - len(head) % (4 if encoding == "utf-32" else 2)
            return head[:usable].decode(encoding, "ignore").encode("utf-8")
    return None


def _make_record(file: InputFile, offset: int, data: bytes, kind: str, container: str,
                 hints: dict[str, Any], declared: str | None = None) -> Record:
    """A record of ``data``; ``declared`` is a charset declared outside the bytes (an HTTP header)."""
    if declared is None and kind == "html":
        declared = declared_charset(data)
    text, encoding, evidence = decode_bytes(data, declared)
    if not text.strip():
        raise InputError("read", "empty", "page holds only white space")
    source_hash = xxhash.xxh64(data).hexdigest()
    return Record(
        doc_id=make_doc_id(file.source_path, offset, source_hash),
        source_path=file.source_path,
        record_offset=offset,
        source_hash=source_hash,
        format=kind,
        container=container,
        text=text,
        encoding=encoding,
        encoding_evidence=evidence,
        folder_outlet=file.folder_outlet,
        hints=hints,
    )


def _jsonl_records(file: InputFile, data: bytes, container: str, input_config: dict[str, Any],
                   base: int = 0) -> Iterator[Record | RecordError]:
    """The records of the JSONL lines in ``data``, which starts at offset ``base`` of the file's JSONL."""
    offset = base
    for line in data.splitlines(keepends=True):
        line_offset, offset = offset, offset + len(line)
        if not line.strip():
            continue
        try:
            raw, line_encoding, line_evidence = decode_bytes(line)
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise InputError("read", "bad_json", f"line is not JSON: {exc.msg} at column {exc.colno}") from None
            if not isinstance(obj, dict):
                raise InputError("read", "bad_json", f"line is JSON {type(obj).__name__}, not an object")
            yield _object_record(file, obj, line_offset, line, "jsonl", input_config, line_encoding, line_evidence)
        except InputError as error:
            yield RecordError(make_doc_id(file.source_path, line_offset), file.source_path, line_offset,
                              error.stage, error.error_type, error.message)
        except Exception as exc:  # noqa: BLE001 - a bug on one line must not lose the file's other lines
            yield RecordError(make_doc_id(file.source_path, line_offset), file.source_path, line_offset,
                              "read", "internal_error", f"{type(exc).__name__}: {exc}")


def _object_record(file: InputFile, obj: dict, offset: int, stored: bytes, container: str,
                   input_config: dict[str, Any], encoding: str, evidence: str) -> Record:
    """The record of one JSON object (a JSONL line, or a JSON document's object): its html field, else
    its text field, with the hint fields; ``stored`` is the bytes it was read from, which its hash
    and ``encoding`` describe (not our re-encoding of its field)."""
    text_field, html_field = input_config["jsonl_text_field"], input_config["jsonl_html_field"]
    if isinstance(obj.get(html_field), str) and obj[html_field].strip():
        kind, body = "html", obj[html_field]
    elif isinstance(obj.get(text_field), str):
        kind, body = "text", obj[text_field]
    else:
        raise InputError("read", "missing_field", f"JSON object has no string field {text_field!r} or {html_field!r}")
    hint_fields = {"url": input_config["jsonl_url_field"], "title": input_config["jsonl_title_field"],
                   "date": input_config["jsonl_date_field"], "outlet": input_config["jsonl_outlet_field"]}
    hints = {name: _valid_text(obj[key]) for name, key in hint_fields.items()
             if isinstance(obj.get(key), str) and obj[key]}
    record = _make_record(file, offset, _valid_text(body).encode("utf-8"), kind, container, hints)
    record.source_hash = xxhash.xxh64(stored).hexdigest()
    record.doc_id = make_doc_id(file.source_path, offset, record.source_hash)
    record.encoding, record.encoding_evidence = encoding, evidence
    return record


def _json_document_records(file: InputFile, data: bytes, input_config: dict[str, Any]
                           ) -> Iterator[Record | RecordError]:
    """The records of a ``.json`` file: one object with a text or html field is one record (offset 0);
    an array of them is a record each, whose offset is its index in the array and whose hash is that
    of the element written out again (sorted keys), since the parser does not give its bytes. Anything
    else, such as an answer key or a config file beside the pages, is one errors row: read as text, it
    was a document of its keys and numbers."""
    def failure(error: InputError, offset: int = 0) -> RecordError:
        return RecordError(make_doc_id(file.source_path, offset), file.source_path, offset,
                           error.stage, error.error_type, error.message)

    text_field, html_field = input_config["jsonl_text_field"], input_config["jsonl_html_field"]
    try:
        raw, encoding, evidence = decode_bytes(data)
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError("read", "bad_json",
                             f"file is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno} "
                             "(a file of one JSON object a line is named .jsonl)") from None
        if isinstance(obj, dict):
            if not (isinstance(obj.get(text_field), str) or isinstance(obj.get(html_field), str)):
                raise InputError("read", "missing_field",
                                 f"JSON document has no string field {text_field!r} or {html_field!r}, nor is it "
                                 "a list of such objects: not a page record")
            yield _object_record(file, obj, 0, data, "json", input_config, encoding, evidence)
            return
        if not isinstance(obj, list):
            raise InputError("read", "bad_json", f"file is JSON {type(obj).__name__}, not an object or a list of objects")
    except InputError as error:
        yield failure(error)
        return
    for index, item in enumerate(obj):
        try:
            if not isinstance(item, dict):
                raise InputError("read", "bad_json", f"list item {index} is JSON {type(item).__name__}, not an object")
            stored = json.dumps(item, ensure_ascii=False, sort_keys=True).encode("utf-8")
            yield _object_record(file, item, index, stored, "json", input_config, encoding, evidence)
        except InputError as error:
            yield failure(error, index)
        except Exception as exc:  # noqa: BLE001 - a bug on one item must not lose the others
            yield failure(InputError("read", "internal_error", f"{type(exc).__name__}: {exc}"), index)


def _valid_text(value: str) -> str:
    """``value`` with lone surrogates (JSON escapes such as ``"\\ud800"``) replaced by U+FFFD: they are
    not Unicode text, cannot be encoded, and would fail the Parquet writer."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", value)



# --------------------------------------------------------------------------- large JSONL files, in pieces

_GZIP_IN_CHUNK = 1 << 20  # compressed bytes read at a time
_GZIP_OUT_CHUNK = 1 << 20  # decompressed bytes made at a time: a gzip bomb never fills memory
_CUT_GRID = 1 << 16  # where a gzipped JSONL may be cut: the first line start after every 64 KiB (or less)
_SCAN_CHUNK = 1 << 16  # bytes read at a time looking for a line start in a plain JSONL
_LF = 0x0A


class _Changed(Exception):
    """The file no longer is what its pieces were planned on (its size changed, it ends early)."""


def is_jsonl_name(source_path: str) -> bool:
    """Whether ``source_path`` names a JSONL file (``.jsonl``, ``.ndjson``, also gzipped)."""
    return source_path.lower().removesuffix(".gz").endswith(_JSONL_SUFFIXES)


def jsonl_pieces(file: InputFile, input_config: dict[str, Any], piece_bytes: int) -> list[Piece] | None:
    """The pieces to read a large JSONL file in, or None to read it whole as any other file.

    Pieces hold about ``piece_bytes`` of JSONL each (at most that plus the rest of the line the cut
    falls in, plus up to 64 KiB for gzip, whose cuts are the first line starts after multiples of
    64 KiB) and are cut at line starts, as :meth:`bytes.splitlines` cuts lines.
    A file is cut only when reading it whole would yield its lines: readable, at most
    ``input.max_file_bytes`` on disk, not a WARC, its head sniffed as JSONL (not empty, binary or
    UTF-16/32), and, when gzipped, a stream that decompresses whole within
    ``input.max_decompressed_bytes`` (checked here, decompressing once, streaming, in bounded memory).
    Every file-level failure is thus left to the whole-file reading and reported once, as before.

    A plain file is not read here beyond its head and a few KiB at each cut. A gzipped one is
    considered when it is larger than a quarter of ``piece_bytes`` on disk and either larger than
    ``piece_bytes`` or its gzip trailer gives a larger size (the trailer holds the size of the last
    gzip member only, so a small multi-member file with a small last member is read whole).
    """
    if not piece_bytes or piece_bytes <= 0 or not is_jsonl_name(file.source_path):
        return None
    from .warc import is_warc  # here: warc builds on this module's records

    try:
        with file.path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size <= piece_bytes // 4 or size > input_config["max_file_bytes"]:
                return None
            head = handle.read(_HEAD_BYTES)
            if is_warc(head):
                return None
            if head.startswith(_GZIP_MAGIC):
                return _plan_gzip(handle, size, file.source_path, input_config, piece_bytes)
            if size <= piece_bytes or not _splittable_head(head, file.source_path):
                return None
            return _cut(size, piece_bytes, size, lambda target: _line_start_from(handle, target, size))
    except Exception:  # noqa: BLE001 - unreadable, refused, or a bug: reading the file whole is always right
        return None


def _plan_gzip(handle: BinaryIO, size: int, source_path: str, input_config: dict[str, Any],
               piece_bytes: int) -> list[Piece] | None:
    if size <= piece_bytes:
        handle.seek(size - 4)
        if int.from_bytes(handle.read(4), "little") <= piece_bytes:
            return None
    handle.seek(0)
    starts = _LineStarts(step=max(1, min(_CUT_GRID, piece_bytes // 16)))
    head = b""
    for chunk in _gunzip_stream(handle, input_config["max_decompressed_bytes"]):
        if len(head) < _HEAD_BYTES:
            head += chunk[:_HEAD_BYTES - len(head)]
            if len(head) == _HEAD_BYTES and not _splittable_head(head, source_path):
                return None
        starts.feed(chunk)
    total = starts.pos
    if total <= piece_bytes or not _splittable_head(head, source_path):
        return None
    found = starts.found

    def line_start_from(target: int) -> int:
        index = bisect.bisect_left(found, target)
        return found[index] if index < len(found) else total

    return _cut(total, piece_bytes, size, line_start_from)


def _splittable_head(head: bytes, source_path: str) -> bool:
    """Whether a file starting with ``head`` is read as JSONL lines (the checks of :func:`_sniff`,
    which look at the start only, and a head that is not all white space)."""
    if not head.strip() or _wide_unicode_head(head) is not None:
        return False
    try:
        return _sniff(head, source_path) == "jsonl"
    except InputError:
        return False


def _cut(total: int, piece_bytes: int, file_bytes: int, line_start_from) -> list[Piece] | None:
    """``ceil(total / piece_bytes)`` pieces of ``total`` bytes of JSONL, each cut at
    ``line_start_from(k * total // count)``; None when fewer than two remain (one long line)."""
    count = -(-total // piece_bytes)
    cuts = [0]
    for k in range(1, count):
        target = k * total // count
        if cuts[-1] >= target:  # no line starts between the previous target and that cut
            continue
        cut = line_start_from(target)
        if cut < total:
            cuts.append(cut)
    if len(cuts) < 2:
        return None
    ends = [*cuts[1:], total]
    return [Piece(index, len(cuts), start, end, file_bytes) for index, (start, end) in enumerate(zip(cuts, ends))]


def _line_start_from(handle: BinaryIO, target: int, size: int) -> int:
    """The first line start at or after ``target`` (at least 1) of the plain file ``handle``, or ``size``."""
    handle.seek(target - 1)
    starts = _LineStarts(origin=target - 1, first=target)
    while not starts.found:
        chunk = handle.read(_SCAN_CHUNK)
        if not chunk:
            return size
        starts.feed(chunk)
    return starts.found[0]


class _LineStarts:
    """Line starts in bytes fed in order: the first at or after ``first`` (default ``step``) and, when
    ``step`` is set, the first at or after each later multiple of ``step``. Lines are those of
    :meth:`bytes.splitlines`: one starts after ``\\n``, after ``\\r\\n`` and after a ``\\r`` that is not
    followed by ``\\n``. ``pos`` is the offset after the bytes fed so far (from ``origin``)."""

    def __init__(self, step: int | None = None, origin: int = 0, first: int | None = None) -> None:
        self.step = step
        self.pos = origin
        self.target: int | None = first if first is not None else step
        self.found: list[int] = []
        self._cr = False  # the search stopped at a \r ending the last chunk: the next byte decides

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        base = self.pos
        self.pos += len(chunk)
        if self._cr:
            self._cr = False
            self._found(base + (chunk[0] == _LF))
        while self.target is not None and self.target - 1 < self.pos:
            at = max(self.target - 1 - base, 0)  # the line start is after a terminator at target-1 or later
            lf = chunk.find(b"\n", at)
            cr = chunk.find(b"\r", at, lf if lf >= 0 else len(chunk))
            if cr >= 0:
                if cr + 1 == len(chunk):
                    self._cr = True
                    return
                self._found(base + cr + 1 + (chunk[cr + 1] == _LF))
            elif lf >= 0:
                self._found(base + lf + 1)
            else:
                return

    def _found(self, start: int) -> None:
        self.found.append(start)
        self.target = (start // self.step + 1) * self.step if self.step else None


def _gunzip_stream(handle: BinaryIO, limit: int) -> Iterator[bytes]:
    """The decompressed bytes of the gzip file ``handle`` (from its position), chunk by chunk, refused
    as :func:`_gunzip` refuses them: corrupt, truncated, or decompressing past ``limit``."""
    data = handle.read(_GZIP_IN_CHUNK)
    total = 0
    while data:  # a gzip member starts here
        decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        while True:
            try:
                out = decompressor.decompress(data, _GZIP_OUT_CHUNK)
            except zlib.error as exc:
                raise InputError("read", "corrupt_gzip", f"gzip data is corrupt: {exc}") from None
            total += len(out)
            if total > limit:
                raise InputError("read", "decompression_limit",
                                 f"decompresses past input.max_decompressed_bytes ({limit} bytes): refused as a gzip bomb")
            if out:
                yield out
            if decompressor.eof:
                data = decompressor.unused_data or handle.read(_GZIP_IN_CHUNK)
                break
            data = decompressor.unconsumed_tail
            if not data and len(out) < _GZIP_OUT_CHUNK:  # a full chunk may leave output pending: ask again
                data = handle.read(_GZIP_IN_CHUNK)
                if not data:
                    raise InputError("read", "truncated_gzip", "gzip stream ends early (truncated archive)")


class _GzipCursor:
    """A gzipped JSONL this process is decompressing, positioned after the last piece read from it."""

    def __init__(self, key: tuple, handle: BinaryIO, limit: int) -> None:
        self.key = key
        self.handle = handle
        self.chunks = _gunzip_stream(handle, limit)
        self.pos = 0  # offset in the JSONL of ``rest``
        self.rest = b""  # decompressed bytes not yet passed

    def read(self, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of the JSONL; ``start`` must not be before ``pos``."""
        parts = []
        pos, chunk = self.pos, self.rest
        while True:
            chunk_end = pos + len(chunk)
            if chunk_end > start:
                low = max(start - pos, 0)
                if chunk_end >= end:
                    parts.append(chunk[low:end - pos])
                    self.pos, self.rest = end, chunk[end - pos:]
                    return b"".join(parts)
                parts.append(chunk[low:] if low else chunk)
            pos = chunk_end
            chunk = next(self.chunks, None)
            if chunk is None:
                raise _Changed("the JSONL ends before the piece does")

    def close(self) -> None:
        self.chunks.close()
        self.handle.close()


_cursor: _GzipCursor | None = None  # this process's open gzip stream (one: pieces come in order)


def _drop_cursor() -> None:
    global _cursor
    if _cursor is not None:
        _cursor.close()
        _cursor = None


def _read_piece(file: InputFile, piece: Piece, input_config: dict[str, Any]) -> bytes:
    """The JSONL bytes of ``piece``, read as planned; raises when the file changed since."""
    global _cursor
    handle = file.path.open("rb")
    try:
        stat = os.fstat(handle.fileno())
        if stat.st_size != piece.file_bytes:
            raise _Changed("the file's size changed since its pieces were planned")
        if handle.read(2) != _GZIP_MAGIC:
            handle.seek(piece.start)
            data = handle.read(piece.end - piece.start)
            if len(data) != piece.end - piece.start:
                raise _Changed("the file ends before the piece does")
            return data
        limit = input_config["max_decompressed_bytes"]
        key = (str(file.path), stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, limit)
        if _cursor is None or _cursor.key != key or _cursor.pos > piece.start:
            _drop_cursor()
            handle.seek(0)
            _cursor, handle = _GzipCursor(key, handle, limit), None  # the cursor owns the handle now
        try:
            data = _cursor.read(piece.start, piece.end)
        except BaseException:
            _drop_cursor()
            raise
        if piece.index == piece.count - 1:
            _drop_cursor()
        return data
    finally:
        if handle is not None:
            handle.close()


def _piece_records(file: InputFile, input_config: dict[str, Any]) -> Iterator[Record | RecordError]:
    """The items of the lines of ``file.piece``: those that reading the whole file yields for them."""
    piece = file.piece
    try:
        data = _read_piece(file, piece, input_config)
    except Exception:  # noqa: BLE001 - changed or unreadable since planned (or a bug): the whole-file path decides
        data = None
    if data is not None:
        yield from _jsonl_records(file, data, "jsonl", input_config, base=piece.start)
        return
    # Not as planned (changed or unreadable since): read the file whole, as any other, and keep the
    # items of this piece's range; a file-level error (offset 0) is the first piece's, so it is reported once.
    end = piece.end if piece.index < piece.count - 1 else float("inf")
    for item in read_records(dataclasses.replace(file, piece=None), input_config):
        if piece.start <= item.record_offset < end:
            yield item
