"""``reprints.parquet``: one row per pair of documents sharing text, from clusters and links.

The algorithm on frames made by hand (the star bound, the kinds, the direction), then the table a
real run writes on raw/ (every link and every cluster star is in it, the direction is the canonical
order, deterministic), and on an incremental ``--against`` run, whose pairs equal the joint run's.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from corpusclean.dedup.reprints import reprints, shared_paragraph_pairs, sibling_pairs
from corpusclean.schema import REPRINTS
from tests.conftest import corpusclean

NO_LINKS = pl.DataFrame(schema={"left_id": pl.String, "right_id": pl.String, "left_doc_id": pl.String,
                                "right_doc_id": pl.String, "kind": pl.String})


def _cluster(n: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One paragraph copied into n documents d0..d{n-1} (d0's the canonical), each doc one more paragraph."""
    ids = [f"d{i}" for i in range(n)]
    paragraphs = pl.DataFrame({
        "paragraph_id": [f"{d}-0" for d in ids] + [f"{d}-1" for d in ids], "doc_id": ids + ids,
        "chars": [300] * n + [100] * n, "canonical_id": ["d0-0"] * n + [f"{d}-1" for d in ids],
        "canonical_doc_id": ["d0"] * n + ids, "similarity": [1.0] * n + [None] * n})
    documents = pl.DataFrame({"doc_id": ids, "outlet": [f"O{i % 3}" for i in range(n)], "chars": [400] * n,
                              "date": [dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(n)]})
    return paragraphs, documents


def test_a_cluster_of_n_copies_gives_its_star_and_counts_the_siblings():
    paragraphs, documents = _cluster(50)
    table = reprints(paragraphs, NO_LINKS, documents)
    assert table.height == 49 and set(table["earlier_doc_id"]) == {"d0"}  # n-1 rows, not n(n-1)/2
    assert sibling_pairs(paragraphs) == 49 * 48 // 2
    row = table.row(0, named=True)
    assert (row["later_doc_id"], row["kinds"], row["exact_pairs"], row["later_share"], row["lag_days"],
            row["ordered_by"]) == ("d1", "exact", 1, 0.75, 1, "date")
    assert table.schema == pl.Schema(REPRINTS)


def test_a_pair_found_as_link_and_as_star_counts_once_by_the_links_kind():
    paragraphs, documents = _cluster(2)
    paragraphs = paragraphs.with_columns(pl.when(pl.col("paragraph_id") == "d1-0").then(0.9)
                                         .otherwise(pl.col("similarity")).alias("similarity"))
    links = pl.DataFrame({"left_id": ["d0-0", "d0-1"], "right_id": ["d1-0", "d1-1"], "left_doc_id": ["d0", "d0"],
                          "right_doc_id": ["d1", "d1"], "kind": ["near", "contained"]})
    pairs = shared_paragraph_pairs(paragraphs, links)
    assert pairs.select("earlier_id", "later_id", "kind").rows() == [("d0-0", "d1-0", "near"), ("d0-1", "d1-1", "contained")]
    row = reprints(paragraphs, links, documents).row(0, named=True)
    assert (row["near_pairs"], row["contained_pairs"], row["exact_pairs"], row["kinds"]) == (1, 1, 0, "contained,near")
    assert row["later_share"] == row["earlier_share"] == 1.0


def test_undated_and_same_day_pairs_say_the_path_order_decided():
    paragraphs, documents = _cluster(3)
    documents = documents.with_columns(pl.Series("date", [dt.date(2026, 1, 1), dt.date(2026, 1, 1), None]))
    table = reprints(paragraphs, NO_LINKS, documents)
    assert table.select("later_doc_id", "ordered_by", "lag_days").rows() == [("d1", "same_date", 0), ("d2", "undated", None)]


def test_no_shared_text_gives_an_empty_table_with_the_schema():
    paragraphs, documents = _cluster(1)
    assert reprints(paragraphs, NO_LINKS, documents).schema == pl.Schema(REPRINTS)


@pytest.fixture(scope="module")
def raw_runs(raw_cli_run) -> Path:
    """The output folder of ``corpusclean run raw --workers 2`` (tests/conftest.py, shared)."""
    return raw_cli_run[1]


