"""The answer key ../shared/seeds/expected.json, entry by entry, on a real run of the pipeline."""

from __future__ import annotations

import re
import unicodedata

import polars as pl
import pytest

from corpusclean import run


def key_normalize(text: str) -> str:
    """How the answer key says it matches: NFKC, curly quotes straight, white space runs one space."""
    text = unicodedata.normalize("NFKC", text)
    text = text.translate({0x201C: '"', 0x201D: '"', 0x2018: "'", 0x2019: "'"})
    return re.sub(r"\s+", " ", text)


@pytest.fixture(scope="module")
def seed_run(seed_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("seed-out")
    result = run([seed_corpus], out, workers=1)
    documents = pl.read_parquet(out / "documents.parquet")
    paragraphs = pl.read_parquet(out / "paragraphs.parquet")
    return result, documents, paragraphs


def _document(documents: pl.DataFrame, name: str) -> dict:
    rows = documents.filter(pl.col("source_path") == f"seeds/{name}").to_dicts()
    assert len(rows) == 1, f"{name} is not in documents.parquet"
    return rows[0]


def _cases(kind: str):
    from tests.conftest import SEEDS
    import json
    if not (SEEDS / "expected.json").is_file():
        return [pytest.param(None, None, marks=pytest.mark.skip(reason="../shared/seeds is absent"))]
    documents = json.loads((SEEDS / "expected.json").read_text("utf-8"))["documents"]
    return [pytest.param(name, snippet, id=f"{name[:3]}:{snippet[:40]}")
            for name, entry in documents.items() for snippet in entry.get(kind, [])]


def test_every_seed_is_a_document(seed_run, expected):
    result, documents, _ = seed_run
    assert sorted(documents["source_path"]) == [f"seeds/{name}" for name in sorted(expected["documents"])]
    assert result.counts["errors"] == 0


@pytest.mark.parametrize("name,snippet", _cases("must_remove"))
def test_must_remove(seed_run, name, snippet):
    _, documents, _ = seed_run
    text = _document(documents, name)["text"]
    if not snippet.strip():
        # a white-space character (the key lists NBSP): normalizing the key would make it a plain space,
        # so look for the character itself
        assert snippet not in text
    else:
        assert key_normalize(snippet) not in key_normalize(text)


@pytest.mark.parametrize("name,snippet", _cases("must_keep"))
def test_must_keep(seed_run, name, snippet):
    _, documents, _ = seed_run
    assert key_normalize(snippet) in key_normalize(_document(documents, name)["text"])


@pytest.mark.parametrize("name,snippet", _cases("must_be_one_paragraph"))
def test_must_be_one_paragraph(seed_run, name, snippet):
    _, documents, paragraphs = seed_run
    doc_id = _document(documents, name)["doc_id"]
    texts = paragraphs.filter(pl.col("doc_id") == doc_id)["text"].to_list()
    holders = [text for text in texts if key_normalize(snippet) in key_normalize(text)]
    assert len(holders) == 1, f"{snippet!r} is split across paragraphs"


def test_title_date_outlet(seed_run, expected):
    _, documents, _ = seed_run
    for name, entry in expected["documents"].items():
        document = _document(documents, name)
        for field in ("title", "date", "outlet"):
            if field in entry:
                value = document[field].isoformat() if field == "date" and document[field] else document[field]
                assert key_normalize(value or "") == key_normalize(entry[field]), (name, field)
        if "outlet" not in entry:
            # the key names no outlet: the tool must not invent one
            assert document["outlet"] == "", (name, document["outlet"])


def test_title_paragraphs_kept(seed_run, expected):
    _, documents, paragraphs = seed_run
    for name, entry in expected["documents"].items():
        if "title_paragraphs_kept" not in entry:
            continue
        document = _document(documents, name)
        title = key_normalize(entry["title"]).casefold()
        texts = paragraphs.filter(pl.col("doc_id") == document["doc_id"])["text"].to_list()
        assert sum(key_normalize(t).casefold() == title for t in texts) == entry["title_paragraphs_kept"]


def test_paragraph_offsets_index_the_clean_text(seed_run):
    _, documents, paragraphs = seed_run
    texts = dict(zip(documents["doc_id"], documents["text"]))
    for row in paragraphs.iter_rows(named=True):
        assert texts[row["doc_id"]][row["char_start"]:row["char_end"]] == row["text"]
