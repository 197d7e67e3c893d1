"""Readers: bytes to text (decode), files to records (records), arguments to files (discover).

Every input is built in ``tmp_path`` at test time; nothing is mocked.
"""

from __future__ import annotations

import codecs
import gzip
import json
from pathlib import Path

import pytest

from corpusclean.config import load_config
from corpusclean.errors import UsageError
from corpusclean.readers.decode import declared_charset, decode_bytes
from corpusclean.readers.discover import InputFile, discover
from corpusclean.readers.records import Record, RecordError, make_doc_id, read_records

RUSSIAN = (
    "Вчера вечером городской совет собрался на внеочередное заседание, чтобы обсудить строительство новой дамбы. "
    "Жители прибрежных кварталов долго жаловались на подтопления, и депутаты наконец выделили деньги на проект. "
    "По словам мэра, работы начнутся весной и продлятся около двух лет, а подрядчика выберут на открытом конкурсе. "
    "Противники стройки считают, что смета завышена, и требуют независимой экспертизы."
)
GERMAN = (
    "Der Stadtrat hat am Donnerstag über den Bau eines neuen Deichs abgestimmt. Die Bewohner der Küstenviertel "
    "klagten seit Jahren über Überschwemmungen. Laut Bürgermeisterin beginnen die Arbeiten im Frühjahr und dauern "
    "etwa zwei Jahre; die Baufirma wird öffentlich ausgeschrieben. Gegner halten die Kosten für übertrieben groß."
)
FRENCH = (
    "Le maire a présenté mercredi le budget de l'année prochaine. Les élus de l'opposition ont critiqué la hausse des "
    "impôts locaux, qui atteindra près de trois pour cent. Selon la préfecture, la ville doit rembourser une dette "
    "contractée il y a dix ans pour rénover la gare et le théâtre. Le vote définitif aura lieu à la fin du mois, après "
    "une réunion publique très attendue."
)
# An ordinary French news paragraph with 'è' that charset-normalizer ranks as cp1250 (è -> č).
FRENCH_GREVE = (
    "Après trois jours de grève, les cheminots ont repris le travail. Le ministre a salué « un accord équilibré » et "
    "promis une hausse des salaires dès la rentrée. Les syndicats restent méfiants."
)


@pytest.fixture
def input_config() -> dict:
    return dict(load_config().section("input"))


def _write(tmp_path: Path, name: str, data: bytes) -> InputFile:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return InputFile(path, f"raw/outlet/{name}", "outlet")


def _read(tmp_path: Path, name: str, data: bytes, config: dict) -> list[Record | RecordError]:
    return list(read_records(_write(tmp_path, name, data), config))


def _single_error(items: list) -> RecordError:
    assert len(items) == 1, items
    assert isinstance(items[0], RecordError), items[0]
    return items[0]


def _single_record(items: list) -> Record:
    assert len(items) == 1, items
    assert isinstance(items[0], Record), items[0]
    return items[0]


# --------------------------------------------------------------------------- decode_bytes


def test_decode_utf8():
    text = "Привет, мир. Grüße, café — 東京"
    assert decode_bytes(text.encode("utf-8")) == (text, "utf-8", "utf-8")


def test_decode_pure_ascii():
    assert decode_bytes(b"Plain ASCII news.") == ("Plain ASCII news.", "ascii", "ascii")


def test_decode_undeclared_cp1251_russian_is_detected():
    assert len(RUSSIAN) >= 300
    text, encoding, evidence = decode_bytes(RUSSIAN.encode("cp1251"))
    assert text == RUSSIAN
    assert encoding == "cp1251"
    assert evidence == "detected"


@pytest.mark.parametrize("source_encoding", ["latin-1", "cp1252"])
@pytest.mark.parametrize("original", [GERMAN, FRENCH], ids=["german", "french"])
def test_decode_undeclared_western_text(original, source_encoding):
    text, encoding, evidence = decode_bytes(original.encode(source_encoding))
    assert evidence == "detected"
    # Several single-byte code pages decode these particular letters identically; the text is what counts.
    assert text == original, f"decoded as {encoding}"


@pytest.mark.parametrize("source_encoding", ["latin-1", "cp1252"])
def test_decode_undeclared_french_with_grave_accents(source_encoding):
    text, encoding, evidence = decode_bytes(FRENCH_GREVE.encode(source_encoding))
    assert text == FRENCH_GREVE, f"decoded as {encoding}: {text[:40]!r}"


