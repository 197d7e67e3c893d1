"""WARC input: pages, provenance, skipped and refused records, damaged files, limits.

Every WARC is written here, byte by byte, by a small builder that knows where each record starts, so
offsets are checked against the truth rather than against the reader. Nothing is mocked.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pytest

from corpusclean.config import load_config
from corpusclean.readers.discover import InputFile
from corpusclean.readers.records import Record, RecordError, make_doc_id, read_records
from corpusclean.readers.warc import is_warc

RUSSIAN = ("Вчера вечером городской совет собрался на внеочередное заседание, чтобы обсудить строительство новой "
           "дамбы. Жители прибрежных кварталов долго жаловались на подтопления, и депутаты выделили деньги. ")


def page(n: int, body: str | None = None, head: str = "") -> str:
    text = body or " ".join(f"Paragraph {j} of story {n}: the harbour council met again on Tuesday to discuss "
                            "the barrier plan, its cost and the timetable for the works." for j in range(6))
    return (f"<html><head>{head}<title>Story {n}</title></head><body><article><h1>Story {n}</h1>"
            f"<p>{text}</p></article></body></html>")


def warc_record(kind: str, uri: str | None, block: bytes, date: str = "2024-05-07T12:34:56Z",
                content_type: str | None = None, extra: tuple[str, ...] = ()) -> bytes:
    content_type = content_type or {"response": "application/http; msgtype=response",
                                    "request": "application/http; msgtype=request"}.get(kind, "application/warc-fields")
    lines = ["WARC/1.0", f"WARC-Type: {kind}", f"WARC-Record-ID: <urn:uuid:{abs(hash((kind, uri, block))):032x}>",
             f"WARC-Date: {date}", *( [f"WARC-Target-URI: {uri}"] if uri else []), f"Content-Type: {content_type}",
             *extra, f"Content-Length: {len(block)}"]
    return "\r\n".join(lines).encode() + b"\r\n\r\n" + block + b"\r\n\r\n"


def with_length(record: bytes, length: int) -> bytes:
    """``record`` with a Content-Length that lies."""
    header, _, rest = record.partition(b"\r\n\r\n")
    lines = [line if not line.startswith(b"Content-Length:") else f"Content-Length: {length}".encode()
             for line in header.split(b"\r\n")]
    return b"\r\n".join(lines) + b"\r\n\r\n" + rest


def http(body: bytes, content_type: str | None = "text/html; charset=utf-8", status: str = "200 OK",
         headers: tuple[str, ...] = ()) -> bytes:
    lines = [f"HTTP/1.1 {status}", *([f"Content-Type: {content_type}"] if content_type else []), *headers]
    return "\r\n".join(lines).encode() + b"\r\n\r\n" + body


def response(uri: str, body: bytes, **kwargs) -> bytes:
    return warc_record("response", uri, http(body, **kwargs))


@dataclass
class Warc:
    """A WARC under construction: its records, and each record's offset in the written file."""

    records: list[bytes] = field(default_factory=list)

    def add(self, record: bytes) -> int:
        self.records.append(record)
        return len(self.records) - 1

    def plain(self) -> tuple[bytes, list[int]]:
        offsets, position = [], 0
        for record in self.records:
            offsets.append(position)
            position += len(record)
        return b"".join(self.records), offsets

    def per_record_gzip(self) -> tuple[bytes, list[int]]:
        members = [gzip.compress(record, mtime=0) for record in self.records]
        offsets, position = [], 0
        for member in members:
            offsets.append(position)
            position += len(member)
        return b"".join(members), offsets


@pytest.fixture
def input_config() -> dict:
    return dict(load_config().section("input"))


def read(tmp_path: Path, name: str, data: bytes, config: dict) -> list[Record | RecordError]:
    path = tmp_path / name
    path.write_bytes(data)
    return list(read_records(InputFile(path, f"crawl/{name}", None), config))


def summary(items) -> list[tuple]:
    return [(item.record_offset, "page", item.hints.get("url")) if isinstance(item, Record)
            else (item.record_offset, item.stage, item.error_type) for item in items]


