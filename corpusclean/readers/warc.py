"""WARC files (ISO 28500, ``.warc`` and ``.warc.gz``): every HTTP response with an HTML body is a page.

A WARC is recognised by its content (``WARC/1.`` at the start, after gunzip), not by its name. What
becomes what:

* a ``response`` record whose HTTP status is 2xx and whose body is HTML (``Content-Type`` text/html or
  application/xhtml+xml, or an untyped / generic body that sniffs as HTML) is a page: a
  :class:`~corpusclean.readers.records.Record` with ``container = "warc"``, the WARC-Target-URI in
  ``hints["url"]`` and the WARC-Date's day in ``hints["fetch_date"]``; the charset of the HTTP
  ``Content-Type`` is the declared charset (the page's ``<meta>`` when the header names none);
* every other ``response`` is accounted for as an error row of stage ``read``: ``not_html`` (images,
  PDFs, scripts, ``dns:`` records), ``http_status`` (redirects, 404s), ``too_large``, ``empty``,
  ``binary``, ``bad_content_encoding``;
* ``warcinfo``, ``request``, ``metadata``, ``revisit``, ``resource`` and ``conversion`` records are not
  pages and not inputs: skipped without a row (a WARC holding no response at all is one error
  ``no_pages``, so the file is still accounted for);
* a damaged file gives one error per damaged place, at its offset, and reading goes on at the next
  record header found after it: ``truncated_warc`` (the file ends inside a record, or a record's
  Content-Length runs past the end), ``malformed_warc`` (no ``WARC/1.x`` header where a record must
  start, a header without a valid Content-Length, a block not followed by the blank line that ends
  it, corrupt gzip data), ``decompression_limit`` (a gzip member expands past
  ``input.max_decompressed_bytes``). Records before the damage always come out.

``record_offset`` is where the record starts in the file: for a plain ``.warc`` its byte offset, for a
``.warc.gz`` (one gzip member per record, as crawlers write them) the offset of its gzip member, as in
CDX indexes, so ``seek`` + gunzip of one member gives the record back. A ``.warc`` gzipped whole (one
member holding many records) has container ``gzip+warc`` and offsets counted in the decompressed
member (member offset + offset inside it).

Memory stays bounded whatever the file: records are framed here (header at most 64 KB, block read
only for candidate pages and at most ``input.max_file_bytes``, skipped by seeking otherwise), and a
gzip member is inflated with its output capped at ``input.max_decompressed_bytes``, so a gzip bomb or
a 10 GB header line cannot exhaust memory; HTTP content codings (gzip, deflate, br) are undone here
too, with the output capped at ``input.max_file_bytes``. warcio parses the WARC and HTTP headers and
undoes the chunked transfer coding. WARC files are streamed, so ``input.max_file_bytes`` limits each
page, not the file.

Library choice, measured on 400 generated pages (1,201 records, 1.7 MB; 0.37 MB as .warc.gz) on this
project's 2-core machine: warcio 1.8.1 iterated the responses and read their bodies in 19 ms
(.warc) / 24 ms (.warc.gz), FastWARC 2.0.1 in 1.5 / 3.9 ms. Both are under 0.1 ms a record against
~10 ms of extraction a page, so speed does not decide. Robustness does: neither reports a truncated
record (both hand back a short body), FastWARC answers a malformed record with a bare
``OSError('Invalid WARC header')`` without its position, warcio inflates a gzip member unboundedly (a
0.5 MB .warc.gz took 1.5 GB in one ``readline``), prints warnings on stderr, and its br decoding
fails with brotli 1.2. So framing and inflating are done here, where limits and offsets are ours,
and warcio, pure Python with one dependency (six), parses headers. This reader turns the same files
into records (bodies decoded to text) in 22 ms (.warc) / 29 ms (.warc.gz).
"""

from __future__ import annotations

import codecs
import contextlib
import io
import os
import re
import zlib
from dataclasses import dataclass
from typing import IO, Any, Iterator

from warcio.bufferedreaders import ChunkedDataReader
from warcio.recordloader import ArcWarcRecordLoader

