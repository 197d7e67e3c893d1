"""``corpusclean export``: a run's deduplicated corpus as one Parquet or JSONL(.gz) file, one row a document.

Policies (``--dedup``), decided over the whole output folder before any filter:

* ``none``: every document with all its kept paragraphs (the text of ``documents.parquet``).
* ``paragraphs``: each document keeps its paragraphs that are canonical or no copy. A paragraph goes
  (``reason``) as ``copy`` when it is a non-canonical member of a cluster (an exact or near copy of an
  earlier paragraph, its canonical, which stays, or which is in an earlier output for ``--against``
  runs), as ``linked_copy`` when it is the later end of an ``exact`` or ``near`` link all the same (a
  near twin that a chain split off its canonical's cluster), and as ``exact_repeat`` when an earlier
  kept paragraph has the same text (short lines, which are never clustered). So no paragraph text is
  exported twice, and no two exported paragraphs make a near link. A document left with no
  paragraph goes as ``all_copies``.
* ``documents``: a document whose text is mostly copies of earlier documents goes whole as
  ``reprint``: its *copy share* (the characters of its paragraphs that are the later end of a shared
  pair, :func:`corpusclean.dedup.reprints.shared_paragraph_pairs`: a link or a cluster's canonical in
  another, earlier document) is above ``reprint_threshold``. The documents kept keep all their text.
  Since a pair's ``later_share`` in ``reprints.parquet`` is at most the later document's copy share,
  no two exported documents are reprints of each other above the threshold.

Then the filters: ``outlets`` (names, case-insensitive) drops the other outlets' documents (``outlet``),
``min_words`` the documents whose exported text has fewer words (``min_words``).

Every row keeps its provenance: ``doc_id``, ``source_path``, ``record_offset``, ``outlet``, ``url``,
``date`` (a date), and what the policy did to it: ``kept_paragraphs``, ``dropped_paragraphs``,
``dropped_chars``, ``copy_share`` and ``reason`` (the reasons its paragraphs went, comma-separated;
null when none did). Integer columns have no nulls (so pandas keeps them integers).

The output is a local folder or an ``s3://bucket/prefix``: then the tables of the generation its
manifest names are fetched to a temporary folder for the export (:func:`corpusclean.storage.local_copy`)
and read as a local folder's. The file written (``dest``, ``dropped_list``) is always local.

Memory: the paragraphs' metadata (no text) for the decisions, then the text of one batch of
documents (:data:`BATCH_PARAGRAPHS` paragraphs) at a time. The file is written under a temporary name
beside ``dest`` and renamed into place when complete (as :mod:`corpusclean.writers.parquet` does).
"""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import polars as pl

from . import storage
from .dedup.exact import CANONICAL_ORDER
from .dedup.reprints import shared_paragraph_pairs
from .errors import UsageError
from .writers.parquet import TableWriter

PARAGRAPH_SEPARATOR = "\n\n"  # as corpusclean.dedup.phase_b joins a document's paragraphs (not imported: numba)
POLICIES = ("none", "paragraphs", "documents")
FORMATS = ("parquet", "jsonl", "jsonl.gz")
#: Above this copy share a document is a reprint (``--dedup documents``). 0.8: a reprint with its own
#: short intro or a changed paragraph still goes (measured: see README), an article that quotes a
#: wire story at length but adds a fifth of its own text stays.
DEFAULT_REPRINT_THRESHOLD = 0.8
#: Paragraphs whose text is held at once while the file is written.
BATCH_PARAGRAPHS = 50_000

#: One exported row: a document.
EXPORT: dict[str, pl.DataType] = {
    "doc_id": pl.String, "source_path": pl.String, "record_offset": pl.Int64, "outlet": pl.String,
    "url": pl.String, "title": pl.String, "date": pl.Date, "author": pl.String, "text": pl.String,
    "n_words": pl.Int32, "n_chars": pl.Int32, "kept_paragraphs": pl.Int32, "dropped_paragraphs": pl.Int32,
    "dropped_chars": pl.Int32, "copy_share": pl.Float64, "reason": pl.String,
}
#: With ``dropped``: one row per document left out, and why (``reprint_of``: for a ``reprint``, the
#: earlier document that makes the largest share of it).
DROPPED: dict[str, pl.DataType] = {
    "doc_id": pl.String, "source_path": pl.String, "record_offset": pl.Int64, "outlet": pl.String,
    "url": pl.String, "title": pl.String, "date": pl.Date, "reason": pl.String, "copy_share": pl.Float64,
    "reprint_of": pl.String, "n_paragraphs": pl.Int32, "n_chars": pl.Int64,
}
#: The tables an export reads.
READS = ("documents", "paragraphs", "links")
PARAGRAPH_REASONS = ("copy", "linked_copy", "exact_repeat")
DOCUMENT_REASONS = ("reprint", "all_copies", "outlet", "min_words")


