"""``corpusclean export``: the deduplicated corpus, run then exported by the real command line.

On raw/ and on a generated crawl (wire reprints, duplicate crawls), with each policy and format: the
files read back as they are with polars, pandas, duckdb and datasets; after ``--dedup paragraphs`` no
paragraph text is exported twice and no link of kind exact or near joins two exported paragraphs;
after ``--dedup documents`` no pair of ``reprints.parquet`` above the threshold is exported whole.
"""

from __future__ import annotations

import gzip
import json

import pandas as pd
import polars as pl
import pytest

from corpusclean import run
from corpusclean.export import EXPORT
from tests.conftest import corpusclean, corpusclean_together, load_benchmark_module

POLICIES = ("none", "paragraphs", "documents")
SEPARATOR = "\n\n"


@pytest.fixture(scope="module")
def runs(raw_cli_run, tmp_path_factory):
    """Output folders of a run on raw/ (``corpusclean run raw``, tests/conftest.py, shared with other
    files) and on a 1 MB generated text crawl (the pipeline in this process: what is tested here is
    the export, by the real command line)."""
    root = tmp_path_factory.mktemp("export")
    load_benchmark_module("crawl_generator").generate(root / "gen", 1_000_000, kind="text", quiet=True)
    run([root / "gen" / "raw"], root / "crawl-out", workers=1)
    return {"raw": raw_cli_run[1], "crawl": root / "crawl-out"}


@pytest.fixture(scope="module")
def exports(runs, tmp_path_factory):
    """(corpus, policy) -> (exported parquet file, the command's stdout)."""
    root = tmp_path_factory.mktemp("exported")
    cases = [(corpus, policy) for corpus in runs for policy in POLICIES]
    commands = []
    for corpus, policy in cases:
        dest = root / f"{corpus}-{policy}.parquet"
        dropped = ["--dropped", str(root / f"{corpus}-{policy}-dropped.parquet")] if policy == "documents" else []
        commands.append(["export", str(runs[corpus]), "-o", str(dest), "--dedup", policy, *dropped])
    made = {}
    for (corpus, policy), completed in zip(cases, corpusclean_together(*commands)):  # each to its own file
        assert completed.returncode == 0, completed.stderr
        made[corpus, policy] = (root / f"{corpus}-{policy}.parquet", completed.stdout)
    return made


def _paragraph_texts(frame: pl.DataFrame) -> list[str]:
    return [p for text in frame["text"].to_list() for p in text.split(SEPARATOR) if p]


@pytest.mark.parametrize("corpus", ["raw", "crawl"])
def test_none_exports_every_document_with_its_text(runs, exports, corpus):
    exported = pl.read_parquet(exports[corpus, "none"][0])
    documents = pl.read_parquet(runs[corpus] / "documents.parquet")
    assert exported["doc_id"].to_list() == documents["doc_id"].to_list()  # all, in the tables' order
    assert exported["text"].to_list() == documents["text"].to_list()
    assert exported["dropped_paragraphs"].sum() == 0 and exported["reason"].null_count() == exported.height
    assert exported.schema == pl.Schema(EXPORT)


@pytest.mark.parametrize("corpus", ["raw", "crawl"])
def test_after_paragraphs_no_text_twice_and_no_near_pair(runs, exports, corpus):
    exported = pl.read_parquet(exports[corpus, "paragraphs"][0])
    texts = _paragraph_texts(exported)
    assert len(texts) == len(set(texts)) == exported["kept_paragraphs"].sum()
    paragraphs = pl.read_parquet(runs[corpus] / "paragraphs.parquet", columns=["paragraph_id", "text", "doc_id"])
    text_of = dict(zip(paragraphs["paragraph_id"], paragraphs["text"]))
    links = pl.read_parquet(runs[corpus] / "links.parquet").filter(pl.col("kind").is_in(["exact", "near"]))
    assert links.height > 0
    present = set(texts)
    # exact links join equal texts, exported once at most (above); a near pair's two texts differ
    both = [(l, r) for l, r in zip(links["left_id"], links["right_id"]) if l in text_of and r in text_of
            and text_of[l] != text_of[r] and text_of[l] in present and text_of[r] in present]
    assert both == []
    # the canonical copies stay: every reprinted paragraph's text is exported once
    clustered = pl.read_parquet(runs[corpus] / "paragraphs.parquet").filter(pl.col("cluster_size") > 1)
    assert set(clustered.filter("is_canonical")["text"]) <= present
    assert exported.filter(pl.col("dropped_paragraphs") > 0)["reason"].null_count() == 0


