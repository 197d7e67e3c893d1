"""The final write cuts a large shard into slices of whole documents (``corpusclean.writers.final.write_final``).

What must hold: the slices cover a shard's documents and paragraphs in order, once each, and a run
written in tiny slices gives the very tables of a run written a shard at a time: documents,
paragraphs, removed (still in document-id order within a shard), links, errors and fingerprints,
row order included. Tiny slices are forced by patching ``final.WRITE_SLICE_PARAGRAPHS``.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from corpusclean import run
from corpusclean.writers import final
from corpusclean.config import load_config
from corpusclean.pipeline import run_dedup
from tests.conftest import RAW, read_tables

WORDS = ("harbour council barrier vote river plan cost mayor tide ferry island keeper lamp trust storm "
         "coast budget bridge school market winter summer report station volunteer crew boat").split()
WIRE = "The regional council voted on Tuesday to fund the tidal barrier after a decade of debate about cost."
CHROME = "Share this story on Facebook Twitter and by email with your friends and family today"


def _feed(records: int, seed: int = 11) -> str:
    """JSONL: stories of a few paragraphs, wire copy, site chrome (templates), bad lines, empty texts."""
    rng = random.Random(seed)
    lines, body = [], []
    for i in range(records):
        if i % 53 == 7:
            lines.append("this line is {not JSON")
            continue
        if i % 10 == 1 and body:  # a re-crawl of the previous story, a word dropped from some lines
            body = [line.split(" ", 1)[-1] if rng.random() < 0.3 else line for line in body]
        else:
            body = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(12, 50))).capitalize() + "."
                    for _ in range(rng.randint(0 if i % 97 == 0 else 1, 7))]
            if i % 3 == 0:
                body.insert(len(body) // 2, WIRE)
            if i % 4 == 0:
                body.append(CHROME)
            if i % 5 == 0:  # lines phase A's rules remove
                body.append(f"Follow her on Twitter: @reporter{i % 3}")
            if i % 7 == 0:
                body.insert(0, "COPYRIGHT 2024 CREATORS.COM")
        outlet = f"outlet-{i % 6}"
        lines.append(json.dumps({"text": "\n\n".join(body), "title": f"Story {i}", "outlet": outlet,
                                 "url": f"https://{outlet}.example/{i}", "date": f"2024-05-{1 + i % 28:02d}"}))
    return "\n".join(lines) + "\n"


def _tables(out: Path) -> dict[str, pl.DataFrame]:
    return {**read_tables(out), "fingerprints": pl.read_parquet(out / "fingerprints.parquet")}


def _sliced_rerun(out: Path, copy: Path, limit: int, monkeypatch, against=()) -> list[list[tuple]]:
    """Phase B again on a copy of ``out`` with slices of at most ``limit`` paragraphs; the slices made."""
    shutil.copytree(out, copy)
    made = []
    real = final._write_slices

    def spy(shard, documents, size):
        made.append(real(shard, documents, size))
        return made[-1]

    monkeypatch.setattr(final, "WRITE_SLICE_PARAGRAPHS", limit)
    monkeypatch.setattr(final, "_write_slices", spy)
    run_dedup(copy, against=against, keep_work=True)
    return made


def _assert_same(left: Path, right: Path) -> None:
    a, b = _tables(left), _tables(right)
    for name in a:
        assert_frame_equal(a[name], b[name], check_exact=True)
    manifest = [json.loads((out / "manifest.json").read_text()) for out in (left, right)]
    for key in ("counts", "removed_by_reason", "errors_by_type", "accounting"):
        assert manifest[0][key] == manifest[1][key]


def _check_cover(slices: list[tuple], documents: int, paragraphs: int, limit: int, sizes: list[int]) -> None:
    """``slices`` cover ``documents`` and ``paragraphs`` in order, each of at most ``limit``
    paragraphs unless it is one document (``sizes``: paragraphs per document)."""
    assert slices[0][0] == 0 and slices[0][2] == 0
    assert slices[-1][1] == documents and slices[-1][3] == paragraphs
    for (_, end_doc, _, end_par), (first_doc, _, start, _) in zip(slices, slices[1:]):
        assert end_doc == first_doc and end_par == start
    for first_doc, end_doc, start, stop in slices:
        assert end_doc > first_doc and stop - start == sum(sizes[first_doc:end_doc])
        assert stop - start <= limit or end_doc - first_doc == 1


@pytest.fixture(scope="module")
def raw_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("raw") / "out"
    run([RAW], out, workers=1, keep_work=True)
    return out


@pytest.fixture(scope="module")
def feed_run(tmp_path_factory) -> Path:
    """1,000 records of JSONL (1 MB) cut into pieces (``shard_mb = 0.1``, about ten) and merged into
    one shard of about 4,000 paragraphs: dozens of slices at the limits below."""
    base = tmp_path_factory.mktemp("feed")
    (base / "in").mkdir()
    (base / "in" / "feed.jsonl").write_text(_feed(1000), encoding="utf-8")
    (base / "cut.toml").write_text("[run]\nshard_mb = 0.1\n")
    out = base / "out"
    run([base / "in"], out, config=load_config(base / "cut.toml"), workers=2, keep_work=True)
    record = json.loads((out / "_work" / "phase_a.json").read_text())
    assert record["pieces"] >= 3 and len(record["shards"]) == 1
    return out


def test_slices_cover_a_shard_in_order(feed_run):
    shard = feed_run / "_work" / "shards" / json.loads((feed_run / "_work" / "phase_a.json").read_text())["shards"][0]
    documents = pl.read_parquet(shard / "documents.parquet", columns=["doc_id", "source_path", "record_offset"])
    paragraphs = pl.read_parquet(shard / "paragraphs.parquet", columns=["doc_id"])
    per_doc = paragraphs.group_by("doc_id").len()
    sizes = documents.join(per_doc, on="doc_id", how="left", maintain_order="left")["len"].fill_null(0).to_list()
    for limit in (1, 7, 100, 5000):
        slices = final._write_slices(shard, documents, limit)
        _check_cover(slices, documents.height, paragraphs.height, limit, sizes)
        for first_doc, end_doc, start, stop in slices:  # each slice's paragraphs are its documents'
            ids = set(documents["doc_id"][first_doc:end_doc])
            assert set(paragraphs["doc_id"][start:stop]) <= ids
    assert len(final._write_slices(shard, documents, paragraphs.height)) == 1  # small enough: one slice
    # paragraphs out of their documents' order: no slicing at all
    assert final._write_slices(shard, documents.reverse(), 7) == [(0, documents.height, 0, paragraphs.height)]


def test_slices_skip_documents_without_paragraphs(tmp_path):
    sizes = [3, 0, 2, 0, 0, 4, 1, 0]
    documents = pl.DataFrame({"doc_id": [f"d{i}" for i in range(len(sizes))]})
    paragraphs = pl.DataFrame({"doc_id": [f"d{i}" for i, n in enumerate(sizes) for _ in range(n)]})
    paragraphs.write_parquet(tmp_path / "paragraphs.parquet")
    slices = final._write_slices(tmp_path, documents, 3)
    assert slices == [(0, 2, 0, 3), (2, 5, 3, 5), (5, 6, 5, 9), (6, 8, 9, 10)]  # empty ones ride along
    _check_cover(slices, len(sizes), sum(sizes), 3, sizes)


@pytest.mark.parametrize("limit", [1, 5])
def test_raw_written_in_tiny_slices_gives_the_same_tables(raw_run, tmp_path, monkeypatch, limit):
    made = _sliced_rerun(raw_run, tmp_path / "sliced", limit, monkeypatch)
    assert max(len(slices) for slices in made) > 3
    _assert_same(tmp_path / "sliced", raw_run)


@pytest.mark.parametrize("limit", [50, 997])
def test_a_merged_jsonl_shard_written_in_slices_gives_the_same_tables(feed_run, tmp_path, monkeypatch, limit):
    made = _sliced_rerun(feed_run, tmp_path / "sliced", limit, monkeypatch)
    assert len(made[0]) > 5
    tables = _tables(feed_run)
    assert tables["removed"]["reason"].n_unique() > 1 and (tables["removed"]["reason"] == "template").any()
    assert (tables["links"]["kind"] == "contained").any() and tables["errors"].height > 0
    _assert_same(tmp_path / "sliced", feed_run)


def test_an_incremental_run_written_in_slices_gives_the_same_tables(feed_run, tmp_path, monkeypatch):
    earlier = tmp_path / "earlier"  # the same feed's output: every new paragraph repeats one of it
    shutil.copytree(feed_run, earlier, ignore=shutil.ignore_patterns("_work", ".corpusclean.lock"))
    whole = tmp_path / "whole"
    shutil.copytree(feed_run, whole)
    run_dedup(whole, against=[earlier], keep_work=True)
    assert (pl.read_parquet(whole / "paragraphs.parquet")["earlier_ids"].list.len() > 0).any()
    _sliced_rerun(feed_run, tmp_path / "sliced", 40, monkeypatch, against=[earlier])
    _assert_same(tmp_path / "sliced", whole)