def mixed_crawl() -> tuple[Warc, dict[str, int]]:
    """warcinfo, request/response pairs, an image, a redirect, metadata: three pages among them."""
    warc, index = Warc(), {}
    warc.add(warc_record("warcinfo", None, b"software: test-builder\r\nformat: WARC File Format 1.0\r\n"))
    for n in (1, 2):
        warc.add(warc_record("request", f"https://news.example/{n}", b"GET /1 HTTP/1.1\r\nHost: news.example\r\n\r\n"))
        index[f"page{n}"] = warc.add(response(f"https://news.example/{n}", page(n).encode()))
        warc.add(warc_record("metadata", f"https://news.example/{n}", b"fetchTimeMs: 12\r\n"))
    index["image"] = warc.add(response("https://news.example/photo.png", b"\x89PNG\r\n\x1a\n" + bytes(300),
                                       content_type="image/png"))
    index["redirect"] = warc.add(response("https://news.example/old", b"<html>moved</html>",
                                          status="301 Moved Permanently", headers=("Location: /new",)))
    index["page3"] = warc.add(response("https://news.example/3", page(3).encode(), content_type="text/html"))
    return warc, index


# --------------------------------------------------------------------------- sniffing


def test_is_warc_by_content():
    record = warc_record("warcinfo", None, b"software: x\r\n")
    assert is_warc(record)
    assert is_warc(gzip.compress(record))
    assert not is_warc(b"<html><body>WARC/1.0</body></html>")
    assert not is_warc(gzip.compress(b"<html></html>"))
    assert not is_warc(b"\x1f\x8b\x08 not really gzip")


@pytest.mark.parametrize("name", ["crawl.warc", "crawl.dat", "crawl.html", "crawl.jsonl"])
def test_warc_is_sniffed_whatever_its_name(tmp_path, input_config, name):
    warc, index = mixed_crawl()
    data, offsets = warc.plain()
    items = read(tmp_path, name, data, input_config)
    assert [item.record_offset for item in items if isinstance(item, Record)] == [
        offsets[index["page1"]], offsets[index["page2"]], offsets[index["page3"]]]


# --------------------------------------------------------------------------- pages and provenance


@pytest.mark.parametrize("layout", ["plain", "per_record_gzip"])
def test_pages_errors_and_offsets(tmp_path, input_config, layout):
    warc, index = mixed_crawl()
    data, offsets = getattr(warc, layout)()
    name = "crawl.warc" if layout == "plain" else "crawl.warc.gz"
    items = read(tmp_path, name, data, input_config)
    assert summary(items) == [
        (offsets[index["page1"]], "page", "https://news.example/1"),
        (offsets[index["page2"]], "page", "https://news.example/2"),
        (offsets[index["image"]], "read", "not_html"),
        (offsets[index["redirect"]], "read", "http_status"),
        (offsets[index["page3"]], "page", "https://news.example/3"),
    ]
    first = items[0]
    assert first.container == "warc" and first.format == "html"
    assert first.hints == {"url": "https://news.example/1", "fetch_date": "2024-05-07"}
    assert first.doc_id == make_doc_id(f"crawl/{name}", offsets[index["page1"]], first.source_hash)
    assert "Story 1" in first.text and first.encoding == "ascii"
    image, redirect = items[2], items[3]
    assert "image/png" in image.message and "https://news.example/photo.png" in image.message
    assert "301" in redirect.message and "redirect" in redirect.message
    # the offset finds the record: in a .warc.gz, gunzipping the member there gives it back
    chunk = data[offsets[index["page2"]]:]
    if layout == "per_record_gzip":
        chunk = zlib.decompressobj(wbits=31).decompress(chunk)
    assert chunk.startswith(b"WARC/1.0\r\nWARC-Type: response") and b"https://news.example/2" in chunk[:400]


def test_whole_file_gzip_counts_offsets_in_the_decompressed_stream(tmp_path, input_config):
    warc, index = mixed_crawl()
    plain, offsets = warc.plain()
    items = read(tmp_path, "whole.warc.gz", gzip.compress(plain), input_config)
    pages = [item for item in items if isinstance(item, Record)]
    assert [p.record_offset for p in pages] == [offsets[index[k]] for k in ("page1", "page2", "page3")]
    assert {p.container for p in pages} == {"gzip+warc"}


