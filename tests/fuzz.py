"""Property fuzzing of corpusclean's input side and text core, far past what the unit tests run.

    python tests/fuzz.py --cases 100000          # (make fuzz) split over the targets below
    python tests/fuzz.py --cases 2000 --only decode_bytes,read_records

Targets and their properties (the first three as defined in tests/test_text.py):

* ``normalize_idempotent`` -- ``normalize(normalize(t)) == normalize(t)``;
* ``normalize_keeps_letters`` -- normalization never drops or reorders a letter or digit (compared
  after NFKD, combining marks aside);
* ``segmentation`` -- joining the rejoined paragraphs gives back the normalized text, every unit in
  order, exactly once; also from raw multi-line text through ``split_units``;
* ``text_parser`` -- the text/Markdown parser never raises, on plain text (whose plain words it keeps)
  and on Markdown-heavy text;
* ``decode_bytes`` -- on any bytes and any declared charset it returns text or raises
  :class:`~corpusclean.errors.InputError`, nothing else;
* ``read_records`` -- on any file (random bytes, gzip, truncated gzip, JSONL, damaged WARC, under any
  name) it never raises, yields only records and error rows, with unique offsets, stable ids and
  text that can be written (no lone surrogates);
* ``minhash`` -- a signature depends on the set of shingle hashes only: order and repeats do not
  matter, equal sets give equal signatures, the empty set gives the empty signature;
* ``rules_engine`` -- the chrome rules decide exactly the same with and without their first pass on
  the Rust regex engine (``engine_hits``, with its required-literal filters), on lines made of the
  rules' own literals, news words and the characters where case folding and Unicode classes of the
  two engines could differ.

Each target is a hypothesis test called directly with ``settings(max_examples=N, database=None,
deadline=None)``; the count printed is the number of cases each really ran. Exit status 1 when any
property fails (hypothesis prints the shrunk falsifying example and how to reproduce it).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
import traceback
import unicodedata
from collections import Counter
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from corpusclean.config import configs_dir, load_config
from corpusclean.dedup.minhash import MAX_HASH, signatures
from corpusclean.errors import InputError
from corpusclean.extractors.text import parse_text
from corpusclean.filters.literals import required_literals
from corpusclean.filters.rules import apply_rules, engine_hits, load_packs
from corpusclean.readers.decode import decode_bytes
from corpusclean.readers.discover import InputFile
from corpusclean.readers.records import Record, RecordError, make_doc_id, read_records
from corpusclean.text.normalize import faithful, normalize
from corpusclean.text.segment import rejoin_broken, split_units

RAN: Counter[str] = Counter()

# --------------------------------------------------------------------------- strategies

# Text with the characters normalization cares about mixed into ordinary ones (as tests/test_text.py).
_TRICKY = st.sampled_from(list("\u00a0\u200b\u2060\ufeff\u00ad\u201c\u201d\u2018\u2019\u2014\u2013\u2212\u2033"
                               "\u0301\u0308\ufb01\uff21\u2126\u00ab\u00bb\t\n\r \u3000\u2009\u0345\u1100\u1161"
                               "\u00c5\u212b\u0387\u037e\u2028\u2029\x85\x0b\x0c\x1c\x1f\x7f\u0600\ufdfa"))
_TEXT = st.lists(st.one_of(st.characters(blacklist_categories=("Cs",)), _TRICKY), max_size=120).map("".join)
_MARKDOWN = st.lists(st.one_of(st.sampled_from(list("*_[]()!#-`>\n \t")), st.sampled_from(["**", "__", "](", "![", "# ",
                                                                                        "date 2024-01-31 ", "http://x.y"]),
                               st.characters(blacklist_categories=("Cs",))), max_size=150).map("".join)
_CHARSETS = st.sampled_from([None, "utf-8", "ascii", "cp1251", "windows-1252", "iso-8859-1", "koi8-r", "utf-16",
                             "utf-32", "shift_jis", "gb18030", "big5", "euc-kr", "cp1250", "iso-8859-7", "no-such-charset",
                             "x-user-defined", "utf-7", "mac-roman", ""])
_BOMS = st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"])


@st.composite
def _encoded_text(draw) -> bytes:
    text = draw(_TEXT)
    encoding = draw(st.sampled_from(["utf-8", "cp1251", "latin-1", "utf-16", "koi8-r", "shift_jis"]))
    return text.encode(encoding, "replace")


_BYTES = st.one_of(st.binary(max_size=600), _encoded_text(),
                   st.tuples(_BOMS, st.binary(max_size=300)).map(lambda parts: b"".join(parts)))


def _warc_record(kind: str, uri: str, block: bytes, length: int | None = None) -> bytes:
    header = (f"WARC/1.0\r\nWARC-Type: {kind}\r\nWARC-Date: 2024-05-07T12:00:00Z\r\nWARC-Target-URI: {uri}\r\n"
              f"Content-Length: {len(block) if length is None else length}\r\n\r\n")
    return header.encode() + block + b"\r\n\r\n"


@st.composite
def _warc(draw) -> bytes:
    """A WARC of a few records with random HTTP parts, maybe gzipped per record or whole, maybe damaged."""
    records = []
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["response", "response", "request", "warcinfo", "metadata", "revisit", "bogus"]))
        status = draw(st.sampled_from(["200 OK"] * 5 + ["301 Moved", "404 Not Found", "999", "", "abc"]))
        content_type = draw(st.sampled_from(["text/html", "text/html; charset=cp1251", "image/png", "",
                                             "application/octet-stream", "text/html; charset=nonsense"]))
        extra = draw(st.sampled_from(["", "Content-Encoding: gzip\r\n", "Content-Encoding: br\r\n",
                                      "Transfer-Encoding: chunked\r\n", "Content-Encoding: deflate\r\n"]))
        body = draw(st.one_of(st.binary(max_size=200), _TEXT.map(lambda t: f"<html><body><p>{t}</p></body></html>".encode(
            "utf-8", "surrogatepass"))))
        if "gzip" in extra and draw(st.booleans()):
            body = gzip.compress(body)
        block = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n{extra}\r\n".encode() + body
        length = draw(st.one_of(st.none(), st.none(), st.none(), st.integers(0, len(block) + 50)))
        records.append(_warc_record(kind, draw(st.sampled_from(["https://x.example/a", "dns:x.example", ""])), block,
                                    length))
    layout = draw(st.sampled_from(["plain", "per_record", "whole"]))
    if layout == "per_record":
        data = b"".join(gzip.compress(r) for r in records)
    elif layout == "whole":
        data = gzip.compress(b"".join(records))
    else:
        data = b"".join(records)
    if not data.startswith(b"WARC") and layout == "plain":
        data = b"WARC/1.0\r\n" + data
    damage = draw(st.sampled_from(["none", "none", "none", "truncate", "flip", "insert"]))
    if damage != "none" and data:
        at = draw(st.integers(0, len(data)))
        if damage == "truncate":
            data = data[:at]
        elif damage == "flip":
            data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1:]
        else:
            data = data[:at] + draw(st.binary(min_size=1, max_size=40)) + data[at:]
    return data


@st.composite
def _jsonl(draw) -> bytes:
    lines = []
    for _ in range(draw(st.integers(0, 6))):
        choice = draw(st.sampled_from(["object", "object", "broken", "array", "bytes", "blank"]))
        if choice == "object":
            keys = [draw(st.sampled_from(["text", "text", "html", "body"]))]
            keys += draw(st.lists(st.sampled_from(["text", "html", "url", "title", "date", "outlet", "body"]), max_size=3))
            value = st.one_of(_TEXT, st.integers(), st.none(), st.just("\ud800 lone surrogate"))
            obj = {key: draw(value) for key in keys}
            lines.append(json.dumps(obj, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass"))
        elif choice == "broken":
            lines.append(draw(_TEXT).encode("utf-8", "surrogatepass"))
        elif choice == "array":
            lines.append(b"[1, 2, 3]")
        elif choice == "bytes":
            lines.append(b'{"text": "' + draw(st.binary(max_size=80)).replace(b'"', b"") + b'"}')
        else:
            lines.append(b"   ")
    data = b"\n".join(lines)
    return gzip.compress(data) if draw(st.booleans()) else data


@st.composite
def _file(draw) -> tuple[str, bytes]:
    content = draw(st.one_of(
        st.binary(max_size=800),
        _encoded_text(),
        _MARKDOWN.map(lambda t: t.encode("utf-8", "surrogatepass")),
        _TEXT.map(lambda t: f"<html><head><meta charset='cp1252'></head><body>{t}</body></html>".encode(
            "utf-8", "surrogatepass")),
        st.binary(max_size=400).map(gzip.compress),
        st.binary(min_size=1, max_size=400).map(lambda b: gzip.compress(b)[: max(1, len(b) // 2)]),
        _jsonl(),
        _warc(),
        st.sampled_from([b"", b" \n\t", b"\x89PNG\r\n\x1a\n" + bytes(20), b"%PDF-1.4", b"\x1f\x8b", b"WARC/1.",
                         b"WARC/1.0\r\n", b"\xff\xfe", b"\x00" * 30]),
    ))
    suffix = draw(st.sampled_from([".html", ".htm", ".txt", ".md", ".jsonl", ".ndjson", ".html.gz", ".jsonl.gz", ".warc",
                                   ".warc.gz", ".bin", ""]))
    return suffix, content


# --------------------------------------------------------------------------- targets


def _letters_and_digits(text: str) -> list[str]:
    decomposed = unicodedata.normalize("NFKD", text)
    return [c for c in decomposed if c.isalnum() and not unicodedata.category(c).startswith("M")]


@given(_TEXT)
def normalize_idempotent(text: str) -> None:
    RAN["normalize_idempotent"] += 1
    once = normalize(text)
    assert normalize(once) == once, (text, once)


@given(_TEXT)
def normalize_keeps_letters(text: str) -> None:
    RAN["normalize_keeps_letters"] += 1
    assert _letters_and_digits(normalize(text)) == _letters_and_digits(text), text


@given(st.lists(st.text(alphabet=st.sampled_from(list("abc ABC.,;:!?\"'\u00a0\u2014-")), min_size=1, max_size=30),
                max_size=12), _TEXT)
def segmentation(paragraphs: list[str], raw: str) -> None:
    RAN["segmentation"] += 1
    units = [normalize(p) for p in paragraphs if normalize(p)]
    joined = rejoin_broken(units)
    assert " ".join(text for text, _ in joined) == " ".join(units)
    assert [i for _, sources in joined for i in sources] == list(range(len(units)))
    lines = [unit.text for unit in split_units(raw)]
    assert all(line and faithful(line) == line for line in lines)  # units are in the stored form
    assert " ".join(text for text, _ in rejoin_broken(lines)) == " ".join(lines)


@given(st.text(max_size=200), _MARKDOWN, st.booleans())
def text_parser(text: str, markdown_text: str, markdown: bool) -> None:
    RAN["text_parser"] += 1
    parsed = parse_text(text, markdown=True)
    assert isinstance(parsed.body, str)
    for word in text.split():  # words outside any markup survive
        if word.isalpha():
            assert word in parsed.body or word.lower() == "date", (word, text, parsed.body)
    parsed = parse_text(markdown_text, markdown=markdown)
    assert isinstance(parsed.body, str) and all(isinstance(t, str) and isinstance(r, str) for t, r in parsed.removed)


@given(_BYTES, _CHARSETS)
def decode_bytes_target(data: bytes, declared: str | None) -> None:
    RAN["decode_bytes"] += 1
    try:
        text, encoding, evidence = decode_bytes(data, declared)
    except InputError as error:
        assert error.stage == "decode" and error.message
        return
    assert isinstance(text, str) and isinstance(encoding, str) and isinstance(evidence, str)
    if evidence in ("utf-8", "ascii"):
        assert text.encode("utf-8") == data


_FUZZ_DIR = Path(tempfile.mkdtemp(prefix="corpusclean-fuzz-"))
_INPUT_CONFIG = dict(load_config().section("input"), max_file_bytes=200_000, max_decompressed_bytes=300_000)


@given(_file())
def read_records_target(case: tuple[str, bytes]) -> None:
    RAN["read_records"] += 1
    suffix, content = case
    path = _FUZZ_DIR / f"input{suffix}"
    path.write_bytes(content)
    source = f"fuzz/input{suffix}"
    items = list(read_records(InputFile(path, source, "outlet"), _INPUT_CONFIG))
    assert items, "a file must give at least one record or error row"
    offsets = [item.record_offset for item in items]
    assert len(set(offsets)) == len(offsets), offsets
    for item in items:
        assert isinstance(item, (Record, RecordError)), item
        content = item.source_hash if isinstance(item, Record) else ""
        assert item.source_path == source and item.doc_id == make_doc_id(source, item.record_offset, content)
        if isinstance(item, Record):
            item.text.encode("utf-8")  # writable: no lone surrogates
            assert item.text.strip() and item.format in ("html", "text", "markdown")
            assert all(isinstance(v, str) and (v.encode("utf-8") or True) for v in item.hints.values())
        else:
            assert item.stage and item.error_type and item.message and "\n" not in item.error_type


_HASHES = st.lists(st.integers(0, int(MAX_HASH)), max_size=120)


@given(_HASHES, st.randoms(use_true_random=False), st.sampled_from([8, 64, 128]), st.integers(0, 2**31 - 1))
def minhash(hashes: list[int], rng, num_perm: int, seed: int) -> None:
    RAN["minhash"] += 1
    unique = sorted(set(hashes))
    shuffled = list(hashes)
    rng.shuffle(shuffled)
    repeated = shuffled + [rng.choice(hashes) for _ in range(len(hashes) // 2)] if hashes else []
    arrays = [np.array(values, dtype=np.uint64) for values in (unique, shuffled, repeated)]
    offsets = np.cumsum([0] + [len(a) for a in arrays])
    result = signatures(offsets, np.concatenate(arrays), num_perm=num_perm, seed=seed)
    assert result.shape == (3, num_perm)
    assert (result[0] == result[1]).all() and (result[0] == result[2]).all()
    if not hashes:
        assert (result == MAX_HASH).all()
    # one text at a time gives the same rows as a batch
    alone = signatures(np.array([0, len(unique)]), np.array(unique, dtype=np.uint64), num_perm=num_perm, seed=seed)
    assert (alone[0] == result[0]).all()


_PACKS, _ = load_packs(configs_dir() / "generic_rules.toml", configs_dir() / "sites")
_RULES = [rule for pack in _PACKS for rule in pack.rules]
_FRAGMENTS = sorted({literal for rule in _RULES
                     for literal in (required_literals(rule.pattern.pattern, True) or ())} | {
    "By", "Jane Doe", "Example News", "June 06, 2017", "2026-03-14", "12:30", "8950", "views", "©", "Reuters/",
    "Photo:", "Tags:", "[VIDEO]", "|", ":", ".", ",", "-", "ſ", "K", "İ", "ß", "ẞ", "e\u0301", "١٢٣", "Ω",
    "the council said on Tuesday", "x" * 90})
_LINE = st.lists(st.sampled_from(_FRAGMENTS) | st.text(max_size=8), min_size=1, max_size=7).map(" ".join)


@given(st.lists(_LINE.map(normalize).filter(bool), min_size=1, max_size=25))
def rules_engine(lines: list[str]) -> None:
    RAN["rules_engine"] += 1
    hits = engine_hits([lines], _RULES)[0]
    plain = apply_rules(lines, _PACKS, disabled=())
    fast = apply_rules(lines, _PACKS, disabled=(), hits=hits)
    assert (fast.kept, fast.kept_idx, fast.removed, fast.date) == (plain.kept, plain.kept_idx, plain.removed,
                                                                   plain.date), lines


TARGETS = {
    # name: (test, weight); weights favour the cheap pure-text targets, the file target gets a tenth
    "normalize_idempotent": (normalize_idempotent, 0.2),
    "normalize_keeps_letters": (normalize_keeps_letters, 0.15),
    "segmentation": (segmentation, 0.15),
    "text_parser": (text_parser, 0.15),
    "decode_bytes": (decode_bytes_target, 0.1),
    "read_records": (read_records_target, 0.1),
    "minhash": (minhash, 0.15),
    "rules_engine": (rules_engine, 0.08),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000, help="cases in total, split over the targets")
    parser.add_argument("--only", default="", help="comma-separated targets (default: all): " + ", ".join(TARGETS))
    args = parser.parse_args(argv)
    chosen = [name for name in (args.only.split(",") if args.only else TARGETS) if name]
    unknown = [name for name in chosen if name not in TARGETS]
    if unknown:
        parser.error(f"unknown target(s): {', '.join(unknown)}")
    weight = sum(TARGETS[name][1] for name in chosen)
    failed = []
    started = time.perf_counter()
    for name in chosen:
        test, share = TARGETS[name]
        examples = max(1, round(args.cases * share / weight))
        clock = time.perf_counter()
        runner = settings(max_examples=examples, database=None, deadline=None, print_blob=True,
                          suppress_health_check=list(HealthCheck))(test)
        try:
            runner()
            status = "ok"
        except Exception:  # noqa: BLE001 - report every failing target, then fail
            status = "FAILED"
            failed.append(name)
            traceback.print_exc()
        print(f"{name:<24} {RAN[name]:>8,} cases  {time.perf_counter() - clock:7.1f} s  {status}", flush=True)
    total = sum(RAN[name] for name in chosen)
    print(f"{'total':<24} {total:>8,} cases  {time.perf_counter() - started:7.1f} s  "
          f"{'FAILED: ' + ', '.join(failed) if failed else 'ok'}")
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        for leftover in _FUZZ_DIR.iterdir():
            leftover.unlink()
        _FUZZ_DIR.rmdir()
