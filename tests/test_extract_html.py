"""HTML extraction: our metadata pass must give what trafilatura's full ``extract_metadata`` gives.

:func:`corpusclean.extractors.metadata.page_metadata` runs trafilatura's metadata steps itself, to skip
the categories, tags and licence we do not store and htmldate's whole-page search; these tests hold it
to the five fields we do store, on the HTML pages of ``raw/`` and, when ``../shared`` is present, on
the 181 real pages of the AEB: equal with ``page_search=True``, and by default equal but for dates that
only the whole-page search finds (those it leaves empty, never different).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from trafilatura.metadata import extract_metadata

from corpusclean.extractors.html import extract_html, load_tree
from corpusclean.extractors.metadata import page_metadata
from corpusclean.readers.decode import decode_bytes

from conftest import RAW, SHARED

FIELDS = ("title", "author", "url", "date", "sitename")
AEB_PAGES = SHARED / "aeb" / "html"


def _read(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return decode_bytes(data)[0]


def _pages(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.name.endswith((".html", ".htm", ".html.gz")))


def _fields(document) -> dict[str, str | None]:
    return {name: getattr(document, name) for name in FIELDS}


def _assert_same_metadata(paths: list[Path]) -> int:
    compared = 0
    for path in paths:
        try:
            html = _read(path)
            searched = page_metadata(load_tree(html), page_search=True)
            ours = page_metadata(load_tree(html))
            theirs = extract_metadata(load_tree(html))
        except Exception:  # pages that do not parse are the errors table's business, not this test's
            continue
        assert _fields(searched) == _fields(theirs), path.name
        assert {**_fields(ours), "date": None} == {**_fields(theirs), "date": None}, path.name
        assert ours.date in (None, theirs.date), path.name
        compared += 1
    return compared


def test_metadata_equals_trafilatura_on_raw_pages():
    assert _assert_same_metadata(_pages(RAW)) >= 3


def test_metadata_equals_trafilatura_on_aeb_pages():
    if not AEB_PAGES.is_dir():
        pytest.skip("../shared/aeb is absent")
    assert _assert_same_metadata(_pages(AEB_PAGES)) >= 170


def test_extracted_fields_come_from_the_page():
    page = ("<html><head><title>Harbour works resume | Example Post</title>"
            '<meta property="og:site_name" content="Example Post">'
            '<meta property="article:published_time" content="2026-03-14T08:00:00Z">'
            '<link rel="canonical" href="https://post.example/harbour"></head><body><article>'
            "<h1>Harbour works resume</h1><p>" + "The council voted to resume the works on the quay. " * 8 +
            "</p></article></body></html>")
    extracted = extract_html(page, {"include_comments": False, "include_tables": True, "favor_precision": False,
                                    "favor_recall": False, "fast": True})
    assert extracted.title == "Harbour works resume"
    assert extracted.sitename == "Example Post"
    assert extracted.date == "2026-03-14"
    assert extracted.url == "https://post.example/harbour"
    assert extracted.body.splitlines()[1].startswith("The council voted")  # the h1 stays: titles are split later
