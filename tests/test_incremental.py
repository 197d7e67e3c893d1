"""Incremental dedup: a new crawl linked against an earlier output gives the links a joint run gives."""

from __future__ import annotations

import json

import polars as pl
import pytest

from tests.conftest import RAW, corpusclean


@pytest.fixture(scope="module")
def crawls(incremental_runs):
    """crawl1: the wire's copy; crawl2: the outlets that reprint it; and the real command's runs on
    them: out1, out2 (``--against out1``) and joint (tests/conftest.py, shared with other files)."""
    return incremental_runs


def _links(folder) -> set[tuple]:
    links = pl.read_parquet(folder / "links.parquet")
    return {(r["left_id"], r["right_id"], r["kind"], round(r["jaccard"], 9)) for r in links.to_dicts()}


def test_new_paragraphs_name_the_earlier_ones_they_repeat(crawls):
    new = pl.read_parquet(crawls / "out2" / "paragraphs.parquet")
    earlier = pl.read_parquet(crawls / "out1" / "paragraphs.parquet")
    repeating = new.filter(pl.col("earlier_ids").list.len() > 0)
    assert repeating.height >= 5  # 3 verbatim reprints, an edited one, re-wrapped quotes
    earlier_ids = set(earlier["paragraph_id"])
    links = pl.read_parquet(crawls / "out2" / "links.parquet")
    copies = set(links.filter(pl.col("kind") != "contained")["right_id"])
    # 3 verbatim reprints; the edited ones (Jaccard 0.29-0.31) and the re-wrapped quotes are contained
    assert repeating["paragraph_id"].is_in(list(copies)).sum() == 3
    for row in repeating.to_dicts():
        assert set(row["earlier_ids"]) <= earlier_ids
        if row["paragraph_id"] in copies:
            # the wire's copy is older, so it is the canonical one; a re-wrapped quote is linked to
            # its source but is not a copy of it, so it is in no cluster of the source's
            assert row["canonical_id"] in earlier_ids and not row["is_canonical"]


def test_incremental_links_equal_the_joint_runs_new_links(crawls):
    earlier_ids = set(pl.read_parquet(crawls / "out1" / "paragraphs.parquet")["paragraph_id"])
    joint = {link for link in _links(crawls / "joint") if not (link[0] in earlier_ids and link[1] in earlier_ids)}
    assert _links(crawls / "out2") == joint
    manifest = json.loads((crawls / "out2" / "manifest.json").read_text())
    assert manifest["against"] == [str(crawls / "out1")] and manifest["counts"]["repeating_earlier"] >= 5


def test_incremental_paragraphs_equal_the_joint_run(crawls):
    new = pl.read_parquet(crawls / "out2" / "paragraphs.parquet").drop("earlier_ids")
    joint = pl.read_parquet(crawls / "joint" / "paragraphs.parquet").drop("earlier_ids")
    joint_new = joint.filter(pl.col("source_path").str.starts_with("crawl2/"))
    from polars.testing import assert_frame_equal
    assert_frame_equal(new, joint_new)


def test_against_a_folder_without_an_output_is_a_usage_error(tmp_path):
    completed = corpusclean("run", str(RAW), "-o", str(tmp_path / "out"), "--against", str(tmp_path), "-q")
    assert completed.returncode == 2 and "no manifest.json" in completed.stderr


def test_against_an_output_with_other_fingerprint_settings_is_refused(crawls, tmp_path):
    config = tmp_path / "other.toml"
    config.write_text("[dedup]\nnum_perm = 64\n")
    completed = corpusclean("run", str(crawls / "crawl2"), "-o", str(tmp_path / "o"), "-c", str(config),
                            "--against", str(crawls / "out1"), "-q")
    assert completed.returncode == 2 and "dedup.num_perm" in completed.stderr


def test_on_real_news_incremental_differs_from_joint_only_as_the_readme_says(tmp_path):
    # allsides-dev's first 3,000 articles in two crawls: every link one run has and the other has not
    # is explained by a template decision (an earlier output's are kept, not judged again) or by the
    # other run linking the same paragraph to another member of the same cluster
    from tests.conftest import SHARED, load_benchmark_module
    incremental = load_benchmark_module("incremental")
    incremental.ALLSIDES = SHARED / "allsides-dev" / "allsides-dev.jsonl.gz"
    if not incremental.ALLSIDES.is_file():
        pytest.skip("../shared/allsides-dev is absent (it sits beside the checkout in CI)")
    figures = incremental.measure(tmp_path, articles=3000, joint_beside=True)
    causes = {**figures["only_incremental"], **figures["only_joint"]}
    assert not [cause for cause in causes if "unexplained" in cause], causes
    assert sum(causes.values()) <= 0.02 * figures["links_joint_touching_new"]
    assert figures["links_joint_touching_new"] > 500