def test_http_charset_is_the_declared_charset(tmp_path, input_config):
    cp1251 = page(1, RUSSIAN).encode("cp1251")
    meta_says_latin1 = page(2, RUSSIAN, head='<meta charset="iso-8859-1">').encode("cp1251")
    warc = Warc()
    warc.add(response("https://ru.example/1", cp1251, content_type="text/html; charset=windows-1251"))
    warc.add(response("https://ru.example/2", meta_says_latin1, content_type="text/html; charset=windows-1251"))
    warc.add(response("https://ru.example/3", cp1251, content_type="text/html"))
    items = read(tmp_path, "ru.warc", warc.plain()[0], input_config)
    assert [(i.encoding, i.encoding_evidence) for i in items] == [
        ("cp1251", "declared"), ("cp1251", "declared"), ("cp1251", "detected")]
    assert all(RUSSIAN.strip() in item.text for item in items)


def test_chunked_and_compressed_bodies_are_decoded(tmp_path, input_config):
    html = page(7, RUSSIAN).encode("utf-8")
    compressed = gzip.compress(html)
    chunked = b"".join(f"{len(compressed[i:i + 50]):x}\r\n".encode() + compressed[i:i + 50] + b"\r\n"
                       for i in range(0, len(compressed), 50)) + b"0\r\n\r\n"
    warc = Warc()
    warc.add(response("https://e.example/gzip-chunked", chunked,
                      headers=("Content-Encoding: gzip", "Transfer-Encoding: chunked")))
    warc.add(response("https://e.example/deflate", zlib.compress(html), headers=("Content-Encoding: deflate",)))
    raw = zlib.compressobj(wbits=-15)
    warc.add(response("https://e.example/raw-deflate", raw.compress(html) + raw.flush(),
                      headers=("Content-Encoding: deflate",)))
    brotli = pytest.importorskip("brotli")
    warc.add(response("https://e.example/br", brotli.compress(html), headers=("Content-Encoding: br",)))
    items = read(tmp_path, "enc.warc", warc.plain()[0], input_config)
    assert all(isinstance(item, Record) for item in items), items
    assert [item.text for item in items] == [html.decode()] * 4


@pytest.mark.parametrize("body, headers, content_type, error_type, words", [
    (b"\x1f\x8b\x08\x00" + b"not gzip at all" * 10, ("Content-Encoding: gzip",), "text/html",
     "bad_content_encoding", "declared gzip-encoded"),
    (b"whatever", ("Content-Encoding: zstd",), "text/html", "bad_content_encoding", "zstd"),
    (b"", (), "text/html", "empty", "empty body"),
    (b"%PDF-1.7\n%\xe2\xe3", (), "text/html", "binary", "PDF"),
    (b"plain words, no tags at all", (), "application/octet-stream", "not_html", "not HTML"),
    (b"{\"a\": 1}", (), "application/json", "not_html", "application/json"),
])
def test_responses_that_are_not_pages(tmp_path, input_config, body, headers, content_type, error_type, words):
    warc = Warc()
    warc.add(response("https://x.example/r", body, content_type=content_type, headers=headers))
    items = read(tmp_path, "r.warc", warc.plain()[0], input_config)
    assert len(items) == 1 and isinstance(items[0], RecordError)
    assert (items[0].stage, items[0].error_type, items[0].record_offset) == ("read", error_type, 0)
    assert words in items[0].message and "https://x.example/r" in items[0].message


def test_untyped_html_body_is_sniffed_as_a_page(tmp_path, input_config):
    warc = Warc()
    warc.add(response("https://x.example/untyped", page(1).encode(), content_type=None))
    warc.add(warc_record("response", "dns:x.example", b"20240507 x.example. 300 IN A 192.0.2.1\n",
                         content_type="text/dns"))
    items = read(tmp_path, "u.warc", warc.plain()[0], input_config)
    assert isinstance(items[0], Record)
    assert (items[1].error_type, "dns:x.example" in items[1].message) == ("not_html", True)