from ..errors import InputError
from .decode import declared_charset
from .discover import InputFile
from .records import Record, RecordError, _make_record, looks_like_html, make_doc_id, sniff_binary

try:  # br content coding (browser-based crawlers store it); without brotli such bodies are error rows
    import brotli
except ImportError:  # pragma: no cover
    brotli = None

WARC_MAGIC = b"WARC/1."
GZIP_MAGIC = b"\x1f\x8b"
_GZIP_MEMBER = b"\x1f\x8b\x08"
_HEADER_LIMIT = 64 * 1024
_HTTP_HEAD = 64 * 1024  # enough of a block to read its HTTP status and headers
_SCAN_CHUNK = 1 << 20
_READ_CHUNK = 64 * 1024
_RECORD_START = re.compile(rb"(?:^|\n)(WARC/1\.[0-9]\r?\n)")
_BLANK = b" \t\r\n"
_HTML_TYPES = {"text/html", "application/xhtml+xml", "application/xhtml"}
# Types that say nothing about the body: sniff it.
_UNTYPED = {"", "text/plain", "application/octet-stream", "binary/octet-stream", "application/unknown",
            "unknown/unknown", "application/x-unknown-content-type", "text/unknown", "application/binary"}
_CONTENT_CODINGS = {"gzip", "x-gzip", "deflate", "br"}
_ISO_DAY = re.compile(r"^(\d{4}-\d{2}-\d{2})")


def is_warc(head: bytes) -> bool:
    """Whether a file starting with ``head`` is a WARC (plain, or gzipped per record or whole)."""
    if head.startswith(GZIP_MAGIC):
        try:
            return zlib.decompressobj(wbits=16 + zlib.MAX_WBITS).decompress(head, 16).startswith(WARC_MAGIC)
        except zlib.error:
            return False
    return head.startswith(WARC_MAGIC)


def warc_records(file: InputFile, input_config: dict[str, Any]) -> Iterator[Record | RecordError]:
    """Yield the page records of one WARC file and the error rows of everything else that is an input.

    Never raises for bad input. Example::

        >>> for item in warc_records(InputFile(Path("crawl.warc.gz"), "crawl.warc.gz", None), config):  # doctest: +SKIP
        ...     print(item.record_offset, item.hints.get("url") if hasattr(item, "hints") else item.error_type)
        0 https://news.example/story
        5120 not_html
    """
    reader = _Reader(file, input_config)
    try:
        handle = file.path.open("rb")
    except OSError as exc:
        yield RecordError(make_doc_id(file.source_path, 0), file.source_path, 0, "read", "unreadable",
                          f"cannot read file: {exc.strerror or exc}")
        return
    try:
        with handle:
            compressed = handle.read(2) == GZIP_MAGIC
            handle.seek(0)
            if compressed:
                yield from reader.gzip_members(handle)
            else:
                yield from reader.records(handle, 0, os.fstat(handle.fileno()).st_size)
    except OSError as exc:  # an I/O error in the middle of the file
        yield reader.error(reader.position, "unreadable", f"cannot read file past offset {reader.position}: "
                                                         f"{exc.strerror or exc}")
    except Exception as exc:  # noqa: BLE001 - a bug must cost this file's rest, not the run
        yield reader.error(reader.position, "internal_error", f"reading stopped at offset {reader.position}: "
                                                             f"{type(exc).__name__}: {exc}")
    if not reader.emitted:
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(reader.kinds.items())) or "none"
        yield reader.error(0, "no_pages", f"WARC file holds no response record, so no page (records: {kinds})")


@dataclass
class _Frame:
    """A record's framing: where it starts, its header block, where its block starts and its length."""

    offset: int
    header: bytes
    block_start: int
    length: int


