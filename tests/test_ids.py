"""Ids across crawls: two crawls stored in folders of the same name, fetched on two days.

A page's ``doc_id`` is made from its place and its bytes (``make_doc_id``), so a page fetched again
with other content gets another id, and ``--against`` can only name the paragraphs a page repeats.
"""

from __future__ import annotations

import json

import polars as pl
import pytest

from corpusclean import run
from tests.conftest import corpusclean

WIRE = ("The harbour authority approved a new sea wall for the old town on Tuesday, after three winters "
        "in which storm surges flooded the quay and closed the fish market for weeks at a time.")
WIRE_2 = ("Engineers said the wall would rise two metres above the present quay and be finished before the "
          "autumn storms of next year, at a cost the council put at four million pounds.")
DAY1_STORY = ("The town's only cinema will close at the end of the month, its owners said, after forty years "
              "of screenings that outlived two floods, a fire and the arrival of streaming services.")
DAY2_STORY = ("A record catch of mackerel was landed at the harbour on Wednesday, the fishermen's co-operative "
              "said, the largest since the market reopened and enough to fill every stall twice over.")


def _page(date: str, title: str, *paragraphs: str) -> str:
    return f"date {date} {title}\n\n" + "\n\n".join(paragraphs) + "\n"


def _crawl(root, pages: dict[str, str]):
    for name, text in pages.items():
        path = root / "crawl" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "crawl"


@pytest.fixture(scope="module")
def days(tmp_path_factory):
    """day1/crawl and day2/crawl: a.html changed its story, wall.txt is the same bytes, reprint.txt is new
    and repeats the wire's two paragraphs; runs: day 1, day 2 against day 1, both days jointly."""
    root = tmp_path_factory.mktemp("ids")
    wall = _page("2026-05-05", "Sea wall approved", WIRE, WIRE_2)
    day1 = _crawl(root / "day1", {
        "gazette/front.txt": _page("2026-05-05", "Cinema to close", DAY1_STORY),
        "wire/wall.txt": wall,
    })
    day2 = _crawl(root / "day2", {
        "gazette/front.txt": _page("2026-05-06", "Record mackerel catch", DAY2_STORY),
        "wire/wall.txt": wall,
        "courier/reprint.txt": _page("2026-05-06", "Quay to get its wall", WIRE, WIRE_2),
    })
    # the pipeline in this process; "again", the same run as out2, by the real command line in a
    # process of its own, so equal ids cannot come from anything one process keeps (str hashes)
    run([day1], root / "out1")
    run([day2], root / "out2", against=[root / "out1"])
    run([day1, day2], root / "joint")
    completed = corpusclean("run", str(day2), "-o", str(root / "again"), "--against", str(root / "out1"), "--quiet")
    assert completed.returncode == 0, completed.stderr
    return root


def _read(folder, table: str) -> pl.DataFrame:
    return pl.read_parquet(folder / f"{table}.parquet")


def test_pages_that_differ_share_no_id(days):
    first, second = _read(days / "out1", "documents"), _read(days / "out2", "documents")
    both = first.join(second, on="doc_id", suffix="_2")
    # the same place: crawl/gazette/front.txt both days, with other bytes, so other ids
    assert set(first["source_path"]) & set(second["source_path"]) == {"crawl/gazette/front.txt", "crawl/wire/wall.txt"}
    # only the page fetched twice with the same bytes keeps its id, and it is that same page
    assert both["source_path"].to_list() == ["crawl/wire/wall.txt"]
    assert both["source_hash"].to_list() == both["source_hash_2"].to_list()
    front_ids = [table.filter(pl.col("source_path") == "crawl/gazette/front.txt")["doc_id"].item()
                 for table in (first, second)]
    assert front_ids[0] != front_ids[1]
    paragraph_ids = set(_read(days / "out1", "paragraphs")["paragraph_id"])
    changed = _read(days / "out2", "paragraphs").filter(pl.col("source_path") == "crawl/gazette/front.txt")
    assert not paragraph_ids & set(changed["paragraph_id"])


def test_against_names_only_real_repeats(days):
    earlier = dict(_read(days / "out1", "paragraphs").select("paragraph_id", "text").iter_rows())
    new = _read(days / "out2", "paragraphs")
    for row in new.iter_rows(named=True):
        # the changed page's new story repeats nothing; everything named is the same text
        if row["source_path"] == "crawl/gazette/front.txt":
            assert row["earlier_ids"] == [], row
        for earlier_id in row["earlier_ids"]:
            assert earlier[earlier_id] == row["text"], (row["paragraph_id"], earlier_id)
    reprint = new.filter(pl.col("source_path") == "crawl/courier/reprint.txt", pl.col("n_words") > 20)
    assert reprint.height == 2 and all(len(ids) == 1 for ids in reprint["earlier_ids"])
    # the unchanged page repeats the earlier copy of itself, which is its canonical (earlier output first)
    wall = new.filter(pl.col("source_path") == "crawl/wire/wall.txt", pl.col("n_words") > 20)
    assert wall.height == 2
    for row in wall.iter_rows(named=True):
        assert row["earlier_ids"] == [row["paragraph_id"]] and not row["is_canonical"]
        assert row["canonical_id"] == row["paragraph_id"] and row["cluster_size"] == 3