def test_paragraphs_on_the_generated_crawl_drops_the_reprints_copies(exports):
    exported = pl.read_parquet(exports["crawl", "paragraphs"][0])
    stdout = exports["crawl", "paragraphs"][1]
    assert exported["dropped_paragraphs"].sum() > 100 and "shortened: copy" in stdout
    assert "dropped: all_copies" in stdout  # the duplicate crawls: byte-identical pages


@pytest.mark.parametrize("corpus", ["raw", "crawl"])
def test_after_documents_no_two_exported_documents_are_reprints(runs, exports, corpus):
    exported = pl.read_parquet(exports[corpus, "documents"][0])
    kept = set(exported["doc_id"])
    reprints = pl.read_parquet(runs[corpus] / "reprints.parquet")
    above = reprints.filter(pl.col("later_share") > 0.8)  # the later document is the reprint
    both = above.filter(pl.col("earlier_doc_id").is_in(list(kept)) & pl.col("later_doc_id").is_in(list(kept)))
    assert both.is_empty()
    assert exported["copy_share"].max() <= 0.8
    documents = pl.read_parquet(runs[corpus] / "documents.parquet")
    # kept documents keep all their text
    assert exported.join(documents, on="doc_id").filter(pl.col("text") != pl.col("text_right")).is_empty()
    # the documents left out are listed with their reason and, for a reprint, its source
    listed = pl.read_parquet(exports[corpus, "documents"][0].with_name(f"{corpus}-documents-dropped.parquet"))
    assert sorted(listed["doc_id"].to_list() + exported["doc_id"].to_list()) == sorted(documents["doc_id"])
    assert (listed["reason"] == "reprint").all() and (listed["copy_share"] > 0.8).all()
    sources = set(reprints.select("earlier_doc_id", "later_doc_id").iter_rows())
    assert all((source, doc) in sources for doc, source in listed.select("doc_id", "reprint_of").iter_rows())
    if corpus == "crawl":
        assert reprints.filter(pl.col("later_share") > 0.8).height > 0
        assert exported.height < documents.height and "dropped: reprint" in exports[corpus, "documents"][1]


def test_the_summary_adds_up(exports):
    for (corpus, policy), (path, stdout) in exports.items():
        rows = {line[:24].strip(): [int(v.replace(",", "")) for v in line[24:].split()]
                for line in stdout.splitlines()[2:] if line[:24].strip() and not line.startswith(("wrote", "documents left out"))}
        total, kept = rows.pop("in the output"), rows.pop("kept")
        exported = pl.read_parquet(path)
        assert kept[0] == exported.height and kept[1] == exported["kept_paragraphs"].sum()
        for column in range(3):
            dropped = sum(values[column] for label, values in rows.items() if label.startswith("dropped"))
            shortened = sum(values[column] for label, values in rows.items() if label.startswith("shortened"))
            if column == 0:
                assert total[0] == kept[0] + dropped, (corpus, policy, stdout)
            else:
                assert total[column] == kept[column] + dropped + shortened, (corpus, policy, stdout)


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "jsonl.gz"])
def test_readable_as_it_is_by_polars_pandas_duckdb_and_datasets(runs, tmp_path, fmt):
    import datasets
    import duckdb

    dest = tmp_path / f"corpus.{fmt}"
    completed = corpusclean("export", str(runs["crawl"]), "-o", str(dest), "--dedup", "paragraphs")
    assert completed.returncode == 0, completed.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [dest.name]  # no temporary file left
    if fmt == "parquet":
        frames = {"polars": pl.read_parquet(dest), "pandas": pd.read_parquet(dest),
                  "duckdb": duckdb.sql(f"select * from read_parquet('{dest}')").df()}
        loaded = datasets.load_dataset("parquet", data_files=str(dest), split="train",
                                       cache_dir=str(tmp_path / ".." / "hf-cache"))
        pandas = frames["pandas"]
        for name, dtype in EXPORT.items():  # integers stay integers, the date is a date
            if dtype.is_integer():
                assert pd.api.types.is_integer_dtype(pandas[name]), (name, pandas[name].dtype)
        assert loaded.features["date"].dtype == "date32" and loaded.features["record_offset"].dtype == "int64"
    else:
        frames = {"polars": pl.read_ndjson(dest) if fmt == "jsonl" else pl.read_ndjson(gzip.open(dest)),
                  "pandas": pd.read_json(dest, lines=True),
                  "duckdb": duckdb.sql(f"select * from read_json_auto('{dest}')").df()}
        loaded = datasets.load_dataset("json", data_files=str(dest), split="train",
                                       cache_dir=str(tmp_path / ".." / "hf-cache"))
        first = json.loads((gzip.open(dest, "rt") if fmt == "jsonl.gz" else open(dest)).readline())
        assert list(first) == list(EXPORT) and first["date"][4] == "-"
    expected = pl.read_parquet(runs["crawl"] / "paragraphs.parquet", columns=["doc_id"])["doc_id"].n_unique()
    heights = {name: len(frame) for name, frame in frames.items()} | {"datasets": loaded.num_rows}
    assert len(set(heights.values())) == 1 and 0 < heights["polars"] <= expected, heights
    assert set(loaded.column_names) == set(EXPORT)
    assert frames["polars"]["doc_id"].to_list() == list(frames["pandas"]["doc_id"]) == loaded["doc_id"]