class _Reader:
    """Frames records of one WARC file and turns each into a Record or a RecordError."""

    def __init__(self, file: InputFile, input_config: dict[str, Any]) -> None:
        self.file = file
        self.max_page = input_config["max_file_bytes"]
        self.max_member = input_config["max_decompressed_bytes"]
        self.loader = ArcWarcRecordLoader(verify_http=False)
        self.used: set[int] = set()
        self.emitted = 0
        self.kinds: dict[str, int] = {}
        self.position = 0
        self.container_of_member = "warc"

    # ------------------------------------------------------------------ rows

    def _offset(self, offset: int) -> int:
        # Offsets are unique by construction except in a .warc.gz mixing one-record members with
        # many-record members, where member offset + inner offset may meet a later member's offset;
        # a doc_id must never repeat (the run's accounting checks it), so move to the next free value.
        while offset in self.used:
            offset += 1
        self.used.add(offset)
        self.emitted += 1
        return offset

    def error(self, offset: int, error_type: str, message: str, stage: str = "read") -> RecordError:
        offset = self._offset(offset)
        return RecordError(make_doc_id(self.file.source_path, offset), self.file.source_path, offset, stage,
                           error_type, message)

    # ------------------------------------------------------------------ gzip

    def gzip_members(self, handle: IO[bytes]) -> Iterator[Record | RecordError]:
        """Inflate one gzip member at a time (output capped) and frame the records inside it."""
        size = os.fstat(handle.fileno()).st_size
        position = 0
        while position < size:
            self.position = position
            handle.seek(position)
            if handle.read(3) != _GZIP_MEMBER:
                handle.seek(position)
                rest = handle.read(_SCAN_CHUNK)
                if not rest.strip(_BLANK + b"\x00"):
                    return  # padding after the last member
                following = _next_member(handle, position + 1)
                skipped = (following if following is not None else size) - position
                yield self.error(position, "malformed_warc",
                                 f"{skipped} bytes at offset {position} are not a gzip member of the WARC; skipped")
                if following is None:
                    return
                position = following
                continue
            data, length, problem = _inflate_member(handle, position, self.max_member)
            stream = io.BytesIO(data)
            items = list(self.records(stream, position, len(data), cut=problem, inner=True))
            if self.container_of_member == "gzip+warc":
                for item in items:
                    if hasattr(item, "container"):
                        item.container = "gzip+warc"
            yield from items
            if problem is None:
                position += length
                continue
            if problem[0] == "truncated_warc":
                return
            following = _next_member(handle, position + 1)
            if following is None:
                return
            position = following

    # ------------------------------------------------------------------ records

    def records(self, stream: IO[bytes], base: int, end: int, cut: tuple[str, str] | None = None,
                inner: bool = False) -> Iterator[Record | RecordError]:
        """Frame the records of ``stream`` (``end`` bytes long) and turn them into rows.

        ``base`` is added to positions in ``stream`` (a gzip member's file offset); ``cut`` says why
        ``stream`` ends early (an inflated member cut by truncation, corruption or the size cap).
        """
        position = 0 if inner else stream.tell()
        frames = 0
        self.container_of_member = "warc"
        cut_reported = False
        while True:
            position = _skip_blank(stream, position)
            if position >= end:
                break
            if not inner:
                self.position = base + position
            frame, problem = _read_frame(stream, position, end)
            if frame is None:
                error_type, message = problem
                if error_type == "truncated_warc" and cut is not None:
                    error_type, message = cut
                    cut_reported = True
                yield self.error(base + position, error_type, message)
                following = _next_record_start(stream, position + 1, end)
                if following is None:
                    break
                position = following
                continue
            frames += 1
            if frames == 2 and inner:
                self.container_of_member = "gzip+warc"
            damage = None
            if frame.block_start + frame.length > end:
                if cut is not None:
                    damage = cut
                    cut_reported = True
                else:
                    have = end - frame.block_start
                    damage = ("truncated_warc", f"the file ends inside this record: {have} of its "
                                                f"{frame.length} block bytes are there")
            else:
                # the block ends where a line break (the blank lines closing the record) or the file
                # does; anything else means Content-Length is wrong and the block is not this record's
                after = _read_at(stream, frame.block_start + frame.length, 2)
                if after and not after.startswith((b"\n", b"\r\n")):
                    damage = ("malformed_warc",
                              f"Content-Length {frame.length} does not end the record: the block is not "
                              "followed by the blank line that ends a WARC record")
            if damage is not None:
                yield self.error(base + frame.offset, *damage)
                following = _next_record_start(stream, frame.offset + 1, end)
                if following is None:
                    break
                position = following
                continue
            item = self._record_item(stream, frame, base)
            if item is not None:
                yield item
            position = frame.block_start + frame.length
        if cut is not None and not cut_reported:
            # the cut fell between records (or in the gzip trailer): say so once, where it happened
            yield self.error(base + end, *cut)

    def _record_item(self, stream: IO[bytes], frame: _Frame, base: int) -> Record | RecordError | None:
        """A Record for an HTML response, an error row for any other response, None for the rest."""
        kind = _header_value(frame.header, b"warc-type").lower() or "(none)"
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        if kind != "response":
            return None
        offset = base + frame.offset
        # the HTTP head first: most responses that are not pages are refused without reading their body
        block = _read_at(stream, frame.block_start, min(frame.length, _HTTP_HEAD))
        try:
            record = self._parse(frame, block)
        except Exception as exc:  # noqa: BLE001 - warcio raises many kinds on a bad header
            return self.error(offset, "malformed_warc", f"WARC or HTTP header cannot be parsed: {_first_line(exc)}")
        url = record.rec_headers.get_header("WARC-Target-URI") or ""
        where = f" ({url})" if url else ""
        http = record.http_headers
        if http is None:
            if frame.length == 0:
                return self.error(offset, "empty", f"response record{where} has an empty block")
            return self.error(offset, "not_html", f"response record{where} holds no HTTP response "
                                                  f"({record.rec_headers.get_header('Content-Type') or 'no type'})")
        status = http.get_statuscode()
        if not status.startswith("2"):
            meaning = {"3": "a redirect", "4": "a client error", "5": "a server error"}.get(status[:1], "not a success")
            return self.error(offset, "http_status", f"HTTP {http.statusline.strip() or '(no status)'} response"
                                                     f"{where} is {meaning}, not a page")
        mime, charset = _content_type(http.get_header("Content-Type") or "")
        if mime not in _HTML_TYPES and mime not in _UNTYPED:
            return self.error(offset, "not_html", f"HTTP response{where} is {mime}, not an HTML page")
        codings = [c.strip().lower() for c in (http.get_header("Content-Encoding") or "").split(",")]
        codings = [c for c in codings if c and c != "identity"]
        for coding in codings:
            if coding not in _CONTENT_CODINGS or (coding == "br" and brotli is None):
                return self.error(offset, "bad_content_encoding",
                                  f"HTTP body{where} is {coding}-encoded, which "
                                  + ("this installation cannot decode (install brotli)" if coding == "br"
                                     else "is not a known content coding"))
        if frame.length > self.max_page + _HTTP_HEAD:
            return self.error(offset, "too_large", f"HTTP response{where} is {frame.length} bytes, more than "
                                                   f"input.max_file_bytes ({self.max_page} bytes)")
        if frame.length > len(block):
            block = _read_at(stream, frame.block_start, frame.length)
            record = self._parse(frame, block)
        try:
            body = self._body(record, codings)
        except InputError as error:
            return self.error(offset, error.error_type, f"HTTP body{where} {error.message}")
        if not body.strip():
            return self.error(offset, "empty", f"HTTP response{where} has an empty body")
        binary = sniff_binary(body)
        if binary:
            return self.error(offset, "binary" if mime in _HTML_TYPES else "not_html",
                              f"HTTP response{where} ({mime or 'untyped'}) holds {binary}, not an HTML page")
        if mime not in _HTML_TYPES and not looks_like_html(body):
            return self.error(offset, "not_html", f"HTTP response{where} ({mime or 'untyped'}) is not HTML")
        hints: dict[str, Any] = {}
        if url:
            hints["url"] = url
        day = _ISO_DAY.match(record.rec_headers.get_header("WARC-Date") or "")
        if day:
            hints["fetch_date"] = day.group(1)
        truncated = record.rec_headers.get_header("WARC-Truncated")
        if truncated:
            hints["warc_truncated"] = truncated  # the crawler cut the payload (length, time, ...)
        declared = _known_charset(charset) or declared_charset(body)
        try:
            item = _make_record(self.file, offset, body, "html", "warc", hints, declared=declared)
        except InputError as error:
            return self.error(offset, error.error_type, error.message, error.stage)
        item.record_offset = self._offset(offset)
        item.doc_id = make_doc_id(self.file.source_path, item.record_offset, item.source_hash)
        return item

    def _body(self, record, codings: list[str]) -> bytes:
        """The HTTP payload: transfer coding (chunked) undone by warcio, content codings here, with the
        output capped at ``input.max_file_bytes`` so a compressed body cannot expand without bound.

        Raises:
            InputError: ``bad_content_encoding`` or ``too_large`` (its message completes "HTTP body ...").
        """
        stream = record.raw_stream
        if "chunked" in (record.http_headers.get_header("Transfer-Encoding") or "").lower():
            stream = ChunkedDataReader(stream)
        try:
            with _quiet():
                body = stream.read(self.max_page + _HTTP_HEAD + 1)
        except Exception as exc:  # noqa: BLE001 - a broken chunked body
            raise InputError("read", "bad_content_encoding", f"has a broken chunked transfer coding: "
                                                             f"{_first_line(exc)}") from None
        for coding in reversed(codings):
            body = _decode_content(body, coding, self.max_page)
        if len(body) > self.max_page:
            raise InputError("read", "too_large", f"is more than input.max_file_bytes ({self.max_page} bytes)")
        return body

    def _parse(self, frame: _Frame, block: bytes):
        with _quiet():
            return self.loader.parse_record_stream(io.BytesIO(frame.header + block), known_format="warc")


