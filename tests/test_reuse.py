"""Phase B on the seeds: all 20 reuse pairs of the answer key are linked, and no other pair is."""

from __future__ import annotations

import polars as pl
import pytest

from corpusclean import run
from tests.test_seeds import key_normalize


@pytest.fixture(scope="module")
def seed_tables(seed_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("reuse-out")
    run([seed_corpus], out, workers=1)
    return {name: pl.read_parquet(out / f"{name}.parquet") for name in ("documents", "paragraphs", "links")}


def _paragraph_holding(tables, name: str, snippet: str) -> str:
    doc_id = tables["documents"].filter(pl.col("source_path") == f"seeds/{name}")["doc_id"].item()
    holders = [row["paragraph_id"] for row in tables["paragraphs"].filter(pl.col("doc_id") == doc_id).to_dicts()
               if key_normalize(snippet) in key_normalize(row["text"])]
    assert len(holders) == 1, (name, snippet)
    return holders[0]


def test_links_are_exactly_the_answer_keys_pairs(seed_tables, expected):
    wanted = {frozenset((_paragraph_holding(seed_tables, p["a"], p["a_snippet"]),
                         _paragraph_holding(seed_tables, p["b"], p["b_snippet"])))
              for p in expected["reuse"]["pairs"]}
    links = seed_tables["links"]
    cross = links.filter(pl.col("left_doc_id") != pl.col("right_doc_id"))
    found = {frozenset(pair) for pair in cross.select("left_id", "right_id").rows()}
    assert len(wanted) == 20
    assert found - wanted == set(), "links the answer key does not list (false positives)"
    assert wanted - found == set(), "answer-key pairs not linked (false negatives)"


def test_link_kinds_and_measures(seed_tables):
    links = seed_tables["links"]
    assert set(links["kind"]) <= {"exact", "near", "contained"}
    # quotes re-wrapped in longer paragraphs: low Jaccard, high containment of the smaller
    contained = links.filter(pl.col("kind") == "contained")
    assert contained.height >= 15
    assert (contained["jaccard"] < 0.8).all()
    larger_side = contained.select(pl.max_horizontal("containment_left", "containment_right")).to_series()
    assert (larger_side >= 0.5).all()
    assert links.filter(pl.col("kind") == "near")["jaccard"].min() >= 0.8


def test_clusters_have_one_canonical_each_the_earliest(seed_tables):
    paragraphs = seed_tables["paragraphs"].filter(pl.col("cluster_id").is_not_null())
    per_cluster = paragraphs.group_by("cluster_id").agg(
        pl.col("is_canonical").sum().alias("canonicals"), pl.len().alias("n"),
        pl.col("cluster_size").first().alias("size"), pl.col("date").min().alias("earliest"),
        pl.col("date").filter(pl.col("is_canonical")).first().alias("canonical_date"))
    assert (per_cluster["canonicals"] == 1).all()
    assert (per_cluster["n"] == per_cluster["size"]).all()
    dated = per_cluster.filter(pl.col("earliest").is_not_null())
    assert (dated["canonical_date"] == dated["earliest"]).all()
