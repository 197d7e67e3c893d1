"""End to end: the real CLI in a subprocess on raw/, tables read back with polars."""

from __future__ import annotations

import datetime

import json
import os
import subprocess
import sys

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.conftest import RAW, TABLES, corpusclean, corpusclean_together, read_tables

OUTLETS = {"Harbor Tribune", "Northwind Wire", "The Lantern", "Vostok-Vestnik"}


@pytest.fixture(scope="module")
def raw_run(raw_cli_run):
    """``corpusclean run raw -o OUT --workers 2`` (tests/conftest.py, shared with other files)."""
    completed, out = raw_cli_run
    return completed, out, read_tables(out), json.loads((out / "manifest.json").read_text())


def test_summary_is_printed(raw_run):
    completed, _, tables, manifest = raw_run
    assert "documents" in completed.stdout and "removed by rule" in completed.stdout
    assert f"{tables['documents'].height}" in completed.stdout
    # records, not "inputs"; the rate with a decimal where it is small, not "(1 docs/s)" (issue 16)
    assert f"{manifest['counts']['inputs']} (documents and errors)" in completed.stdout
    assert "records/s)" in completed.stdout and "docs/s" not in completed.stdout


def test_summary_says_how_many_shards_were_resumed(tmp_path):
    out = tmp_path / "out"
    assert corpusclean("extract", "raw", "-o", str(out), "-q").returncode == 0
    done = corpusclean("run", "raw", "-o", str(out), env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["shards_resumed"] == manifest["shards"] > 0
    assert f"in {manifest['shards']} shard(s), {manifest['shards_resumed']} resumed from an earlier run" in done.stdout


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
        "Portsmere council approves tidal barrier plan", datetime.date(2026, 3, 14), "folder")
    tribune = by_path["raw/harbor-tribune/portsmere-votes-for-tidal-barrier.html"]
    assert tribune["outlet_source"] == "url" and tribune["url"].startswith("https://harbortribune.example/")
    lantern = by_path["raw/the-lantern/portsmere-barrier-what-comes-next.md"]
    assert lantern["date"] == datetime.date(2026, 3, 15)  # a Parquet date, from the "The Lantern, March 15, 2026" dateline


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


def test_same_outlet_footer_is_removed_as_a_template(raw_run):
    _, _, tables, _ = raw_run
    templates = tables["removed"].filter(pl.col("reason") == "template")
    assert templates.height == 4  # the Northwind licence line, in its four documents
    assert set(templates["outlet"]) == {"Northwind Wire"}
    assert set(templates["text"]) == {"Northwind Wire stories may be republished by member newspapers "
                                      "under the cooperative's licence."}
    assert not any("republished by member newspapers" in t for t in tables["documents"]["text"])


def test_broken_paragraph_is_rejoined(raw_run):
    _, _, tables, _ = raw_run
    paragraphs = tables["paragraphs"]["text"].to_list()
    assert any("with one of the two engineering firms shortlisted last year" in p for p in paragraphs)


def test_the_wire_story_is_linked_where_it_travelled(raw_run):
    _, _, tables, _ = raw_run
    paragraphs, links = tables["paragraphs"], tables["links"]
    text = dict(zip(paragraphs["paragraph_id"], paragraphs["text"]))
    outlet = dict(zip(paragraphs["paragraph_id"], paragraphs["outlet"]))
    kinds = {}
    for row in links.iter_rows(named=True):
        # every link runs from the wire (earliest) to an outlet that reprinted it
        assert outlet[row["left_id"]] == "Northwind Wire" and outlet[row["right_id"]] != "Northwind Wire"
        kinds.setdefault(row["kind"], []).append(text[row["right_id"]])
    assert sorted(t[:20] for t in kinds["exact"]) == ["Councillor Dev Marlo", "Funding will come fr", "The barrier, a row o"]
    contained = kinds["contained"]
    assert any(t.startswith("Opponents, led by") for t in contained)          # reprinted with light edits
    assert any(t.startswith("Carrow, who grew up") for t in contained)        # a quote re-wrapped
    assert any(t.startswith("The mayor put the stakes plainly") for t in contained)  # quoted by The Lantern
    clustered = paragraphs.filter(pl.col("cluster_id").is_not_null())
    canonical = clustered.filter(pl.col("is_canonical"))
    assert set(canonical["outlet"]) == {"Northwind Wire"}  # the earliest date wins
    assert (clustered["cluster_outlets"] >= 2).all()


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


# --strict exiting 1 with "1 input(s) failed" when an input failed: test_hostile.py::
# test_strict_exits_1_and_plain_run_exits_0 (the same assertions, and exit 0 without --strict).


def test_help_and_version():
    completed = corpusclean("run", "--help")
    assert completed.returncode == 0 and "--workers" in completed.stdout and "Example" in completed.stdout
    assert corpusclean("--version").stdout.startswith("corpusclean ")