@dataclass
class ExportResult:
    """What an export wrote and dropped. ``dropped`` maps a reason to (documents, paragraphs,
    characters); for a paragraph reason the documents are those it shortened."""

    dest: Path
    format: str
    policy: str
    total: tuple[int, int, int]
    kept: tuple[int, int, int]
    dropped: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    dropped_list: Path | None = None

    def summary(self) -> str:
        lines = [f"export: {self.dest} ({self.format}, --dedup {self.policy})",
                 f"{'':24}{'documents':>12}{'paragraphs':>12}{'characters':>14}"]

        def line(label: str, values: Iterable[int]) -> str:
            docs, paragraphs, chars = values
            return f"{label:24}{docs:>12,}{paragraphs:>12,}{chars:>14,}"

        lines.append(line("in the output", self.total))
        lines.append(line("kept", self.kept))
        for reason, values in self.dropped.items():
            label = f"shortened: {reason}" if reason in PARAGRAPH_REASONS else f"dropped: {reason}"
            lines.append(line(label, values))
        if self.kept[0] == 0:
            lines.append("no document is left: the file holds the columns and no row")
        if self.dropped_list is not None:
            lines.append(f"documents left out, and why: {self.dropped_list}")
        return "\n".join(lines)


def _check_output(output: Path) -> None:
    if not output.exists():
        raise UsageError(f"no such output folder: {output}")
    if not output.is_dir():
        raise UsageError(f"{output} is not a folder; give the output folder of `corpusclean run`")
    try:
        manifest = json.loads((output / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError):
        raise UsageError(f"{output} is not a corpusclean output (no readable manifest.json); "
                         "give the output folder of `corpusclean run`") from None
    missing = [name for name in READS
               if not (output / f"{name}.parquet").is_file()]
    if not isinstance(manifest, dict) or manifest.get("tool") != "corpusclean" or missing:
        raise UsageError(f"{output} is not a complete corpusclean output"
                         + (f" (no {', '.join(m + '.parquet' for m in missing)})" if missing else ""))


def format_of(dest: Path, format: str | None) -> str:
    """``format`` if given, else from ``dest``'s name (``.jsonl.gz``, ``.jsonl``), else parquet."""
    if format is not None:
        if format not in FORMATS:
            raise UsageError(f"--format must be one of {', '.join(FORMATS)}, got {format!r}")
        return format
    name = dest.name.lower()
    return "jsonl.gz" if name.endswith(".jsonl.gz") else "jsonl" if name.endswith(".jsonl") else "parquet"


def paragraph_decisions(paragraphs: pl.DataFrame, links: pl.DataFrame, pairs: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per paragraph (metadata, no text): ``_drop`` (its reason under ``--dedup paragraphs``, or null)
    and ``_copied`` (whether it is the later end of a shared pair, for the copy share).

    Example: ``b-0`` is a copy of ``a-0`` (its cluster's canonical), ``b-1`` repeats the short ``a-1``.

        >>> p = pl.DataFrame({"paragraph_id": ["a-0", "a-1", "b-0", "b-1"], "doc_id": ["a", "a", "b", "b"],
        ...     "para_idx": [0, 1, 0, 1], "exact_hash": [1, 2, 1, 2], "canonical_id": ["a-0", "a-1", "a-0", "b-1"],
        ...     "canonical_doc_id": ["a", "a", "a", "b"], "similarity": [1.0, None, 1.0, None],
        ...     "date": ["2026-01-01"] * 4, "source_path": ["a", "a", "b", "b"], "record_offset": [0] * 4})
        >>> links = pl.DataFrame(schema={"left_id": pl.String, "right_id": pl.String, "left_doc_id": pl.String,
        ...                              "right_doc_id": pl.String, "kind": pl.String})
        >>> paragraph_decisions(p, links).select("paragraph_id", "_drop", "_copied").rows()
        [('a-0', None, False), ('a-1', None, False), ('b-0', 'copy', True), ('b-1', 'exact_repeat', False)]
    """
    similar = links.filter(pl.col("kind").is_in(["exact", "near"]))["right_id"].unique().implode()
    pairs = shared_paragraph_pairs(paragraphs, links) if pairs is None else pairs
    copied = pairs["later_id"].unique().implode()
    first = (paragraphs.with_row_index("_row")
             .with_columns(pl.when(pl.col("canonical_id") != pl.col("paragraph_id")).then(pl.lit("copy"))
                           .when(pl.col("paragraph_id").is_in(similar)).then(pl.lit("linked_copy"))
                           .alias("_drop")))
    order = first.filter(pl.col("_drop").is_null()).sort(CANONICAL_ORDER, nulls_last=True, maintain_order=True)
    repeats = order.filter(pl.col("_row") != pl.col("_row").first().over("exact_hash"))["_row"].implode()
    return first.with_columns(
        pl.when(pl.col("_row").is_in(repeats)).then(pl.lit("exact_repeat")).otherwise(pl.col("_drop")).alias("_drop"),
        pl.col("paragraph_id").is_in(copied).alias("_copied"),
    ).drop("_row")


def export(output: str | Path, dest: str | Path, format: str | None = None, policy: str = "paragraphs",
           reprint_threshold: float = DEFAULT_REPRINT_THRESHOLD, min_words: int = 0,
           outlets: Iterable[str] | None = None, dropped_list: str | Path | None = None) -> ExportResult:
    """Export the corpus in ``output`` (a folder, or ``s3://bucket/prefix``) to the local file ``dest``
    (see the module docstring); with ``dropped_list``, also write there (Parquet, or JSONL by its name)
    the documents left out (:data:`DROPPED`).

    Raises:
        UsageError: ``output`` is no complete corpusclean output (or its store cannot be read), an
        argument is out of range, or ``dest`` / ``dropped_list`` is an ``s3://`` URI.
    """
    manifest = None
    if storage.is_remote(output):
        manifest = storage.check_output(str(output), READS)  # bucket, credentials, manifest: before any work
    else:
        output = storage.local_path(output)
        _check_output(output)
    for path, flag in ((dest, "-o"), (dropped_list, "--dropped")):
        if storage.is_remote(path):
            raise UsageError(f"{flag} {path}: export writes a local file; give a local path (and upload it "
                             "afterwards if it belongs in the store)")
    dest = storage.local_path(dest)
    dropped_list = storage.local_path(dropped_list) if dropped_list is not None else None
    fmt = format_of(dest, format)
    if policy not in POLICIES:
        raise UsageError(f"--dedup must be one of {', '.join(POLICIES)}, got {policy!r}")
    if not 0 <= reprint_threshold <= 1:
        raise UsageError(f"--reprint-threshold must be between 0 and 1, got {reprint_threshold}")
    if min_words < 0:
        raise UsageError(f"--min-words must be 0 or more, got {min_words}")
    for path, flag in ((dest, "-o"), (dropped_list, "--dropped")):
        if path is not None and manifest is None and path.resolve().is_relative_to(output.resolve()):
            raise UsageError(f"{flag} {path} is inside the output folder {output}, whose next run would delete "
                             "it; write it elsewhere")
    if dropped_list is not None and dropped_list.resolve() == dest.resolve():
        raise UsageError("--dropped must name another file than -o")
    if dest.is_dir():
        raise UsageError(f"{dest} is a folder; give the file to write, e.g. -o {dest / ('corpus.' + fmt)}")
    wanted_outlets = {name.strip().lower() for name in outlets or () if name.strip()}
    with storage.local_copy(output, READS, manifest=manifest) as folder:
        return _export(folder, dest, fmt, policy, reprint_threshold, min_words, wanted_outlets, dropped_list)


def _export(output: Path, dest: Path, fmt: str, policy: str, reprint_threshold: float, min_words: int,
            wanted_outlets: set[str], dropped_list: Path | None) -> ExportResult:
    """The export of the local output folder ``output`` (checked), its arguments checked."""
    chars = (pl.col("char_end") - pl.col("char_start")).cast(pl.Int64).alias("chars")
    paragraph_scan = pl.scan_parquet(output / "paragraphs.parquet")
    meta = paragraph_scan.select("paragraph_id", "doc_id", "para_idx", "n_words", "exact_hash", "canonical_id",
                                 "canonical_doc_id", "similarity", "date", "source_path", "record_offset",
                                 chars).collect()
    links = pl.read_parquet(output / "links.parquet", columns=["left_id", "right_id", "left_doc_id",
                                                               "right_doc_id", "kind"])
    pairs = shared_paragraph_pairs(meta, links)
    decided = paragraph_decisions(meta, links, pairs).select("paragraph_id", "doc_id", "n_words", "chars", "_drop",
                                                      "_copied")
    # for each document, the earlier one that makes the largest share of it (ties: the earliest id)
    sources = (pairs.select("earlier_doc_id", "later_doc_id", "later_id").unique()
               .join(meta.select(pl.col("paragraph_id").alias("later_id"), "chars"), on="later_id")
               .group_by("earlier_doc_id", "later_doc_id").agg(pl.col("chars").sum())
               .sort("chars", "earlier_doc_id", descending=[True, False])
               .group_by("later_doc_id", maintain_order=True).first()
               .select(pl.col("later_doc_id").alias("doc_id"), pl.col("earlier_doc_id").alias("reprint_of")))
    del meta, pairs
    if policy != "paragraphs":
        decided = decided.with_columns(pl.lit(None, dtype=pl.String).alias("_drop"))
    kept_flag = pl.col("_drop").is_null()
    per_doc = decided.group_by("doc_id").agg(
        pl.len().alias("_paragraphs"), pl.col("chars").sum().alias("_chars"),
        kept_flag.sum().alias("kept_paragraphs"),
        pl.col("chars").filter(kept_flag).sum().alias("_kept_chars"),
        pl.col("n_words").filter(kept_flag).sum().alias("n_words"),
        pl.col("chars").filter(pl.col("_copied")).sum().alias("_copied_chars"),
        pl.col("_drop").drop_nulls().unique().sort().str.join(",").alias("reason"),
    )
    documents = (pl.scan_parquet(output / "documents.parquet")
                 .select("doc_id", "source_path", "record_offset", "outlet", "url", "title",
                         pl.col("date").cast(pl.String).str.to_date("%Y-%m-%d", strict=False), "author")
                 .collect()
                 .join(per_doc, on="doc_id", how="left", maintain_order="left")
                 .with_columns(pl.col("_paragraphs", "_chars", "kept_paragraphs", "_kept_chars", "n_words",
                                      "_copied_chars").fill_null(0))
                 .with_columns((pl.col("_copied_chars") / pl.col("_chars")).fill_nan(0.0).fill_null(0.0)
                               .alias("copy_share"),
                               (pl.col("_paragraphs") - pl.col("kept_paragraphs")).alias("dropped_paragraphs"),
                               (pl.col("_chars") - pl.col("_kept_chars")).alias("dropped_chars"),
                               pl.when(pl.col("reason") == "").then(None).otherwise(pl.col("reason")).alias("reason")))
    doc_reason = pl.lit(None, dtype=pl.String)
    if policy == "documents":
        doc_reason = pl.when(pl.col("copy_share") > reprint_threshold).then(pl.lit("reprint")).otherwise(doc_reason)
    if policy == "paragraphs":
        doc_reason = pl.when((pl.col("_paragraphs") > 0) & (pl.col("kept_paragraphs") == 0)).then(
            pl.lit("all_copies")).otherwise(doc_reason)
    if wanted_outlets:
        doc_reason = pl.when(doc_reason.is_null() & ~pl.col("outlet").fill_null("").str.to_lowercase().is_in(
            sorted(wanted_outlets))).then(pl.lit("outlet")).otherwise(doc_reason)
    if min_words:
        doc_reason = pl.when(doc_reason.is_null() & (pl.col("n_words") < min_words)).then(
            pl.lit("min_words")).otherwise(doc_reason)
    documents = documents.with_columns(doc_reason.alias("_doc_drop"))

    total = (documents.height, int(documents["_paragraphs"].sum()), int(documents["_chars"].sum()))
    kept_docs = documents.filter(pl.col("_doc_drop").is_null())
    kept = (kept_docs.height, int(kept_docs["kept_paragraphs"].sum()), int(kept_docs["_kept_chars"].sum()))
    dropped: dict[str, tuple[int, int, int]] = {}
    for reason in DOCUMENT_REASONS:  # a document dropped whole: all its paragraphs, under its reason
        gone = documents.filter(pl.col("_doc_drop") == reason)
        if gone.height:
            dropped[reason] = (gone.height, int(gone["_paragraphs"].sum()), int(gone["_chars"].sum()))
    if policy == "paragraphs":
        shortened = decided.join(kept_docs.select("doc_id"), on="doc_id").filter(pl.col("_drop").is_not_null())
        for reason in PARAGRAPH_REASONS:
            rows = shortened.filter(pl.col("_drop") == reason)
            if rows.height:
                dropped[reason] = (rows["doc_id"].n_unique(), rows.height, int(rows["chars"].sum()))

    keep_ids = decided.filter(kept_flag).join(kept_docs.select("doc_id"), on="doc_id").select("paragraph_id")
    rows = kept_docs.select(*(c for c in EXPORT if c not in ("text", "n_chars")), "_kept_chars")
    listed = None
    if dropped_list is not None:
        listed = dropped_list
        left_out = (documents.filter(pl.col("_doc_drop").is_not_null())
                    .join(sources, on="doc_id", how="left", maintain_order="left")
                    .with_columns(pl.col("_doc_drop").alias("reason"),
                                  pl.when(pl.col("_doc_drop") == "reprint").then(pl.col("reprint_of")).alias("reprint_of"),
                                  pl.col("_paragraphs").alias("n_paragraphs"), pl.col("_chars").alias("n_chars"))
                    .select(list(DROPPED)).cast(DROPPED))
        _write_rows(listed, format_of(listed, None), left_out)
    _write(dest, fmt, rows, paragraph_scan, keep_ids)
    return ExportResult(dest, fmt, policy, total, kept, dropped, listed)


def _write_rows(path: Path, fmt: str, table: pl.DataFrame) -> None:
    """``table`` to ``path`` as Parquet or JSONL(.gz), through a temporary file renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if fmt == "parquet":
            table.write_parquet(temporary, compression="zstd")
        else:
            with (gzip.open(temporary, "wb") if fmt == "jsonl.gz" else open(temporary, "wb")) as sink:
                table.write_ndjson(sink)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _batches(rows: pl.DataFrame) -> Iterable[pl.DataFrame]:
    """``rows`` in order, cut into runs of whole documents of about :data:`BATCH_PARAGRAPHS` paragraphs."""
    start, held = 0, 0
    counts = rows["kept_paragraphs"].to_list()
    for index, count in enumerate(counts):
        held += count
        if held >= BATCH_PARAGRAPHS:
            yield rows.slice(start, index + 1 - start)
            start, held = index + 1, 0
    if start < rows.height or rows.height == 0:
        yield rows.slice(start)


def _write(dest: Path, fmt: str, rows: pl.DataFrame, paragraph_scan: pl.LazyFrame, keep_ids: pl.DataFrame) -> None:
    """Write the rows with their texts, a batch of documents at a time, into a temporary file beside
    ``dest``, renamed into place once complete (removed if the export fails)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    keep = keep_ids.lazy()
    writer = TableWriter(dest, EXPORT) if fmt == "parquet" else None
    temporary = writer.temporary if writer else dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    sink = None
    try:
        if writer is None:
            sink = gzip.open(temporary, "wb", compresslevel=6) if fmt == "jsonl.gz" else open(temporary, "wb")
        for batch in _batches(rows):
            ids = batch["doc_id"].implode()
            texts = (paragraph_scan.filter(pl.col("doc_id").is_in(ids)).join(keep, on="paragraph_id")
                     .group_by("doc_id").agg(pl.col("text").sort_by("para_idx").str.join(PARAGRAPH_SEPARATOR))
                     .collect())
            table = (batch.join(texts, on="doc_id", how="left", maintain_order="left")
                     .with_columns(pl.col("text").fill_null(""))
                     .with_columns(pl.col("text").str.len_chars().alias("n_chars"))
                     .select(list(EXPORT)).cast(EXPORT))
            if writer is not None:
                writer.write(table)
            else:
                table.write_ndjson(sink)
            del table, texts
        if writer is not None:
            writer.close()  # renames its temporary file into place
        else:
            sink.close()
            os.replace(temporary, dest)
    except BaseException:
        if sink is not None:
            sink.close()
        if writer is not None and writer.writer is not None:
            writer.writer.close()
        temporary.unlink(missing_ok=True)
        raise
