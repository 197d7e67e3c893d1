"""End to end: the real CLI in a subprocess on raw/, tables read back with polars."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.conftest import RAW, REPO

TABLES = ("documents", "paragraphs", "removed", "links", "errors")
OUTLETS = {"Harbor Tribune", "Northwind Wire", "The Lantern", "Vostok-Vestnik"}


def corpusclean(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "corpusclean", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def read_tables(out: Path) -> dict[str, pl.DataFrame]:
    return {name: pl.read_parquet(out / f"{name}.parquet") for name in TABLES}


@pytest.fixture(scope="module")
def raw_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("raw-out")
    completed = corpusclean("run", "raw", "-o", str(out), "--workers", "2")
    assert completed.returncode == 0, completed.stderr
    return completed, out, read_tables(out), json.loads((out / "manifest.json").read_text())


def test_summary_is_printed(raw_run):
    completed, _, tables, _ = raw_run
    assert "documents" in completed.stdout and "removed by rule" in completed.stdout
    assert f"{tables['documents'].height}" in completed.stdout


def test_every_input_is_accounted_for(raw_run):
    _, _, tables, manifest = raw_run
    files = sorted(f"raw/{p.relative_to(RAW).as_posix()}" for p in RAW.rglob("*") if p.is_file())
    seen = set(tables["documents"]["source_path"]) | set(tables["errors"]["source_path"])
    assert seen == set(files)
    counts = manifest["counts"]
    assert counts["inputs"] == counts["documents"] + counts["errors"] == tables["documents"].height + tables["errors"].height
    # the JSONL file holds two records, each its own document
    assert tables["documents"].filter(pl.col("container") == "jsonl").height == 2


def test_page_without_article_is_an_error_with_a_reason(raw_run):
    _, _, tables, _ = raw_run
    errors = tables["errors"].to_dicts()
    assert [(e["source_path"], e["stage"], e["error_type"]) for e in errors] == [
        ("raw/harbor-tribune/page-not-found.html", "clean", "no_article")]
    assert "no article" in errors[0]["message"]


def test_cp1251_pages_decode_to_correct_text(raw_run):
    _, _, tables, _ = raw_run
    russian = tables["documents"].filter(pl.col("outlet") == "Vostok-Vestnik")
    assert russian.height == 2
    assert set(russian["encoding"]) == {"cp1251"} and set(russian["encoding_evidence"]) == {"detected"}
    text = "\n".join(russian["text"])
    assert "Портсмир" in text and "паром" in text.lower()
    assert "\u00a0" not in text and "Поделиться" not in text and "просмотров" not in text


def test_outlets_titles_and_dates(raw_run):
    _, _, tables, _ = raw_run
    documents = tables["documents"]
    assert set(documents["outlet"]) == OUTLETS
    by_path = {row["source_path"]: row for row in documents.to_dicts()}
    wire = by_path["raw/northwind-wire/portsmere-tidal-barrier-vote.txt"]
    assert (wire["title"], wire["date"], wire["outlet_source"]) == (
        "Portsmere council approves tidal barrier plan", "2026-03-14", "folder")
    tribune = by_path["raw/harbor-tribune/portsmere-votes-for-tidal-barrier.html"]
    assert tribune["outlet_source"] == "url" and tribune["url"].startswith("https://harbortribune.example/")
    lantern = by_path["raw/the-lantern/portsmere-barrier-what-comes-next.md"]
    assert lantern["date"] == "2026-03-15"  # from the "The Lantern, March 15, 2026" dateline


def test_chrome_is_removed_with_rule_ids(raw_run):
    _, _, tables, _ = raw_run
    reasons = set(tables["removed"]["reason"])
    for rule in ("generic.share_widget", "generic.view_counter", "generic.photo_credit_prefix", "generic.copyright",
                 "generic.facebook_comment", "generic.membership_ask", "generic.email_line", "generic.byline",
                 "generic.tag_block", "generic.outlet_dateline", "generic.disclaimer", "text.date_prefix",
                 "title.repeated", "harbor_tribune.funding_footer"):
        assert rule in reasons, rule
    text = "\n".join(tables["documents"]["text"])
    for chrome in ("Share:", "Print:", " views", "©", "Become a Member", "Disclaimer", "](#)", "**",
                   "independent newsroom funded by readers", "Region:", "date 2026-"):
        assert chrome not in text, chrome


def test_broken_paragraph_is_rejoined(raw_run):
    _, _, tables, _ = raw_run
    paragraphs = tables["paragraphs"]["text"].to_list()
    assert any("with one of the two engineering firms shortlisted last year" in p for p in paragraphs)


def test_exact_copies_cluster_across_outlets_with_the_wire_as_canonical(raw_run):
    _, _, tables, _ = raw_run
    paragraphs = tables["paragraphs"]
    clustered = paragraphs.filter(pl.col("cluster_id").is_not_null())
    assert clustered.height >= 6
    assert set(clustered["cluster_outlets"]) == {2}
    canonical = clustered.filter(pl.col("is_canonical"))
    assert set(canonical["outlet"]) == {"Northwind Wire"}  # the earliest date wins
    links = tables["links"]
    assert set(links["kind"]) == {"exact"} and links.height == clustered.height - canonical.height


def test_offsets_hashes_and_provenance(raw_run):
    _, _, tables, manifest = raw_run
    documents, paragraphs = tables["documents"], tables["paragraphs"]
    text_of = dict(zip(documents["doc_id"], documents["text"]))
    for row in paragraphs.iter_rows(named=True):
        assert text_of[row["doc_id"]][row["char_start"]:row["char_end"]] == row["text"]
    assert set(documents["config_hash"]) == set(paragraphs["config_hash"]) == {manifest["config_hash"]}
    assert documents["doc_id"].n_unique() == documents.height
    assert paragraphs["paragraph_id"].n_unique() == paragraphs.height


def test_same_input_gives_identical_tables_whatever_the_workers(raw_run, tmp_path):
    _, _, tables, _ = raw_run
    completed = corpusclean("run", "raw", "-o", str(tmp_path), "--workers", "1", "--quiet")
    assert completed.returncode == 0 and completed.stdout == ""
    again = read_tables(tmp_path)
    for name in TABLES:
        assert_frame_equal(again[name], tables[name])


def test_missing_input_is_a_usage_error(tmp_path):
    completed = corpusclean("run", str(tmp_path / "nope"), "-o", str(tmp_path / "out"))
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines() == [f"corpusclean: error: input path does not exist: {tmp_path / 'nope'}"]


def test_bad_config_key_names_the_key(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[extract]\ninclude_coments = true\n")
    completed = corpusclean("run", "raw", "-o", str(tmp_path / "out"), "--config", str(config))
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and "extract.include_coments" in lines[0] and "Traceback" not in completed.stderr


def test_strict_exits_1_when_an_input_failed(tmp_path):
    completed = corpusclean("run", "raw", "-o", str(tmp_path), "--strict", "--quiet")
    assert completed.returncode == 1
    assert "1 input(s) failed" in completed.stderr


def test_help_and_version():
    completed = corpusclean("run", "--help")
    assert completed.returncode == 0 and "--workers" in completed.stdout and "Example" in completed.stdout
    assert corpusclean("--version").stdout.startswith("corpusclean ")