def test_help_shows_no_bool_placeholder_and_keeps_bracketed_words():
    # typer printed <bool> beside every flag, and rich markup ate "[ray]" and "[dedup]" (issue 16)
    wide = {**os.environ, "COLUMNS": "200"}
    commands = ((), ("run",), ("extract",), ("dedup",), ("report",), ("inspect",))
    helps = dict(zip(commands, corpusclean_together(*((*command, "--help") for command in commands), env=wide)))
    for command, done in helps.items():
        assert done.returncode == 0 and "--help" in done.stdout and "<bool>" not in done.stdout, command
    assert "pip install 'corpusclean[ray]'" in helps[("run",)].stdout
    assert "Config whose [dedup] section" in helps[("dedup",)].stdout


@pytest.mark.parametrize("workers", ["0", "-1"])
def test_workers_below_1_is_one_line_and_exit_2(tmp_path, workers):
    done = corpusclean("run", "raw", "-o", str(tmp_path / "out"), f"--workers={workers}")
    assert done.returncode == 2
    assert done.stderr == f"corpusclean: error: --workers must be 1 or more, got {workers}\n"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, message", [
    (["run"], "Missing argument 'INPUT'. (see 'corpusclean run --help')"),
    (["run", "raw", "--bogus"], "No such option: --bogus (see 'corpusclean run --help')"),
    (["frobnicate"], "No such command 'frobnicate'. (see 'corpusclean --help')"),
    (["run", "raw", "--workers", "two"], "Invalid value for '--workers' / '-w': "),
    (["export"], "Missing argument 'OUT'. (see 'corpusclean export --help')"),
])
def test_click_usage_errors_are_one_line_and_exit_2(args, message):
    # click's own errors, before any command runs: one line like the tool's, no usage block or box
    done = corpusclean(*args)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("corpusclean: error: ")
    assert message in done.stderr.replace("python -m corpusclean", "corpusclean")  # as it was called


def test_no_arguments_prints_the_help():
    done = corpusclean()
    assert done.returncode == 2 and "Usage: python -m corpusclean" in done.stdout and "export" in done.stdout


def test_extract_then_dedup_gives_the_tables_of_run(raw_run, tmp_path):
    _, _, tables, _ = raw_run
    assert corpusclean("extract", "raw", "-o", str(tmp_path), "--quiet").returncode == 0
    assert not (tmp_path / "links.parquet").exists()  # phase A writes only its shards
    completed = corpusclean("dedup", str(tmp_path))
    assert completed.returncode == 0, completed.stderr
    again = read_tables(tmp_path)
    for name in TABLES:
        assert_frame_equal(again[name], tables[name])


def test_dedup_without_phase_a_output_is_a_usage_error(tmp_path):
    completed = corpusclean("dedup", str(tmp_path))
    assert completed.returncode == 2
    assert "no phase-A output" in completed.stderr and len(completed.stderr.strip().splitlines()) == 1


def test_rerun_resumes_finished_shards_unless_fresh(raw_run, tmp_path):
    _, _, tables, _ = raw_run
    config = tmp_path / "small-shards.toml"
    config.write_text("[run]\nshard_files = 3\n")
    out = tmp_path / "out"
    # one worker: resuming is decided before any shard is handed out (a pool of workers resuming
    # is test_hostile.py's and test_signals.py's), and a pool would start two more interpreters a run
    one = ("-q", "--workers", "1")
    assert corpusclean("run", "raw", "-o", str(out), "-c", str(config), *one, "--keep-work").returncode == 0
    first = json.loads((out / "manifest.json").read_text())
    assert first["shards"] == 4 and first["shards_resumed"] == 0 and (out / "_work").is_dir()
    assert corpusclean("run", "raw", "-o", str(out), "-c", str(config), *one, "--keep-work").returncode == 0
    assert json.loads((out / "manifest.json").read_text())["shards_resumed"] == 4
    assert corpusclean("run", "raw", "-o", str(out), "-c", str(config), *one, "--fresh").returncode == 0
    assert json.loads((out / "manifest.json").read_text())["shards_resumed"] == 0
    assert not (out / "_work").exists()  # removed after success unless --keep-work
    again = read_tables(out)
    # the shard size changes the config hash, nothing else
    for name in TABLES:
        assert_frame_equal(again[name].drop("config_hash", strict=False), tables[name].drop("config_hash", strict=False))


def test_cli_sets_polars_allocator_options_before_polars_is_loaded():
    # jemalloc reads _RJEM_MALLOC_CONF once, when polars is imported: the command must set its
    # options first, and after any value a parent (one that imported polars itself) exported
    code = "import os, sys, corpusclean.cli; print('polars' in sys.modules, os.environ['_RJEM_MALLOC_CONF'])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "_RJEM_MALLOC_CONF": "dirty_decay_ms:500,muzzy_decay_ms:1000"})
    assert done.stdout.split() == ["False", "dirty_decay_ms:500,muzzy_decay_ms:1000,narenas:1,muzzy_decay_ms:0"]