def test_filters_outlets_and_min_words(runs, tmp_path):
    dest = tmp_path / "some.jsonl"
    completed = corpusclean("export", str(runs["raw"]), "-o", str(dest), "--dedup", "none",
                            "--outlets", "northwind wire, The Lantern", "--min-words", "120")
    assert completed.returncode == 0, completed.stderr
    exported = pl.read_ndjson(dest)
    assert set(exported["outlet"]) <= {"Northwind Wire", "The Lantern"} and exported.height > 0
    assert exported["n_words"].min() >= 120
    assert "dropped: outlet" in completed.stdout and "dropped: min_words" in completed.stdout


def test_usage_errors_are_one_line_and_exit_2(runs, tmp_path):
    cases = [
        (["export", str(tmp_path / "missing"), "-o", str(tmp_path / "x.parquet")], "no such output folder"),
        (["export", str(tmp_path), "-o", str(tmp_path / "x.parquet")], "not a corpusclean output"),
        (["export", str(runs["raw"]), "-o", str(tmp_path / "x"), "--format", "csv"], "--format must be one of"),
        (["export", str(runs["raw"]), "-o", str(tmp_path / "x"), "--dedup", "all"], "--dedup must be one of"),
        (["export", str(runs["raw"]), "-o", str(tmp_path / "x"), "--reprint-threshold", "2"], "between 0 and 1"),
        (["export", str(runs["raw"]), "-o", str(runs["raw"] / "x.parquet")], "inside the output folder"),
        (["export", str(runs["raw"]), "-o", str(tmp_path / "x"), "--dropped", str(tmp_path / "x")], "another file"),
    ]
    completed = corpusclean(*cases[0][0])  # one through the real command line, the others in-process
    assert completed.returncode == 2 and completed.stderr.count("\n") == 1 and cases[0][1] in completed.stderr
    for args, message in cases[1:]:
        result = _invoke(args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.parquet").exists()


def test_an_existing_export_is_replaced_whole(runs, tmp_path):
    dest = tmp_path / "corpus.parquet"
    dest.write_bytes(b"previous")
    completed = corpusclean("export", str(runs["raw"]), "-o", str(dest), "--dedup", "none")
    assert completed.returncode == 0 and pl.read_parquet(dest).height == 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.parquet"]


def _invoke(args: list[str]):
    from typer.testing import CliRunner

    from corpusclean.cli import app

    return CliRunner().invoke(app, args)


def test_help_explains_each_policy():
    result = _invoke(["export", "--help"])
    text = " ".join(result.stdout.split())
    assert result.exit_code == 0
    for words in ("none: every document", "paragraphs: a document keeps", "documents: whole documents",
                  "--reprint-threshold", "--min-words", "--outlets", "jsonl.gz"):
        assert words in text, words