def test_warc_without_responses_is_one_error(tmp_path, input_config):
    warc = Warc()
    warc.add(warc_record("warcinfo", None, b"software: x\r\n"))
    warc.add(warc_record("request", "https://x.example/", b"GET / HTTP/1.1\r\n\r\n"))
    items = read(tmp_path, "info.warc", warc.plain()[0], input_config)
    assert summary(items) == [(0, "read", "no_pages")]
    assert "request 1" in items[0].message and "warcinfo 1" in items[0].message


def test_page_over_max_file_bytes_is_too_large_and_reading_goes_on(tmp_path, input_config):
    warc = Warc()
    warc.add(response("https://x.example/big", b"<html><body><p>" + b"word " * 60_000 + b"</p></body></html>"))
    last = warc.add(response("https://x.example/small", page(2).encode()))
    data, offsets = warc.plain()
    items = read(tmp_path, "big.warc", data, dict(input_config, max_file_bytes=100_000))
    assert summary(items) == [(0, "read", "too_large"), (offsets[last], "page", "https://x.example/small")]
    # a compressed body is capped while it is decoded
    warc = Warc()
    warc.add(response("https://x.example/zip", gzip.compress(b"<p>" + b"a" * 5_000_000), headers=("Content-Encoding: gzip",)))
    items = read(tmp_path, "zip.warc", warc.plain()[0], dict(input_config, max_file_bytes=100_000))
    assert summary(items) == [(0, "read", "too_large")]


# --------------------------------------------------------------------------- damaged files


def test_truncated_last_record(tmp_path, input_config):
    warc, index = mixed_crawl()
    data, offsets = warc.plain()
    cut = offsets[index["page3"]] + 300
    items = read(tmp_path, "cut.warc", data[:cut], input_config)
    assert summary(items)[-1] == (offsets[index["page3"]], "read", "truncated_warc")
    assert [s[2] for s in summary(items)[:-1]] == ["https://news.example/1", "https://news.example/2",
                                                    "not_html", "http_status"]
    assert "ends inside this record" in items[-1].message


def test_truncated_inside_a_header(tmp_path, input_config):
    warc, index = mixed_crawl()
    data, offsets = warc.plain()
    items = read(tmp_path, "cut.warc", data[:offsets[index["page3"]] + 40], input_config)
    assert summary(items)[-1] == (offsets[index["page3"]], "read", "truncated_warc")
    assert "header" in items[-1].message


def test_truncated_gzip_member(tmp_path, input_config):
    warc, index = mixed_crawl()
    data, offsets = warc.per_record_gzip()
    items = read(tmp_path, "cut.warc.gz", data[:offsets[index["page3"]] + 200], input_config)
    assert summary(items)[-1] == (offsets[index["page3"]], "read", "truncated_warc")
    assert len([i for i in items if isinstance(i, Record)]) == 2


@pytest.mark.parametrize("layout", ["plain", "per_record_gzip"])
def test_malformed_record_in_the_middle_is_skipped(tmp_path, input_config, layout):
    warc = Warc()
    first = warc.add(response("https://x.example/1", page(1).encode()))
    bad = warc.add(b"WARC/1.0\r\nWARC-Type: response\r\nnot a header line\r\nContent-Length: zz\r\n\r\nxxxx\r\n\r\n")
    after = warc.add(response("https://x.example/2", page(2).encode()))
    data, offsets = getattr(warc, layout)()
    items = read(tmp_path, "bad.warc", data, input_config)
    assert summary(items) == [(offsets[first], "page", "https://x.example/1"),
                              (offsets[bad], "read", "malformed_warc"),
                              (offsets[after], "page", "https://x.example/2")]
    assert "Content-Length" in items[1].message


def test_garbage_between_records_and_wrong_content_length(tmp_path, input_config):
    one, two, three = (response(f"https://x.example/{n}", page(n).encode()) for n in (1, 2, 3))
    items = read(tmp_path, "garbage.warc", one + b"garbage line\r\n" * 3 + two, input_config)
    assert summary(items) == [(0, "page", "https://x.example/1"), (len(one), "read", "malformed_warc"),
                              (len(one) + 42, "page", "https://x.example/2")]
    assert "no WARC record header" in items[1].message
    # a Content-Length too short: the record is refused, the next one is found again
    short = with_length(one, 1000)
    items = read(tmp_path, "short.warc", short + two + three, input_config)
    assert summary(items) == [(0, "read", "malformed_warc"), (len(short), "page", "https://x.example/2"),
                              (len(short) + len(two), "page", "https://x.example/3")]
    # a Content-Length running past the end of the file: truncated, and the records it swallowed are found
    long = with_length(one, 90_000)
    items = read(tmp_path, "long.warc", long + two + three, input_config)
    assert summary(items) == [(0, "read", "truncated_warc"), (len(long), "page", "https://x.example/2"),
                              (len(long) + len(two), "page", "https://x.example/3")]


