"""Records: one input file to the page records inside it, with provenance.

A file is sniffed, not trusted by its extension: a WARC (``WARC/1.`` at the start, after gunzip) is
streamed record by record (:mod:`corpusclean.readers.warc`), gzip is recognised by its magic bytes and
decompressed (up to a size cap, so a gzip bomb stops there), common binary formats (PNG, PDF, …) and
NUL-laden bytes are refused, HTML is told from text by its tags, and a JSONL file (``.jsonl``,
``.ndjson``, also gzipped) yields one record per line. Each record carries a stable ``doc_id`` (xxh64
of source path and record offset) and the xxh64 of its raw bytes, so any output row can be traced to
the exact bytes it came from.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass, field
from typing import Any, Iterator

import xxhash

from ..errors import InputError
from .decode import decode_bytes, declared_charset
from .discover import InputFile

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


def make_doc_id(source_path: str, record_offset: int) -> str:
    """Stable document id: xxh64 of ``source_path#record_offset`` as 16 hex digits."""
    return xxhash.xxh64(f"{source_path}#{record_offset}".encode()).hexdigest()


def read_records(file: InputFile, input_config: dict[str, Any]) -> Iterator[Record | RecordError]:
    """Yield the records of one file, or the errors that stopped them; never raises for bad input."""
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
        if kind == "jsonl":
            item = None
        else:
            item = _make_record(file, 0, data, kind, container, {})
    except InputError as error:
        item = failure(error)
    except Exception as exc:  # noqa: BLE001 - a bug on one file must not stop the run
        item = failure(InputError("read", "internal_error", f"{type(exc).__name__}: {exc}"))
    if item is None:
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
    if _wide_unicode_head(head) is None and b"\x00" in head:
        return "binary data (NUL bytes)"
    return None


def looks_like_html(data: bytes) -> bool:
    """Whether the start of ``data`` has HTML tags."""
    head = data[:8192]
    return bool(_HTML_SNIFF.search(_wide_unicode_head(head) or head))


def _sniff(data: bytes, source_path: str) -> str:
    """Classify bytes as ``html``, ``markdown``, ``text`` or ``jsonl``; refuse binary and empty input."""
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
        raise InputError("read", "binary", "content is binary (NUL bytes), not a web page or text")
    if lowered.endswith(_JSONL_SUFFIXES):
        return "jsonl"
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
    return Record(
        doc_id=make_doc_id(file.source_path, offset),
        source_path=file.source_path,
        record_offset=offset,
        source_hash=xxhash.xxh64(data).hexdigest(),
        format=kind,
        container=container,
        text=text,
        encoding=encoding,
        encoding_evidence=evidence,
        folder_outlet=file.folder_outlet,
        hints=hints,
    )


def _jsonl_records(file: InputFile, data: bytes, container: str,
                   input_config: dict[str, Any]) -> Iterator[Record | RecordError]:
    text_field = input_config["jsonl_text_field"]
    html_field = input_config["jsonl_html_field"]
    hint_fields = {
        "url": input_config["jsonl_url_field"],
        "title": input_config["jsonl_title_field"],
        "date": input_config["jsonl_date_field"],
        "outlet": input_config["jsonl_outlet_field"],
    }
    offset = 0
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
            if isinstance(obj.get(html_field), str) and obj[html_field].strip():
                kind, body = "html", obj[html_field]
            elif isinstance(obj.get(text_field), str):
                kind, body = "text", obj[text_field]
            else:
                raise InputError("read", "missing_field",
                                 f"JSON object has no string field {text_field!r} or {html_field!r}")
            hints = {name: _valid_text(obj[key]) for name, key in hint_fields.items()
                     if isinstance(obj.get(key), str) and obj[key]}
            record = _make_record(file, line_offset, _valid_text(body).encode("utf-8"), kind, "jsonl", hints)
            # the hash and encoding describe the stored line, not our re-encoding of its field
            record.source_hash = xxhash.xxh64(line).hexdigest()
            record.encoding, record.encoding_evidence = line_encoding, line_evidence
            yield record
        except InputError as error:
            yield RecordError(make_doc_id(file.source_path, line_offset), file.source_path, line_offset,
                              error.stage, error.error_type, error.message)
        except Exception as exc:  # noqa: BLE001 - a bug on one line must not lose the file's other lines
            yield RecordError(make_doc_id(file.source_path, line_offset), file.source_path, line_offset,
                              "read", "internal_error", f"{type(exc).__name__}: {exc}")


def _valid_text(value: str) -> str:
    """``value`` with lone surrogates (JSON escapes such as ``"\\ud800"``) replaced by U+FFFD: they are
    not Unicode text, cannot be encoded, and would fail the Parquet writer."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", value)