# ---------------------------------------------------------------------- framing helpers


@contextlib.contextmanager
def _quiet():
    """warcio writes some warnings straight to stderr; keep them out of the command's output."""
    with contextlib.redirect_stderr(io.StringIO()):
        yield


def _read_at(stream: IO[bytes], position: int, length: int) -> bytes:
    stream.seek(position)
    return stream.read(length)


def _skip_blank(stream: IO[bytes], position: int) -> int:
    """The first position at or after ``position`` that is not a blank between records."""
    while True:
        chunk = _read_at(stream, position, 4096)
        if not chunk:
            return position
        stripped = chunk.lstrip(_BLANK)
        if stripped:
            return position + len(chunk) - len(stripped)
        position += len(chunk)


def _read_frame(stream: IO[bytes], position: int, end: int) -> tuple[_Frame | None, tuple[str, str] | None]:
    """Read the header block at ``position``; ``(frame, None)`` or ``(None, (error_type, message))``."""
    head = _read_at(stream, position, 4096)  # most headers are under 1 KB
    if len(head) == 4096 and b"\r\n\r\n" not in head and b"\n\n" not in head:
        head = _read_at(stream, position, _HEADER_LIMIT)
    if not head.startswith(WARC_MAGIC):
        if WARC_MAGIC.startswith(head[: len(WARC_MAGIC)]) and position + len(head) >= end:
            return None, ("truncated_warc", "the file ends inside the first line of a WARC record header")
        first = head[:60].split(b"\n", 1)[0].decode("utf-8", "replace").strip()
        return None, ("malformed_warc", f"no WARC record header where a record must start (found {first!r})")
    stop = head.find(b"\r\n\r\n")
    terminator = 4
    if stop < 0:
        stop, terminator = head.find(b"\n\n"), 2
    if stop < 0:
        if position + len(head) >= end:
            return None, ("truncated_warc", "the file ends inside this record's WARC header")
        return None, ("malformed_warc", f"WARC record header is longer than {_HEADER_LIMIT} bytes (no blank line "
                                        "ends it)")
    header = head[: stop + terminator]
    raw_length = _header_value(header, b"content-length")
    if not raw_length.isdigit():
        shown = raw_length or "missing"
        return None, ("malformed_warc", f"WARC record header has no valid Content-Length ({shown!s})")
    return _Frame(position, header, position + stop + terminator, int(raw_length)), None