def test_the_run_writes_every_link_and_cluster_star_as_a_pair(raw_runs):
    out = raw_runs
    table = pl.read_parquet(out / "reprints.parquet")
    links = pl.read_parquet(out / "links.parquet")
    paragraphs = pl.read_parquet(out / "paragraphs.parquet")
    documents = pl.read_parquet(out / "documents.parquet")
    assert table.schema == pl.Schema(REPRINTS) and table.height > 0
    counts = json.loads((out / "manifest.json").read_text())["counts"]
    assert counts["reprints"] == table.height and counts["reprint_sibling_pairs_left_out"] == 0
    pairs = set(table.select("earlier_doc_id", "later_doc_id").iter_rows())
    assert set(links.select("left_doc_id", "right_doc_id").iter_rows()) <= pairs
    stars = paragraphs.filter(~pl.col("is_canonical") & (pl.col("canonical_doc_id") != pl.col("doc_id")))
    assert set(stars.select("canonical_doc_id", "doc_id").iter_rows()) <= pairs
    # the earlier document comes first in the canonical order: date (undated last), path, offset
    key = {r["doc_id"]: (r["date"] is None, r["date"] or "", r["source_path"], r["record_offset"])
           for r in documents.iter_rows(named=True)}
    assert all(key[a] < key[b] for a, b in pairs)
    wire_to_tribune = table.filter(pl.col("later_outlet") == "Harbor Tribune").row(0, named=True)
    assert (wire_to_tribune["earlier_outlet"], wire_to_tribune["exact_pairs"], wire_to_tribune["contained_pairs"],
            wire_to_tribune["lag_days"]) == ("Northwind Wire", 3, 2, 3)
    assert 0 < wire_to_tribune["later_share"] < 1 and table["later_in_output"].all()
    assert table.select("earlier_doc_id", "later_doc_id").is_duplicated().sum() == 0
    assert table.equals(table.sort("earlier_doc_id", "later_doc_id"))
    # pandas keeps the integers integers, lag_days (null when undated) included; dates are dates
    frame = pd.read_parquet(out / "reprints.parquet")
    for name, dtype in REPRINTS.items():
        if dtype.is_integer():
            assert pd.api.types.is_integer_dtype(frame[name]), (name, frame[name].dtype)
    assert isinstance(frame["earlier_date"].dropna().iloc[0], dt.date)


def test_pandas_reads_lag_days_of_undated_pairs_as_nullable_integers(tmp_path):
    from corpusclean.writers.final import write_reprints

    paragraphs, documents = _cluster(3)
    paragraphs.select("paragraph_id", "doc_id", pl.lit(0).alias("char_start"), pl.col("chars").alias("char_end"),
                      pl.when(pl.col("canonical_id") == "d0-0").then(pl.lit("c")).alias("cluster_id"),
                      "canonical_id", "canonical_doc_id", "similarity").write_parquet(tmp_path / "paragraphs.parquet")
    documents.with_columns(pl.Series("date", ["2026-01-01", None, "2026-01-05"])).select(
        "doc_id", "outlet", "date").write_parquet(tmp_path / "documents.parquet")
    assert write_reprints(tmp_path, NO_LINKS, []) == {"reprints": 2, "reprint_sibling_pairs_left_out": 1}
    frame = pd.read_parquet(tmp_path / "reprints.parquet")
    assert str(frame["lag_days"].dtype) == "Int32" and frame["later_doc_id"].tolist() == ["d1", "d2"]
    assert frame["lag_days"].isna().tolist() == [True, False] and frame["lag_days"].iloc[1] == 4
    assert pl.read_parquet(tmp_path / "reprints.parquet")["lag_days"].to_list() == [None, 4]


def test_the_table_does_not_depend_on_the_order_of_the_rows(raw_runs, tmp_path):
    from corpusclean.writers.final import write_reprints

    out = raw_runs
    for name in ("paragraphs", "documents"):
        pl.read_parquet(out / f"{name}.parquet").sample(fraction=1.0, shuffle=True, seed=7).write_parquet(
            tmp_path / f"{name}.parquet")
    links = pl.read_parquet(out / "links.parquet").sample(fraction=1.0, shuffle=True, seed=7)
    write_reprints(tmp_path, links, [])
    assert_frame_equal(pl.read_parquet(tmp_path / "reprints.parquet"), pl.read_parquet(out / "reprints.parquet"))


def test_an_incremental_run_gives_the_joint_runs_pairs(incremental_runs, tmp_path):
    # the wire's story in crawl1, the outlets that reprint it in crawl2: the real command's runs on
    # crawl1 (out1), crawl2 --against out1 (out2) and both jointly (tests/conftest.py, shared)
    runs = incremental_runs
    new = pl.read_parquet(runs / "out2" / "reprints.parquet")
    joint = pl.read_parquet(runs / "joint" / "reprints.parquet")
    earlier_docs = set(pl.read_parquet(runs / "out1" / "documents.parquet")["doc_id"])
    assert new.filter(~pl.col("earlier_in_output"))["earlier_doc_id"].is_in(list(earlier_docs)).all()
    assert new.filter(~pl.col("earlier_in_output")).height >= 1  # the wire's story, reprinted
    reaching_new = joint.filter(~(pl.col("earlier_doc_id").is_in(list(earlier_docs))
                                  & pl.col("later_doc_id").is_in(list(earlier_docs))))
    in_output = ["earlier_in_output", "later_in_output"]
    assert_frame_equal(new.drop(in_output), reaching_new.drop(in_output))
    # exported from the incremental output, the paragraphs the earlier output holds are left out
    dest = tmp_path / "new.parquet"
    completed = corpusclean("export", str(runs / "out2"), "-o", str(dest), "--dedup", "paragraphs")
    assert completed.returncode == 0, completed.stderr
    earlier_texts = set(pl.read_parquet(runs / "out1" / "paragraphs.parquet")["text"])
    exported = {p for text in pl.read_parquet(dest)["text"] for p in text.split("\n\n")}
    repeating = pl.read_parquet(runs / "out2" / "paragraphs.parquet").filter(~pl.col("is_canonical"))
    assert repeating.height >= 3 and not (set(repeating["text"]) & exported)
    assert not (exported & earlier_texts)