def _link_texts(links: pl.DataFrame, *paragraph_tables: pl.DataFrame) -> set[tuple]:
    texts = {pid: text for table in paragraph_tables for pid, text in table.select("paragraph_id", "text").iter_rows()}
    return {(texts[r["left_id"]], texts[r["right_id"]], r["kind"]) for r in links.iter_rows(named=True)}


def test_joint_and_incremental_runs_agree(days):
    joint_paragraphs = _read(days / "joint", "paragraphs")
    joint_new = joint_paragraphs.filter(pl.col("source_path").str.starts_with("day2/"))
    new, earlier = _read(days / "out2", "paragraphs"), _read(days / "out1", "paragraphs")

    # the same paragraphs, in the same clusters (by text and place: the joint run names the folders apart)
    def shape(frame: pl.DataFrame, prefix: str) -> list[tuple]:
        return sorted(frame.select(pl.col("source_path").str.strip_prefix(prefix), "para_idx", "text",
                                   "cluster_size", "is_canonical").rows())
    assert shape(new, "") == shape(joint_new, "day2/")
    # the same links but those between day 1's wall.txt and day 2's: jointly, two pages at two places;
    # incrementally, one page, whose paragraphs name their own ids in earlier_ids instead
    doc_path = dict(_read(days / "joint", "documents").select("doc_id", "source_path").iter_rows())
    joint_links = _read(days / "joint", "links").with_columns(
        pl.col("left_doc_id").replace_strict(doc_path).alias("left_path"),
        pl.col("right_doc_id").replace_strict(doc_path).alias("right_path"))
    twins = {"day1/crawl/wire/wall.txt", "day2/crawl/wire/wall.txt"}
    between_twins = (pl.col("left_path").is_in(twins) & pl.col("right_path").is_in(twins))
    assert joint_links.filter(between_twins).height == 3  # the title and the two paragraphs
    assert _link_texts(_read(days / "out2", "links"), new, earlier) == _link_texts(
        joint_links.filter(~between_twins), joint_paragraphs)
    wall = new.filter(pl.col("source_path") == "crawl/wire/wall.txt")
    assert all(row["earlier_ids"] == [row["paragraph_id"]] for row in wall.iter_rows(named=True))


def test_a_page_both_outputs_hold_makes_each_link_once(days):
    """wall.txt is in out1 and again in day 2 with its ids: the reprint's links to the wire's two
    paragraphs came once from each copy of the page, and were two rows of links.parquet each."""
    links = _read(days / "out2", "links")
    assert links.height > 0 and links.select("left_id", "right_id").is_unique().all()
    wall = set(_read(days / "out1", "paragraphs").filter(pl.col("source_path") == "crawl/wire/wall.txt")["paragraph_id"])
    assert links.filter(pl.col("left_id").is_in(list(wall))).height >= 2  # the two wire paragraphs, once each
    reprints = _read(days / "out2", "reprints")
    assert reprints.select("earlier_doc_id", "later_doc_id").is_unique().all()


def test_same_input_same_config_same_ids(days):
    for table in ("documents", "paragraphs", "links"):
        assert _read(days / "out2", table).equals(_read(days / "again", table)), table


def test_the_manifest_names_the_id_scheme(days):
    manifest = json.loads((days / "out1" / "manifest.json").read_text())
    assert manifest["id_scheme"] == "xxh64(source_path#record_offset#source_hash)"


def test_an_output_with_the_old_id_scheme_is_refused_in_one_line(days, tmp_path):
    old = tmp_path / "old"
    for name in ("manifest.json", "fingerprints.parquet"):
        (old / name).parent.mkdir(exist_ok=True)
        (old / name).write_bytes((days / "out1" / name).read_bytes())
    manifest = json.loads((old / "manifest.json").read_text())
    del manifest["id_scheme"]  # what outputs of earlier versions hold
    (old / "manifest.json").write_text(json.dumps(manifest))
    completed = corpusclean("run", str(days / "day2" / "crawl"), "-o", str(tmp_path / "o"), "--against", str(old), "-q")
    assert completed.returncode == 2, completed.stderr
    assert completed.stderr.count("\n") == 1 and "xxh64(source_path#record_offset)" in completed.stderr
    assert not (tmp_path / "o").exists()  # refused before phase A


def test_pages_that_come_again_keep_their_near_and_contained_links(raw_out, tmp_path):
    """raw/ run again against its own output: every page comes again with its bytes and its ids, so
    the new output's links are the earlier output's. The earlier copy of each paragraph is the one
    that enters the near and contained searches (it comes first in its exact group), so pairs of two
    earlier paragraphs must count as new when a page comes again: without that, the 3 contained
    links between raw/'s pages and a reprint pair were lost, the exact links kept."""
    from tests.conftest import RAW

    again = tmp_path / "again"
    run([RAW], again, workers=1, against=[raw_out])
    earlier, now = _read(raw_out, "links"), _read(again, "links")
    assert set(earlier["kind"]) >= {"exact", "contained"}
    assert now.sort("left_id", "right_id").equals(earlier.sort("left_id", "right_id"))
    columns = ["earlier_doc_id", "later_doc_id", "kinds", "earlier_shared_paragraphs", "later_shared_paragraphs"]
    assert (_read(again, "reprints").select(columns).sort(columns).rows()
            == _read(raw_out, "reprints").select(columns).sort(columns).rows())