def test_decode_declared_windows_1251_in_meta():
    page = ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1251">'
            f"<title>Новости</title></head><body><p>{RUSSIAN}</p></body></html>")
    data = page.encode("cp1251")
    declared = declared_charset(data)
    assert declared == "cp1251"
    assert decode_bytes(data, declared) == (page, "cp1251", "declared")


def test_declared_charset_forms():
    assert declared_charset(b'<html><head><meta charset="utf-8"></head>') == "utf-8"
    assert declared_charset(b"<?xml version='1.0' encoding='ISO-8859-1'?><rss/>") == "iso8859-1"
    assert declared_charset(b'<meta charset="no-such-charset">') is None
    assert declared_charset(b"<html><body>no declaration</body></html>") is None


def test_decode_wrong_latin1_declaration_on_utf8_cyrillic():
    page = ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"></head>'
            f"<body><p>{RUSSIAN}</p></body></html>")
    data = page.encode("utf-8")
    assert declared_charset(data) == "iso8859-1"
    assert decode_bytes(data, declared_charset(data)) == (page, "utf-8", "utf-8")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_decode_utf16_with_bom(encoding):
    text = "Привет, мир. Hello."
    bom = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}.get(encoding, b"")
    decoded, used, evidence = decode_bytes(bom + text.encode(encoding))
    assert decoded == text
    assert used == "utf-16"
    assert evidence == "bom"


def test_decode_utf8_bom_is_stripped():
    assert decode_bytes(codecs.BOM_UTF8 + "Привет".encode()) == ("Привет", "utf-8-sig", "bom")


# --------------------------------------------------------------------------- read_records


def test_plain_text_file(tmp_path, input_config):
    record = _single_record(_read(tmp_path, "note.txt", b"The council met on Monday.\n", input_config))
    assert record.format == "text"
    assert record.container == "file"
    assert record.text == "The council met on Monday.\n"
    assert record.record_offset == 0
    assert record.source_path == "raw/outlet/note.txt"
    assert record.folder_outlet == "outlet"
    assert record.doc_id == make_doc_id("raw/outlet/note.txt", 0, record.source_hash)
    assert record.hints == {}


def test_markdown_file(tmp_path, input_config):
    record = _single_record(_read(tmp_path, "story.md", b"# Flood\n\nThe river rose overnight.\n", input_config))
    assert record.format == "markdown"


def test_html_file(tmp_path, input_config):
    record = _single_record(_read(tmp_path, "story.html",
                                  b"<!DOCTYPE html><html><body><p>The river rose.</p></body></html>", input_config))
    assert record.format == "html"
    assert record.container == "file"


def test_html_file_with_declared_cp1251(tmp_path, input_config):
    page = f'<html><head><meta charset="windows-1251"></head><body><p>{RUSSIAN}</p></body></html>'
    record = _single_record(_read(tmp_path, "ru.html", page.encode("cp1251"), input_config))
    assert (record.text, record.encoding, record.encoding_evidence) == (page, "cp1251", "declared")


def test_png_named_html_is_binary(tmp_path, input_config):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256))
    error = _single_error(_read(tmp_path, "photo.html", png, input_config))
    assert (error.stage, error.error_type) == ("read", "binary")
    assert "PNG" in error.message
    assert error.record_offset == 0
    assert error.doc_id == make_doc_id("raw/outlet/photo.html", 0)