def _header_value(header: bytes, name: bytes) -> str:
    for line in header.split(b"\n")[1:]:
        key, sep, value = line.partition(b":")
        if sep and key.strip().lower() == name:
            return value.strip().decode("latin-1")
    return ""


def _next_record_start(stream: IO[bytes], position: int, end: int) -> int | None:
    """The next ``WARC/1.x`` line start at or after ``position``, or None."""
    while position < end:
        chunk = _read_at(stream, max(position - 1, 0), _SCAN_CHUNK + 16)
        if not chunk:
            return None
        shift = max(position - 1, 0)
        for match in _RECORD_START.finditer(chunk):
            start = shift + match.start(1)
            if start >= position:
                return start
        position += _SCAN_CHUNK
    return None


def _inflate_member(handle: IO[bytes], position: int, cap: int) -> tuple[bytes, int, tuple[str, str] | None]:
    """Inflate the gzip member at ``position``; ``(data, compressed length, problem or None)``.

    The output is capped at ``cap`` bytes; a problem is ``("truncated_warc" | "malformed_warc" |
    "decompression_limit", message)`` and ``data`` then holds what came out before it.
    """
    handle.seek(position)
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    parts: list[bytes] = []
    produced = 0
    consumed = 0
    while True:
        chunk = handle.read(_READ_CHUNK)
        if not chunk:
            return b"".join(parts), consumed, ("truncated_warc",
                                               f"the file ends inside the gzip member that starts at offset {position}")
        pending = chunk
        while pending:
            room = cap + 1 - produced
            try:
                out = inflater.decompress(pending, room)
            except zlib.error as exc:
                return b"".join(parts), consumed, ("malformed_warc",
                                                   f"gzip member at offset {position} is corrupt ({exc}); "
                                                   "reading goes on at the next member")
            parts.append(out)
            produced += len(out)
            if produced > cap:
                return b"".join(parts)[:cap], consumed, (
                    "decompression_limit",
                    f"gzip member at offset {position} decompresses past input.max_decompressed_bytes ({cap} bytes): "
                    "refused as a gzip bomb; reading goes on at the next member")
            if inflater.eof:
                used = len(pending) - len(inflater.unused_data)
                return b"".join(parts), consumed + used, None
            consumed += len(pending) - len(inflater.unconsumed_tail)
            pending = inflater.unconsumed_tail