def test_corrupt_gzip_member_is_skipped(tmp_path, input_config):
    warc = Warc()
    for n in (1, 2, 3):
        warc.add(response(f"https://x.example/{n}", page(n).encode()))
    data, offsets = warc.per_record_gzip()
    broken = bytearray(data)
    for i in range(offsets[1] + 30, offsets[1] + 60):
        broken[i] ^= 0x55
    items = read(tmp_path, "corrupt.warc.gz", bytes(broken), input_config)
    assert summary(items) == [(offsets[0], "page", "https://x.example/1"), (offsets[1], "read", "malformed_warc"),
                              (offsets[2], "page", "https://x.example/3")]
    assert "corrupt" in items[1].message


def test_gzip_bomb_member_stops_at_the_cap(tmp_path, input_config):
    warc = Warc()
    warc.add(response("https://x.example/1", page(1).encode()))
    warc.add(response("https://x.example/bomb", b"<p>" + b"a" * 3_000_000 + b"</p>"))
    warc.add(response("https://x.example/3", page(3).encode()))
    data, offsets = warc.per_record_gzip()
    assert len(data) < 20_000
    items = read(tmp_path, "bomb.warc.gz", data, dict(input_config, max_decompressed_bytes=1_000_000))
    assert summary(items) == [(offsets[0], "page", "https://x.example/1"), (offsets[1], "read", "decompression_limit"),
                              (offsets[2], "page", "https://x.example/3")]
    assert "1000000" in items[1].message


def test_unreadable_bytes_after_the_last_member(tmp_path, input_config):
    warc = Warc()
    warc.add(response("https://x.example/1", page(1).encode()))
    data, _ = warc.per_record_gzip()
    assert summary(read(tmp_path, "pad.warc.gz", data + b"\x00" * 100, input_config)) == [(0, "page", "https://x.example/1")]
    items = read(tmp_path, "junk.warc.gz", data + b"trailing junk", input_config)
    assert summary(items) == [(0, "page", "https://x.example/1"), (len(data), "read", "malformed_warc")]


# --------------------------------------------------------------------------- end to end


def test_cli_reads_a_warc_and_a_gzipped_jsonl(tmp_path):
    crawl = tmp_path / "crawl"
    crawl.mkdir()
    warc, index = mixed_crawl()
    (crawl / "pages.warc.gz").write_bytes(warc.per_record_gzip()[0])
    lines = [json.dumps({"text": " ".join(["The ferry service resumed on Monday after the storm."] * 4),
                         "url": "https://feed.example/1"}), "not json"]
    (crawl / "feed.jsonl.gz").write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    out = tmp_path / "out"
    completed = subprocess.run([sys.executable, "-m", "corpusclean", "run", str(crawl), "-o", str(out), "-q"],
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    documents = pl.read_parquet(out / "documents.parquet")
    errors = pl.read_parquet(out / "errors.parquet")
    warc_docs = documents.filter(pl.col("container") == "warc")
    assert sorted(warc_docs["url"]) == ["https://news.example/1", "https://news.example/2", "https://news.example/3"]
    assert sorted(warc_docs["title"]) == ["Story 1", "Story 2", "Story 3"]
    assert documents.filter(pl.col("container") == "jsonl")["url"].to_list() == ["https://feed.example/1"]
    assert sorted(zip(errors["source_path"], errors["error_type"])) == [
        ("crawl/feed.jsonl.gz", "bad_json"), ("crawl/pages.warc.gz", "http_status"), ("crawl/pages.warc.gz", "not_html")]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["inputs"] == documents.height + errors.height == 7