def test_pdf_is_binary(tmp_path, input_config):
    error = _single_error(_read(tmp_path, "report.txt", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", input_config))
    assert (error.stage, error.error_type) == ("read", "binary")
    assert "PDF" in error.message


def test_nul_bytes_are_binary(tmp_path, input_config):
    error = _single_error(_read(tmp_path, "blob.txt", b"abc\x00def\x00" * 10, input_config))
    assert error.error_type == "binary"


@pytest.mark.parametrize("data, message", [(b"", "file is empty"), (b"  \n\t \r\n ", "file holds only white space")])
def test_empty_and_whitespace_files(tmp_path, input_config, data, message):
    error = _single_error(_read(tmp_path, "blank.html", data, input_config))
    assert (error.stage, error.error_type, error.message) == ("read", "empty", message)


def test_unicode_whitespace_only_is_empty(tmp_path, input_config):
    error = _single_error(_read(tmp_path, "nbsp.txt", "\u00a0\u2003\n".encode("utf-8"), input_config))
    assert error.error_type == "empty"


def test_html_gz_is_decompressed(tmp_path, input_config):
    page = "<html><body><p>Штормовое предупреждение.</p></body></html>"
    record = _single_record(_read(tmp_path, "story.html.gz", gzip.compress(page.encode("utf-8")), input_config))
    assert record.container == "gzip"
    assert record.format == "html"
    assert record.text == page
    assert record.encoding == "utf-8"


def test_multi_member_gzip_is_read_whole(tmp_path, input_config):
    data = gzip.compress(b"First part of the story. ") + gzip.compress(b"Second part of the story.")
    record = _single_record(_read(tmp_path, "two.txt.gz", data, input_config))
    assert record.text == "First part of the story. Second part of the story."


def test_truncated_gzip(tmp_path, input_config):
    payload = " ".join(f"Paragraph {i} of a long article about the harbour." for i in range(2000)).encode()
    compressed = gzip.compress(payload)
    error = _single_error(_read(tmp_path, "cut.html.gz", compressed[: len(compressed) // 2], input_config))
    assert error.stage == "read"
    assert error.error_type in {"truncated_gzip", "corrupt_gzip"}


def test_gzip_bomb_stops_at_decompression_limit(tmp_path, input_config):
    config = dict(input_config, max_decompressed_bytes=10_000)
    error = _single_error(_read(tmp_path, "bomb.txt.gz", gzip.compress(b"0" * 1_000_000), config))
    assert (error.stage, error.error_type) == ("read", "decompression_limit")
    assert "10000" in error.message


def test_gzip_at_the_limit_is_accepted(tmp_path, input_config):
    payload = b"x" * 10_000
    config = dict(input_config, max_decompressed_bytes=10_000)
    record = _single_record(_read(tmp_path, "edge.txt.gz", gzip.compress(payload), config))
    assert record.text == payload.decode()


def test_file_over_max_file_bytes(tmp_path, input_config):
    config = dict(input_config, max_file_bytes=100)
    error = _single_error(_read(tmp_path, "big.txt", b"word " * 100, config))
    assert (error.stage, error.error_type) == ("read", "too_large")


def test_txt_with_html_tags_is_sniffed_as_html(tmp_path, input_config):
    record = _single_record(_read(tmp_path, "page.txt",
                                  b"Saved page\n<div class='story'><p>The river rose.</p></div>\n", input_config))
    assert record.format == "html"


def test_utf16_html_file_is_html(tmp_path, input_config):
    page = "<html><body><p>Привет, мир.</p></body></html>"
    record = _single_record(_read(tmp_path, "u16.html", page.encode("utf-16"), input_config))
    assert record.text == page
    assert record.format == "html"


def test_utf32_be_text_file_is_read(tmp_path, input_config):
    text = "Городской совет проголосовал."
    data = codecs.BOM_UTF32_BE + text.encode("utf-32-be")
    record = _single_record(_read(tmp_path, "u32.txt", data, input_config))
    assert record.text == text


def _jsonl_lines() -> list[bytes]:
    good = {"text": "The harbour reopened on Tuesday.", "url": "https://example.org/harbour",
            "title": "Harbour reopens", "date": "2024-05-07", "outlet": ""}
    return [
        json.dumps(good).encode() + b"\n",
        b"this line is {not JSON\n",
        json.dumps({"body": "no text field here", "url": "https://example.org/x"}).encode() + b"\n",
    ]


def test_jsonl_records_errors_and_offsets(tmp_path, input_config):
    lines = _jsonl_lines()
    items = _read(tmp_path, "feed.jsonl", b"".join(lines), input_config)
    assert [type(item).__name__ for item in items] == ["Record", "RecordError", "RecordError"]
    record, bad_json, missing = items
    assert record.record_offset == 0
    assert record.container == "jsonl"
    assert record.format == "text"
    assert record.text == "The harbour reopened on Tuesday."
    assert record.hints == {"url": "https://example.org/harbour", "title": "Harbour reopens", "date": "2024-05-07"}
    assert (bad_json.stage, bad_json.error_type) == ("read", "bad_json")
    assert bad_json.record_offset == len(lines[0])
    assert (missing.stage, missing.error_type) == ("read", "missing_field")
    assert missing.record_offset == len(lines[0]) + len(lines[1])
    assert "'text'" in missing.message
    ids = [item.doc_id for item in items]
    assert len(set(ids)) == 3
    assert ids[1] == make_doc_id("raw/outlet/feed.jsonl", len(lines[0]))  # an error: no content read


def test_jsonl_html_field_and_blank_lines(tmp_path, input_config):
    first = json.dumps({"html": "<p>Storm warning for the coast.</p>", "text": "ignored"}).encode() + b"\n"
    data = first + b"\n   \n" + json.dumps({"text": "Second story."}).encode() + b"\r\n"
    items = _read(tmp_path, "mixed.jsonl", data, input_config)
    assert all(isinstance(item, Record) for item in items)
    assert [(item.format, item.text) for item in items] == [("html", "<p>Storm warning for the coast.</p>"),
                                                            ("text", "Second story.")]
    assert items[1].record_offset == len(first) + len(b"\n   \n")


def test_jsonl_non_object_line(tmp_path, input_config):
    error = _single_error(_read(tmp_path, "list.jsonl", b'["a", "b"]\n', input_config))
    assert error.error_type == "bad_json"


def test_jsonl_gz(tmp_path, input_config):
    data = gzip.compress(json.dumps({"text": "Gzipped line."}).encode() + b"\n")
    record = _single_record(_read(tmp_path, "feed.jsonl.gz", data, input_config))
    assert record.text == "Gzipped line."
    assert record.format == "text"


def test_json_document_object_is_one_record(tmp_path, input_config):
    data = json.dumps({"html": "<p>Storm warning for the coast.</p>", "url": "https://example.org/storm"},
                      indent=2).encode()
    record = _single_record(_read(tmp_path, "storm.json", data, input_config))
    assert (record.format, record.container, record.record_offset) == ("html", "json", 0)
    assert record.text == "<p>Storm warning for the coast.</p>"
    assert record.hints == {"url": "https://example.org/storm"}


def test_json_document_array_is_a_record_per_object(tmp_path, input_config):
    data = json.dumps([{"text": "First story."}, "not an object", {"text": "Third story.", "title": "Third"},
                       {"body": "no text field"}]).encode()
    items = _read(tmp_path, "export.json.gz", gzip.compress(data), input_config)
    assert [type(item).__name__ for item in items] == ["Record", "RecordError", "Record", "RecordError"]
    assert [item.record_offset for item in items] == [0, 1, 2, 3]  # the index in the array
    assert [(items[0].text, items[2].text)] == [("First story.", "Third story.")]
    assert items[2].hints == {"title": "Third"}
    assert (items[1].error_type, items[3].error_type) == ("bad_json", "missing_field")
    assert len({item.doc_id for item in items}) == 4


def test_json_answer_key_beside_pages_is_an_error_not_a_page(tmp_path, input_config):
    """An object without a text or html field (an answer key, a config file) was read as a text
    document of its keys and numbers before: now it is one errors row saying what it is not."""
    key = {"removals": [{"doc": 0, "text": 5}], "pairs": [[0, 1], [1, 2]], "version": 3}
    error = _single_error(_read(tmp_path, "expected.json", json.dumps(key).encode(), input_config))
    assert (error.stage, error.error_type) == ("read", "missing_field")
    assert "not a page record" in error.message


@pytest.mark.parametrize("data, expected", [(b'{"text": "unterminated', "bad_json"), (b"42", "bad_json")])
def test_json_document_not_an_object_or_list(tmp_path, input_config, data, expected):
    error = _single_error(_read(tmp_path, "broken.json", data, input_config))
    assert error.error_type == expected
    assert error.record_offset == 0


def test_jsonl_line_with_cp1251_bytes_is_decoded(tmp_path, input_config):
    sentence = "Городской совет проголосовал за строительство новой дамбы на берегу залива."
    line = b'{"text": "' + sentence.encode("cp1251") + b'", "url": "https://example.org/ru"}\n'
    record = _single_record(_read(tmp_path, "ru.jsonl", line, input_config))
    assert record.text == sentence
    assert record.hints == {"url": "https://example.org/ru"}
    assert record.encoding == "cp1251"
    assert record.encoding_evidence == "detected"


def test_doc_ids_are_stable(tmp_path, input_config):
    assert make_doc_id("raw/a/b.html", 0) == make_doc_id("raw/a/b.html", 0)
    assert make_doc_id("raw/a/b.html", 0) != make_doc_id("raw/a/b.html", 1)
    assert make_doc_id("raw/a/b.html", 0) != make_doc_id("raw/a/c.html", 0)
    assert make_doc_id("raw/a/b.html", 0, "a1") != make_doc_id("raw/a/b.html", 0, "b2")
    assert len(make_doc_id("raw/a/b.html", 0)) == 16
    file = _write(tmp_path, "s.txt", b"Same bytes.")
    first = _single_record(list(read_records(file, input_config)))
    second = _single_record(list(read_records(file, input_config)))
    assert first.doc_id == second.doc_id
    assert first.source_hash == second.source_hash


# --------------------------------------------------------------------------- discover


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "crawl"
    for relative in ("beta/sub/deep/z.html", "beta/a.html", "alpha/b.txt", "alpha/c.md", "top.txt",
                     ".hidden.txt", ".git/config", "alpha/.draft.html"):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("content")
    return root


def test_discover_nested_tree(tmp_path):
    root = _tree(tmp_path)
    files, problems = discover([root])
    assert problems == []
    assert [f.source_path for f in files] == [
        "crawl/alpha/b.txt", "crawl/alpha/c.md", "crawl/beta/a.html", "crawl/beta/sub/deep/z.html", "crawl/top.txt",
    ]
    outlets = {f.source_path: f.folder_outlet for f in files}
    assert outlets == {"crawl/alpha/b.txt": "alpha", "crawl/alpha/c.md": "alpha", "crawl/beta/a.html": "beta",
                       "crawl/beta/sub/deep/z.html": "beta", "crawl/top.txt": None}
    for f in files:
        assert f.path.is_file()
        assert f.path.resolve() == (root / f.source_path.split("/", 1)[1]).resolve()


def test_discover_hidden_files_can_be_included(tmp_path):
    root = _tree(tmp_path)
    files, _ = discover([root], skip_hidden=False)
    paths = {f.source_path for f in files}
    assert {"crawl/.hidden.txt", "crawl/.git/config", "crawl/alpha/.draft.html"} <= paths
    assert len(paths) == 8


def test_discover_single_file_argument(tmp_path):
    root = _tree(tmp_path)
    files, problems = discover([root / "beta" / "a.html"])
    assert files == [InputFile(root / "beta" / "a.html", "a.html", None)]
    assert problems == []


def test_discover_dangling_symlink(tmp_path):
    root = _tree(tmp_path)
    (root / "alpha" / "gone.html").symlink_to(root / "alpha" / "deleted.html")
    files, problems = discover([root])
    assert "crawl/alpha/gone.html" not in {f.source_path for f in files}
    assert len(problems) == 1
    assert problems[0].source_path == "crawl/alpha/gone.html"
    assert problems[0].error_type == "broken_symlink"


def test_discover_symlink_to_file_is_followed(tmp_path):
    root = _tree(tmp_path)
    (root / "alpha" / "link.txt").symlink_to(root / "top.txt")
    files, problems = discover([root])
    assert problems == []
    linked = [f for f in files if f.source_path == "crawl/alpha/link.txt"]
    assert len(linked) == 1 and linked[0].folder_outlet == "alpha"


def test_discover_symlink_loop_terminates(tmp_path):
    root = _tree(tmp_path)
    (root / "beta" / "sub" / "up").symlink_to(root, target_is_directory=True)
    files, problems = discover([root])
    assert [(p.source_path, p.error_type) for p in problems] == [("crawl/beta/sub/up", "symlink_loop")]
    assert all("/up/" not in f.source_path for f in files)
    assert len(files) == 5


def test_discover_missing_path_raises_usage_error(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        discover([tmp_path / "no-such-folder"])


def test_discover_dangling_symlink_argument_raises_usage_error(tmp_path):
    link = tmp_path / "dangling"
    link.symlink_to(tmp_path / "missing")
    with pytest.raises(UsageError, match="dangling"):
        discover([link])