def _next_member(handle: IO[bytes], position: int) -> int | None:
    """The next offset at or after ``position`` where a gzip member holding a WARC record starts."""
    while True:
        handle.seek(position)
        chunk = handle.read(_SCAN_CHUNK + 2)
        if len(chunk) < 3:
            return None
        index = chunk.find(_GZIP_MEMBER)
        while index >= 0:
            candidate = position + index
            handle.seek(candidate)
            try:
                start = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS).decompress(handle.read(4096), 16)
            except zlib.error:
                start = b""
            if start.startswith(WARC_MAGIC):
                return candidate
            index = chunk.find(_GZIP_MEMBER, index + 1)
        position += _SCAN_CHUNK


def _decode_content(data: bytes, coding: str, cap: int) -> bytes:
    """Undo one HTTP content coding, producing at most ``cap + 1`` bytes (more means too large).

    A stream that stops early (a crawler's truncated payload) gives what it holds; bytes that are not
    in the coding raise :class:`InputError` ``bad_content_encoding``.
    """
    try:
        if coding == "br":
            inflater = brotli.Decompressor()
            out = inflater.process(data, output_buffer_limit=cap + 1)
        else:
            # gzip and zlib headers are told apart by zlib (wbits 47); raw deflate (what some servers
            # send as "deflate") has no header at all
            wbits = 47 if coding in ("gzip", "x-gzip") or data[:1] == b"\x78" else -zlib.MAX_WBITS
            out = zlib.decompressobj(wbits=wbits).decompress(data, cap + 1)
    except (zlib.error, getattr(brotli, "error", zlib.error)) as exc:
        raise InputError("read", "bad_content_encoding", f"is declared {coding}-encoded but is not ({exc})") from None
    if len(out) > cap:
        raise InputError("read", "too_large", f"decodes ({coding}) to more than input.max_file_bytes ({cap} bytes)")
    return out


def _content_type(value: str) -> tuple[str, str | None]:
    mime, _, params = value.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, raw = param.partition("=")
        if key.strip().lower() == "charset":
            charset = raw.strip().strip("\"'") or None
    return mime.strip().lower(), charset


def _known_charset(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
