"""The HTML report of a run: one self-contained page that opens offline.

``render_report(OUT, OUT/report.html)`` reads the tables of a finished run (lazily, only the columns
and rows a section needs) and renders the Jinja2 templates in ``templates/`` (``report.html.j2`` and
one template per section; autoescaping on) into one HTML file with inline CSS, a few lines of inline
script and figures drawn by matplotlib as inline SVG. No CDN, no external file. Sections:

1. **Run summary**: counts and timings from ``manifest.json``.
2. **Who reprints whom**: an outlet × outlet heatmap (``id="heatmap"``). Row = outlet of a cluster's
   canonical copy (earliest date, then source path, record offset, paragraph index) or of a quote's
   source, column = outlet of a later copy or quote; a cell counts cluster members (non-canonical
   paragraphs) and ``contained`` links of that pair, so the diagonal is reuse within one outlet. The
   caption counts the copies whose direction is a same-day (or undated) tie, decided by path order;
   the "largest flows" table counts paragraphs and documents (distinct document pairs).
3. **Reprints** (when the run has ``reprints.parquet``): the largest document pairs sharing text,
   earlier document → later one, with outlets, dates, lag and the share of each document.
4. **Largest clusters**: the canonical text, then every member's outlet, date, document and its link to
   the canonical copy (kind, Jaccard, containment).
5. **Quotes**: ``contained`` links, longest shared passage first, both paragraphs with the passage
   highlighted (``<mark>``) in each, from the span columns of ``links.parquet``.
6. **Removals** by rule (with a bar chart) and by outlet.
7. **Errors** by reason, then the failed inputs themselves.
8. **Documents**: each document's text in source order, removed spans struck through (``<del>``, the
   rule in its title), reused paragraphs linked to their cluster (anchor links within the page), the
   passages of contained links highlighted (their title names the paragraph on the other end), and the
   document's reprints and sources.

A 100k-document run stays fast and small because every section is capped (``max_documents``,
``max_clusters``, ``max_outlets`` and the ``MAX_*`` constants below), and the page says what it left out
("showing 200 of 100,000 documents"). Every piece of text from the corpus reaches the page through a
template's autoescaping; the only markup passed in as safe is the SVG of our own figures.

An output in an object store (``s3://bucket/prefix``) is read through :func:`open_output`: the tables
of the generation its manifest names are fetched to a temporary folder for the call
(:func:`corpusclean.storage.local_copy`), then read exactly as a local folder's (the report reads
most of every table anyway); ``inspect`` reads them in place instead (``in_place``), fetching only
the row groups its queries need.

The data-gathering helpers (:func:`open_run`, :func:`open_output`, :func:`clustered_paragraphs`, :func:`reuse_pairs`,
:func:`member_links`, :func:`document_blocks`, ...) are shared with :mod:`corpusclean.views.inspect`.
"""

from __future__ import annotations

import io
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import jinja2
import numpy as np
import polars as pl
from markupsafe import Markup

from .. import storage
from ..dedup.spans import SPAN_COLUMNS
from ..errors import UsageError
from ..failpoints import failpoint

TABLES = ("documents", "paragraphs", "removed", "links", "errors")
NO_OUTLET = "(no outlet)"

MAX_MEMBERS_PER_CLUSTER = 25     # members listed under each cluster
MAX_RULES = 60                   # rows of "removals by rule" (the chart shows the top 25)
MAX_ERROR_ROWS = 100             # failed inputs listed one by one
MAX_BLOCKS_PER_DOCUMENT = 120    # paragraphs + removed spans shown per document
MAX_PAIRS = 30                   # rows of the "largest flows" table beside the heatmap
MEMBER_TEXT_CHARS = 600          # a member's own text (when it differs from the canonical) is cut here
MAX_QUOTES = 30                  # contained links shown with their shared passage
MAX_MARK_TITLES = 3              # paragraphs named in the hover text of one highlighted passage
MAX_REPRINTS = 50                # document pairs in the "reprints" section
MAX_REPRINTS_PER_DOCUMENT = 10   # reprints, and sources, listed under each document


# --------------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class RunOutput:
    """A finished run's output: its manifest, and its tables scanned lazily on demand. ``root`` is its
    folder (or a local copy of it), or None for an ``s3://`` output read in place: each scan then
    fetches only what its query needs of the table where the manifest's generation has it
    (:func:`corpusclean.storage.scan_table`). ``label`` is what messages and the page call the output
    when it is not ``root`` (its ``s3://`` URI)."""

    root: Path | None
    manifest: dict[str, Any]
    label: str | None = None

    @property
    def where(self) -> str:
        """The output as the user named it: its folder, or its ``s3://`` URI."""
        return self.label or str(self.root)

    @property
    def name(self) -> str:
        """The output's last path segment (the page's title)."""
        return self.label.rstrip("/").rsplit("/", 1)[-1] if self.label else (self.root.name or str(self.root))

    def has(self, name: str) -> bool:
        """Whether the output has the table ``name`` (``reprints`` is missing from older versions' outputs)."""
        if self.root is None:
            return name in self.manifest.get("storage", {}).get("tables", {})
        return (self.root / f"{name}.parquet").is_file()

    def scan(self, name: str) -> pl.LazyFrame:
        if self.root is None:
            return storage.scan_table(storage.table_uri(self.label, name, self.manifest))
        return pl.scan_parquet(self.root / f"{name}.parquet")


@contextmanager
def open_output(out_dir: str | Path, *, in_place: bool = False) -> Iterator[RunOutput]:
    """:func:`open_run` of a local folder, or of an ``s3://`` output for the ``with`` block: its
    manifest's generation is fetched into a temporary folder (removed after the block) by
    :func:`corpusclean.storage.local_copy`; or, ``in_place``, read where it is (the manifest checked
    by :func:`corpusclean.storage.check_output`, each table scanned by
    :func:`corpusclean.storage.scan_table`), for views that read a few rows of large tables
    (``inspect``): what is fetched is then the tables' footers and the row groups their queries need,
    not whole tables, as long as their queries filter on a column whose statistics prune row groups
    (``source_path``, see ``source_paths`` below)."""
    remote = storage.is_remote(out_dir)
    if remote and in_place:
        manifest = storage.check_output(str(out_dir), TABLES)
        failpoint("inspect.opened")
        yield RunOutput(None, manifest, storage.normalize(str(out_dir)))
        return
    with storage.local_copy(out_dir, TABLES, optional=("reprints",)) as folder:
        yield open_run(folder, label=storage.normalize(str(out_dir)) if remote else None)


def open_run(out_dir: str | Path, label: str | None = None) -> RunOutput:
    """Check that ``out_dir`` holds a finished run (five tables and ``manifest.json``) and open it.

    Raises:
        UsageError: the folder or one of its files is missing or unreadable.
    """
    root = Path(out_dir)
    if not root.is_dir():
        raise UsageError(f"no such output folder: {root}")
    missing = [f"{name}.parquet" for name in TABLES if not (root / f"{name}.parquet").is_file()]
    if not (root / "manifest.json").is_file():
        missing.append("manifest.json")
    if missing:
        raise UsageError(f"{root} is not a finished corpusclean run ({', '.join(missing)} missing): "
                         f"run `corpusclean run INPUT... -o {root}` first")
    try:
        manifest = json.loads((root / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {root / 'manifest.json'}: {exc}") from None
    return RunOutput(root, manifest, label)


def outlet_name(column: str = "outlet") -> pl.Expr:
    """The outlet column with null or empty shown as ``(no outlet)`` (outlets are never guessed)."""
    col = pl.col(column)
    return pl.when(col.is_null() | (col == "")).then(pl.lit(NO_OUTLET)).otherwise(col).alias(column)


def within(source_paths: Sequence[str] | None) -> pl.Expr:
    """Rows of the documents at ``source_paths`` (all rows when None), for a table with ``source_path``.

    Why: a filter on ids (hashes) prunes no row group, one on ``source_path`` does (the tables are
    written in path order, a row group per slice of a shard): an ``s3://`` output read in place
    (:func:`open_output`) then fetches the row groups of those documents, not the whole table. A
    query of some documents' rows adds it, their paths in hand, and gets the same rows."""
    if source_paths is None:
        return pl.lit(True)
    return pl.col("source_path").is_in(pl.Series(list(source_paths), dtype=pl.String).implode())


def clustered_paragraphs(run: RunOutput, *, with_text: bool = False,
                         source_paths: Sequence[str] | None = None) -> pl.LazyFrame:
    """Paragraphs that belong to a cluster (``cluster_id`` not null), without text unless asked; only
    those of the documents at ``source_paths`` if given (:func:`within`)."""
    columns = ["paragraph_id", "doc_id", "para_idx", "outlet", "date", "cluster_id", "cluster_size",
               "is_canonical", "canonical_id", "canonical_doc_id", "similarity", "cluster_outlets"]
    return (run.scan("paragraphs").filter(within(source_paths) & pl.col("cluster_id").is_not_null())
            .select(columns + (["text"] if with_text else [])).with_columns(outlet_name()))


def reuse_pairs(run: RunOutput) -> pl.DataFrame:
    """Reused paragraphs per (outlet of the source, outlet of the later copy or quote), largest first.

    Columns ``source_outlet``, ``reprint_outlet``, ``paragraphs``. Each non-canonical member of a cluster
    counts once, against its cluster's canonical (earliest dated) paragraph; each ``contained`` link (a
    quote, which joins no cluster) counts once, from its earlier end to its later one. (:func:`reuse_flows`
    adds the document pairs and the same-day ties.)
    """
    return reuse_flows(run).select("source_outlet", "reprint_outlet", "paragraphs")


def reuse_flows(run: RunOutput) -> pl.DataFrame:
    """The pairs of :func:`reuse_pairs` with three more counts per (source outlet, reprint outlet):

    * ``documents``: distinct (source document, reprinting document) pairs among those paragraphs (a
      document repeating its own paragraph is no document pair and is not counted);
    * ``same_day``: paragraphs whose direction is a tie, both ends on the same date or both undated:
      the canonical order (date, then ``source_path``, ``record_offset``, ``para_idx``) fell back on
      path order, so the direction is not evidence of who copied whom;
    * ``undated``: a dated source and an undated copy (undated sorts last).
    """
    clustered = clustered_paragraphs(run)
    date = pl.col("date").cast(pl.String)
    columns = ["source_outlet", "reprint_outlet", "source_doc", "reprint_doc", "source_date", "reprint_date"]
    canonical = clustered.filter(pl.col("is_canonical")).select(
        pl.col("paragraph_id").alias("canonical_id"), pl.col("outlet").alias("source_outlet"),
        pl.col("doc_id").alias("source_doc"), date.alias("source_date"))
    copies = (clustered.filter(~pl.col("is_canonical")).join(canonical, on="canonical_id", how="inner")
              .with_columns(pl.col("outlet").alias("reprint_outlet"), pl.col("doc_id").alias("reprint_doc"),
                            date.alias("reprint_date"))
              .select(columns))
    ends = run.scan("paragraphs").select("paragraph_id", outlet_name(), "doc_id", date)

    def end(side: str, role: str) -> pl.LazyFrame:
        return ends.rename({"paragraph_id": f"{side}_id", "outlet": f"{role}_outlet", "doc_id": f"{role}_doc",
                            "date": f"{role}_date"})

    quotes = (run.scan("links").filter(pl.col("kind") == "contained").select("left_id", "right_id")
              .join(end("left", "source"), on="left_id").join(end("right", "reprint"), on="right_id")
              .select(columns))
    source, reprint = pl.col("source_date"), pl.col("reprint_date")
    tie = (source == reprint).fill_null(False) | (source.is_null() & reprint.is_null())
    return (pl.concat([copies, quotes]).group_by("source_outlet", "reprint_outlet")
            .agg(pl.len().alias("paragraphs"),
                 pl.struct("source_doc", "reprint_doc").filter(pl.col("source_doc") != pl.col("reprint_doc"))
                 .n_unique().cast(pl.UInt32).alias("documents"),
                 tie.sum().cast(pl.UInt32).alias("same_day"),
                 (source.is_not_null() & reprint.is_null()).sum().cast(pl.UInt32).alias("undated"))
            .sort(["paragraphs", "source_outlet", "reprint_outlet"], descending=[True, False, False])
            .collect())


def reuse_matrix(pairs: pl.DataFrame, max_outlets: int) -> tuple[list[str], np.ndarray, int]:
    """The heatmap's data: the ``max_outlets`` outlets with the most shared paragraphs (as source plus
    as reprinter), the count matrix over them (row = source, column = reprinter), and how many outlets
    share anything at all."""
    totals = pl.concat([
        pairs.select(pl.col("source_outlet").alias("outlet"), "paragraphs"),
        pairs.select(pl.col("reprint_outlet").alias("outlet"), "paragraphs"),
    ]).group_by("outlet").agg(pl.col("paragraphs").sum()).sort(["paragraphs", "outlet"], descending=[True, False])
    outlets = totals["outlet"].head(max_outlets).to_list()
    index = {name: i for i, name in enumerate(outlets)}
    matrix = np.zeros((len(outlets), len(outlets)), dtype=np.int64)
    for source, reprint, count in pairs.iter_rows():
        if source in index and reprint in index:
            matrix[index[source], index[reprint]] += count
    return outlets, matrix, totals.height


def largest_clusters(run: RunOutput, limit: int) -> tuple[pl.DataFrame, int]:
    """The ``limit`` largest clusters (size, then number of outlets, then earliest canonical date), as
    their canonical paragraphs with text, and the number of clusters in the run."""
    canonical = clustered_paragraphs(run).filter(pl.col("is_canonical"))
    total = canonical.select(pl.len()).collect().item()
    top = (canonical.sort(["cluster_size", "cluster_outlets", "date", "cluster_id"],
                          descending=[True, True, False, False], nulls_last=True)
           .head(limit).collect())
    texts = (run.scan("paragraphs").filter(pl.col("paragraph_id").is_in(top["paragraph_id"].implode()))
             .select("paragraph_id", "text").collect())
    return top.join(texts, on="paragraph_id", how="left", maintain_order="left"), total


def member_links(run: RunOutput, canonical_ids: Sequence[str]) -> pl.DataFrame:
    """The direct link of each member to its cluster's canonical paragraph.

    Columns ``canonical_id``, ``member_id``, ``kind``, ``jaccard``, ``containment_member`` (share of the
    member's shingles found in the canonical copy) and ``containment_canonical`` (the other way round).
    A member linked to its cluster only through other members has no row. (A member's link is never
    ``contained``: clusters hold exact and near copies only, see :mod:`corpusclean.dedup.clusters`.)
    """
    ids = pl.Series(list(canonical_ids), dtype=pl.String).implode()
    links = run.scan("links").filter(pl.col("left_id").is_in(ids) | pl.col("right_id").is_in(ids))
    left_is_canonical = pl.col("left_id").is_in(ids)
    return (links.select(
        pl.when(left_is_canonical).then("left_id").otherwise("right_id").alias("canonical_id"),
        pl.when(left_is_canonical).then("right_id").otherwise("left_id").alias("member_id"),
        "kind", "jaccard",
        pl.when(left_is_canonical).then("containment_right").otherwise("containment_left").alias("containment_member"),
        pl.when(left_is_canonical).then("containment_left").otherwise("containment_right").alias("containment_canonical"),
    ).unique(["canonical_id", "member_id"], keep="first").collect())




def passage_columns(links: pl.LazyFrame) -> list[pl.Expr]:
    """The span columns of ``links``: where each contained link's passage lies in its left and right
    paragraph. Null columns for a run written before links had spans."""
    if not set(SPAN_COLUMNS) <= set(links.collect_schema().names()):
        return [pl.lit(None, dtype=pl.Int32).alias(column) for column in SPAN_COLUMNS]
    return [pl.col(column) for column in SPAN_COLUMNS]


def paragraph_passages(run: RunOutput, paragraph_ids: pl.Series) -> dict[str, list[tuple[int, int, str]]]:
    """The shared passages of ``paragraph_ids`` that are an end of a ``contained`` link: per paragraph,
    sorted and disjoint ``(start, end, title)`` in its text, overlapping passages merged into one and
    ``title`` naming the paragraphs it is shared with. Empty for a run written before links had spans."""
    links = run.scan("links")
    if not set(SPAN_COLUMNS) <= set(links.collect_schema().names()):
        return {}
    ids = paragraph_ids.unique().implode()
    contained = links.filter((pl.col("kind") == "contained") & pl.col("left_start").is_not_null()
                             & (pl.col("left_id").is_in(ids) | pl.col("right_id").is_in(ids)))
    sides = pl.concat([
        contained.select(pl.col(f"{this}_id").alias("paragraph_id"), pl.col(f"{that}_id").alias("other"),
                         pl.col(f"{this}_start").alias("start"), pl.col(f"{this}_end").alias("end"))
        for this, that in (("left", "right"), ("right", "left"))
    ]).filter(pl.col("paragraph_id").is_in(ids)).sort("paragraph_id", "start", "end", "other").collect()
    others = (run.scan("paragraphs").filter(pl.col("paragraph_id").is_in(sides["other"].unique().implode()))
              .select("paragraph_id", outlet_name(), "date").collect())
    where = {pid: f"{outlet} {date or 'undated'} ({pid})" for pid, outlet, date in others.iter_rows()}
    merged: dict[str, list[list[Any]]] = {}
    for pid, other, start, end in sides.iter_rows():
        spans = merged.setdefault(pid, [])
        if spans and start < spans[-1][1]:  # overlaps the previous passage: one mark for both
            spans[-1][1] = max(spans[-1][1], end)
            spans[-1][2].append(where.get(other, other))
        else:
            spans.append([start, end, [where.get(other, other)]])

    def title(names: list[str]) -> str:
        more = f" and {len(names) - MAX_MARK_TITLES:,} more" if len(names) > MAX_MARK_TITLES else ""
        return "shared with " + "; ".join(names[:MAX_MARK_TITLES]) + more

    return {pid: [(start, end, title(names)) for start, end, names in spans] for pid, spans in merged.items()}


def quote_links(run: RunOutput, limit: int) -> tuple[pl.DataFrame, int]:
    """The ``limit`` contained links with the longest shared passage (then the highest containment,
    then by ids), with the spans (:func:`passage_columns`) and each end's ``text``, ``outlet`` and
    ``date`` (``left_text``, ...; null for a paragraph of an earlier output); and the number of
    contained links in the run."""
    links = run.scan("links").filter(pl.col("kind") == "contained")
    total = links.select(pl.len()).collect().item()
    top = (links.select("left_id", "right_id", "left_doc_id", "right_doc_id", "jaccard", "containment_left",
                        "containment_right", *passage_columns(links))
           .sort([pl.col("left_end") - pl.col("left_start"), pl.max_horizontal("containment_left", "containment_right"),
                  "left_id", "right_id"], descending=[True, True, False, False], nulls_last=True)
           .head(limit).collect())
    ends = pl.concat([top["left_id"], top["right_id"]]).unique().implode()
    info = (run.scan("paragraphs").filter(pl.col("paragraph_id").is_in(ends))
            .select("paragraph_id", "text", outlet_name(), "date").collect())
    for side in ("left", "right"):
        top = top.join(info.rename(lambda c: f"{side}_{c}"), left_on=f"{side}_id", right_on=f"{side}_paragraph_id",
                       how="left", maintain_order="left")
    return top, total


def cluster_members(run: RunOutput, cluster_ids: Sequence[str], max_members: int | None,
                    source_paths: Sequence[str] | None = None) -> pl.DataFrame:
    """Members of ``cluster_ids`` with text, their document's title and their link to the canonical copy;
    canonical first, then by date, outlet and paragraph id; at most ``max_members`` per cluster.
    ``source_paths``, when given, holds the paths of the members' documents (:func:`within`)."""
    ids = pl.Series(list(cluster_ids), dtype=pl.String).implode()
    members = (clustered_paragraphs(run, with_text=True, source_paths=source_paths)
               .filter(pl.col("cluster_id").is_in(ids))
               .sort(["cluster_id", "is_canonical", "date", "outlet", "paragraph_id"],
                     descending=[False, True, False, False, False], nulls_last=True))
    if max_members is not None:
        members = members.filter(pl.int_range(pl.len()).over("cluster_id") < max_members)
    members = members.collect()
    titles = (run.scan("documents").filter(within(source_paths)
                                           & pl.col("doc_id").is_in(members["doc_id"].unique().implode()))
              .select("doc_id", "title", "source_path").collect())
    links = member_links(run, members["canonical_id"].unique().to_list()).rename({"member_id": "paragraph_id"})
    return (members.join(titles, on="doc_id", how="left", maintain_order="left")
            .join(links, on=["canonical_id", "paragraph_id"], how="left", maintain_order="left"))


def removals_by_rule(run: RunOutput) -> pl.DataFrame:
    """Removed spans per rule: ``reason``, ``stage``, ``spans``, ``documents``, ``outlets``, ``chars``
    and one ``example`` text; most spans first."""
    return (run.scan("removed").with_columns(outlet_name())
            .group_by("reason")
            .agg(pl.col("stage").first(), pl.len().alias("spans"), pl.col("doc_id").n_unique().alias("documents"),
                 pl.col("outlet").n_unique().alias("outlets"),
                 (pl.col("char_end") - pl.col("char_start")).sum().alias("chars"),
                 pl.col("text").sort_by("doc_id", "unit_idx", "char_start").first().alias("example"))
            .sort(["spans", "reason"], descending=[True, False]).collect())


def removals_by_outlet(run: RunOutput) -> pl.DataFrame:
    """Per outlet: ``documents``, ``spans`` removed, ``chars`` removed, ``documents_touched`` (with at
    least one removal) and ``top_rules`` (the three commonest, with counts); most spans first."""
    removed = run.scan("removed").with_columns(outlet_name())
    per_rule = (removed.group_by("outlet", "reason").agg(pl.len().alias("n"))
                .sort(["outlet", "n", "reason"], descending=[False, True, False])
                .group_by("outlet", maintain_order=True)
                .agg(pl.format("{} {}", "reason", "n").head(3).str.join(", ").alias("top_rules")))
    spans = removed.group_by("outlet").agg(
        pl.len().alias("spans"), (pl.col("char_end") - pl.col("char_start")).sum().alias("chars"),
        pl.col("doc_id").n_unique().alias("documents_touched"))
    documents = run.scan("documents").with_columns(outlet_name()).group_by("outlet").agg(pl.len().alias("documents"))
    return (documents.join(spans, on="outlet", how="full", coalesce=True)
            .join(per_rule, on="outlet", how="left")
            .with_columns(pl.col("documents", "spans", "chars", "documents_touched").fill_null(0),
                          pl.col("top_rules").fill_null(""))
            .select("outlet", "documents", "spans", "chars", "documents_touched", "top_rules")
            .sort(["spans", "documents", "outlet"], descending=[True, True, False]).collect())


def errors_by_reason(run: RunOutput) -> pl.DataFrame:
    """Failed inputs per ``error_type``: ``stages``, ``inputs`` and up to three ``examples`` (paths)
    with the first ``message``; most inputs first."""
    return (run.scan("errors").group_by("error_type")
            .agg(pl.col("stage").unique().sort().str.join(", ").alias("stages"), pl.len().alias("inputs"),
                 pl.col("source_path").sort().head(3).alias("examples"),
                 pl.col("message").sort_by("source_path").first().alias("message"))
            .sort(["inputs", "error_type"], descending=[True, False]).collect())


def reprint_scan(run: RunOutput) -> pl.LazyFrame | None:
    """``reprints.parquet`` of the run, scanned lazily; None for a run written before it existed."""
    return run.scan("reprints") if run.has("reprints") else None


def _with_titles(run: RunOutput, pairs: pl.DataFrame) -> pl.DataFrame:
    """``pairs`` (rows of ``reprints.parquet``) with ``earlier_title``, ``earlier_source_path``,
    ``later_title``, ``later_source_path`` (null for a document of an earlier output)."""
    ids = pl.concat([pairs["earlier_doc_id"], pairs["later_doc_id"]]).unique().implode()
    docs = (run.scan("documents").filter(pl.col("doc_id").is_in(ids))
            .select("doc_id", "title", "source_path").collect())
    for end in ("earlier", "later"):
        pairs = pairs.join(docs.rename(lambda column: f"{end}_{column}"), on=f"{end}_doc_id", how="left",
                           maintain_order="left")
    return pairs


#: Order of document pairs, largest first: the reprint's shared paragraphs, then its share of them.
REPRINT_ORDER = (["later_shared_paragraphs", "later_share", "earlier_date", "earlier_doc_id", "later_doc_id"],
                 [True, True, False, False, False])


def largest_reprints(run: RunOutput, limit: int) -> tuple[pl.DataFrame, int, dict[str, int]] | None:
    """The ``limit`` largest document pairs of ``reprints.parquet`` (:data:`REPRINT_ORDER`) with both
    documents' titles, the number of pairs, and the pairs per ``ordered_by`` (``date``, ``same_date``,
    ``undated``); None when the run has no ``reprints.parquet``."""
    scan = reprint_scan(run)
    if scan is None:
        return None
    by_order = dict(scan.group_by("ordered_by").agg(pl.len()).collect().iter_rows())
    order, descending = REPRINT_ORDER
    top = scan.sort(order, descending=descending, nulls_last=True).head(limit).collect()
    return _with_titles(run, top), sum(by_order.values()), by_order


def document_reprints(run: RunOutput, doc_ids: Sequence[str],
                      limit: int = MAX_REPRINTS_PER_DOCUMENT) -> dict[str, dict[str, Any]] | None:
    """Per document of ``doc_ids`` that shares text: ``reprinted_by`` (the later documents of its pairs)
    and ``sources`` (the earlier ones), at most ``limit`` each, largest first, with
    ``reprinted_by_total`` and ``sources_total``. Each entry names the other document (``doc_id``,
    ``label``, ``outlet``, ``date``) and the pair (``lag_days``, ``ordered_by``, ``kinds``, the
    paragraphs shared by this document and the ``share`` of it, and of the other, they make).
    None when the run has no ``reprints.parquet``."""
    scan = reprint_scan(run)
    if scan is None:
        return None
    ids = pl.Series(list(doc_ids), dtype=pl.String).implode()
    order, descending = REPRINT_ORDER
    pairs = (scan.filter(pl.col("earlier_doc_id").is_in(ids) | pl.col("later_doc_id").is_in(ids))
             .sort(order, descending=descending, nulls_last=True).collect())
    wanted = set(doc_ids)
    related: dict[str, dict[str, Any]] = {}
    for row in _with_titles(run, pairs).iter_rows(named=True):
        for this, other, role in (("earlier", "later", "reprinted_by"), ("later", "earlier", "sources")):
            doc_id = row[f"{this}_doc_id"]
            if doc_id not in wanted:
                continue
            entry = related.setdefault(doc_id, {"reprinted_by": [], "sources": [], "reprinted_by_total": 0,
                                                "sources_total": 0})
            entry[f"{role}_total"] += 1
            if len(entry[role]) < limit:
                entry[role].append({
                    "doc_id": row[f"{other}_doc_id"], "outlet": row[f"{other}_outlet"] or NO_OUTLET,
                    "date": row[f"{other}_date"], "in_output": row[f"{other}_in_output"],
                    "label": _doc_label(row[f"{other}_title"], row[f"{other}_source_path"], row[f"{other}_doc_id"]),
                    "lag_days": row["lag_days"], "ordered_by": row["ordered_by"], "kinds": row["kinds"],
                    "paragraphs": row[f"{this}_shared_paragraphs"], "share": row[f"{this}_share"],
                    "other_share": row[f"{other}_share"]})
    return related


def _doc_label(title: str | None, source_path: str | None, doc_id: str) -> str:
    """How a document is named in a list: its title, else its path, else its id."""
    return title or source_path or doc_id


# ------------------------------------------------------------------------------- document layout


@dataclass
class Block:
    """One line of a document as the views show it, in source order.

    ``kind`` is ``"paragraph"`` (``row`` a paragraphs row; ``pieces`` its text as ``(text, rule)``
    pairs, ``rule`` None for kept text and a rule id for a span cut out of the same line) or
    ``"removed"`` (``row`` a removed row: a whole line, or text removed before segmentation).
    """

    kind: str
    row: dict[str, Any]
    pieces: list[tuple[str, str | None]] = field(default_factory=list)


def document_blocks(paragraphs: Iterable[dict[str, Any]], removed: Iterable[dict[str, Any]]) -> list[Block]:
    """Interleave a document's kept paragraphs and removed spans back into source order.

    Positions come from two axes, reconciled here: paragraphs carry ``source_units`` (indexes of
    segmented lines) and ``para_idx``; removed rows carry ``unit_idx``, the line of the extracted text
    (for a ``template`` paragraph, its first line), null for text removed before segmentation without
    a line (a date prefix: shown first). A rule span cut from a line that is still (partly) kept is
    shown inside that paragraph at its character offset.
    """
    paras = sorted(paragraphs, key=lambda p: p["para_idx"])
    units = [list(p.get("source_units") or []) for p in paras]
    owner = {unit: i for i, us in enumerate(units) for unit in us}
    first_unit = [min(us) if us else -1 for us in units]
    before: dict[int, list[tuple[float, dict[str, Any]]]] = {}
    inline: dict[int, list[dict[str, Any]]] = {}

    def slot_after(values: list[int], value: int) -> int:
        return next((i for i, v in enumerate(values) if v > value), len(paras))

    for row in removed:
        unit = row.get("unit_idx")
        if unit is None:
            before.setdefault(0, []).append((-1.0, row))
        elif unit in owner:
            inline.setdefault(owner[unit], []).append(row)
        else:
            before.setdefault(slot_after(first_unit, unit), []).append((float(unit), row))

    blocks: list[Block] = []
    for i in range(len(paras) + 1):
        for _, row in sorted(before.get(i, []), key=lambda item: (item[0], item[1].get("char_start") or 0)):
            blocks.append(Block("removed", row))
        if i < len(paras):
            blocks.append(Block("paragraph", paras[i], _pieces(paras[i], units[i], inline.get(i, []))))
    return blocks


def _pieces(paragraph: dict[str, Any], units: list[int], spans: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    """The paragraph's text with the spans cut from its lines put back at their offsets.

    Offsets are those of the line before the cut, so walking the spans in order maps them onto the kept
    text; spans of a later line of a rejoined paragraph go at its end (line boundaries are not stored).
    """
    text = paragraph["text"] or ""
    first = units[0] if units else None
    head = sorted((s for s in spans if s["unit_idx"] == first), key=lambda s: s["char_start"])
    tail = sorted((s for s in spans if s["unit_idx"] != first), key=lambda s: (s["unit_idx"], s["char_start"]))
    pieces: list[tuple[str, str | None]] = []
    kept_pos = line_pos = 0
    for span in head:
        take = max(0, span["char_start"] - line_pos)
        if take:
            pieces.append((text[kept_pos:kept_pos + take], None))
        kept_pos = min(len(text), kept_pos + take)
        pieces.append((span["text"], span["reason"]))
        line_pos = span["char_end"]
    if kept_pos < len(text):
        pieces.append((text[kept_pos:], None))
    pieces += [(span["text"], span["reason"]) for span in tail]
    return [(piece, rule) for piece, rule in pieces if piece]


def document_rows(run: RunOutput, doc_ids: Sequence[str],
                  source_paths: Sequence[str] | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Paragraphs (with cluster columns) and removed rows of ``doc_ids``, whose documents are at
    ``source_paths`` when given (:func:`within`)."""
    ids = pl.Series(list(doc_ids), dtype=pl.String).implode()
    paragraphs = (run.scan("paragraphs").filter(within(source_paths) & pl.col("doc_id").is_in(ids))
                  .select("paragraph_id", "doc_id", "para_idx", "is_title", "text", "source_units",
                          "cluster_id", "cluster_size", "is_canonical", "canonical_id", "canonical_doc_id",
                          "similarity").collect())
    removed = (run.scan("removed").filter(within(source_paths) & pl.col("doc_id").is_in(ids))
               .select("doc_id", "unit_idx", "char_start", "char_end", "text", "reason", "stage").collect())
    return paragraphs, removed


def documents_to_show(run: RunOutput, limit: int) -> tuple[pl.DataFrame, int]:
    """The ``limit`` documents the per-document view shows: most reused paragraphs first, then most
    removals, then source order; and the number of documents in the run."""
    documents = run.scan("documents").select("doc_id", "source_path", "record_offset", "outlet", "title",
                                             "date", "url", "format", "encoding", "n_paragraphs", "n_removed")
    total = documents.select(pl.len()).collect().item()
    reused = clustered_paragraphs(run).group_by("doc_id").agg(pl.len().alias("reused"))
    chosen = (documents.join(reused, on="doc_id", how="left").with_columns(pl.col("reused").fill_null(0))
              .sort(["reused", "n_removed", "source_path", "record_offset"], descending=[True, True, False, False])
              .head(limit).with_columns(outlet_name()).collect())
    return chosen, total


# --------------------------------------------------------------------------------------- figures


def _svg(figure) -> str:
    """A matplotlib figure as inline SVG markup: text kept as text, ids stable, no timestamp."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "corpusclean"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    markup = buffer.getvalue()
    return markup[markup.index("<svg"):]


def _short(name: str, width: int = 28) -> str:
    return name if len(name) <= width else name[:width - 1] + "…"


def heatmap_svg(outlets: list[str], matrix: np.ndarray) -> str:
    """Who reprints whom: counts coloured on a square-root scale, each non-empty cell labelled with its
    count (so no colour bar is needed)."""
    from matplotlib.colors import PowerNorm
    from matplotlib.figure import Figure

    n = len(outlets)
    side = min(11.0, 3.4 + 0.28 * n)
    figure = Figure(figsize=(side + 0.4, side), layout="constrained")
    axes = figure.add_subplot()
    peak = max(1, int(matrix.max()))
    norm = PowerNorm(0.5, vmin=0, vmax=peak)
    # pcolormesh, not imshow: vector cells (imshow would embed a PNG in the SVG)
    axes.pcolormesh(np.ma.masked_equal(matrix, 0), cmap="Blues", norm=norm, edgecolors="#e5e5e5",
                            linewidth=0.5)
    axes.set_aspect("equal")
    axes.set_xlim(0, n)
    axes.set_ylim(n, 0)
    labels = [_short(name) for name in outlets]
    centres = np.arange(n) + 0.5
    # labels are corpus text: never mathtext (an outlet named "$5 & $10" must not be parsed or fail)
    axes.set_xticks(centres, labels=labels, rotation=55, ha="right", rotation_mode="anchor", fontsize=8,
                    parse_math=False)
    axes.set_yticks(centres, labels=labels, fontsize=8, parse_math=False)
    axes.set_xlabel("reprinted by (later copy)")
    axes.set_ylabel("first published by (canonical copy)")
    for (row, col), value in np.ndenumerate(matrix):
        if value:
            axes.text(col + 0.5, row + 0.5, f"{value:,}", ha="center", va="center", fontsize=7 if n > 15 else 9,
                      color="white" if norm(value) > 0.6 else "#1a1a1a")
    return _svg(figure)


def bar_svg(labels: list[str], values: list[int], xlabel: str) -> str:
    """A horizontal bar chart, largest at the top."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 0.6 + 0.24 * len(labels)), layout="constrained")
    axes = figure.add_subplot()
    positions = np.arange(len(labels))
    axes.barh(positions, values, color="#4c78a8")
    axes.set_yticks(positions, labels=[_short(label, 40) for label in labels], fontsize=8, parse_math=False)
    axes.invert_yaxis()
    axes.set_xlabel(xlabel)
    axes.spines[["top", "right"]].set_visible(False)
    for position, value in zip(positions, values):
        axes.text(value, position, f" {value:,}", va="center", fontsize=7)
    return _svg(figure)


# ----------------------------------------------------------------------------- HTML (templates)
#
# The page is rendered by Jinja2 from ``templates/`` with autoescaping on: every value handed to a
# template is plain data (text, numbers, lists of them) and is escaped where the template prints it.
# The only markup made here is the SVG of our own matplotlib figures, passed as ``Markup`` by
# :func:`_figure`. Text with highlighted or struck-through parts is handed over as *segments*,
# ``(tag, text, title)`` triples with ``tag`` one of ``""`` (plain), ``"mark"``, ``"del"``, ``"rule"``,
# which the ``segments`` macro of ``templates/macros.html.j2`` turns into escaped HTML.

TEMPLATES = Path(__file__).with_name("templates")
Segment = tuple[str, str, str | None]


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The report's Jinja2 environment: templates beside this module, autoescaping on for every
    template, undefined names an error, ``num``/``fixed``/``pct`` filters for numbers."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters.update(num=_num, fixed=_fixed, pct=_pct)
    return env


def _figure(svg: str) -> Markup:
    """SVG markup from :func:`_svg` (our own figure: matplotlib escapes the labels it draws), marked
    safe for the template. Nothing else in the report is marked safe."""
    return Markup(svg)


def _num(value: Any, digits: int | None = None) -> str:
    """Integers (or any number, with ``digits``) with thousands separators; anything else as text;
    None as nothing."""
    if digits is not None and isinstance(value, (int, float, np.number)):
        return f"{value:,.{digits}f}"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return f"{value:,}"
    return "" if value is None else str(value)


def _fixed(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def _offset(record_offset: int | None) -> str:
    """`` @123`` after a path for records past the start of a container file (JSONL lines)."""
    return f" @{record_offset:,}" if record_offset else ""


def _clip(text: str | None, width: int) -> str:
    text = text or ""
    return text if len(text) <= width else text[:width - 1] + "…"


def _mark(piece: str, offset: int, spans: list[tuple[int, int, str]]) -> list[Segment]:
    """``piece`` as segments, where ``piece`` is ``text[offset:offset + len(piece)]``, with its characters
    inside the ``spans`` of ``text`` (sorted, disjoint ``(start, end, title)``) marked.

    Example:
        >>> _mark("a quote here", 10, [(12, 17, "shared")])
        [('', 'a ', None), ('mark', 'quote', 'shared'), ('', ' here', None)]
    """
    shown: list[Segment] = []
    at = 0
    for start, end, title in spans:
        low, high = (min(max(edge - offset, 0), len(piece)) for edge in (start, end))
        if low < high:
            shown += [("", piece[at:low], None), ("mark", piece[low:high], title)]
            at = high
    shown.append(("", piece[at:], None))
    return [segment for segment in shown if segment[1]]


def _marked(text: str, start: int | None, end: int | None, width: int = MEMBER_TEXT_CHARS) -> list[Segment]:
    """``text`` as segments with ``text[start:end]`` marked, cut to about ``width`` characters of
    context around the passage (… where cut); a passage longer than ``width`` is cut too."""
    if start is None or end is None:
        return [("", _clip(text, width), None)]
    room = max(0, width - (end - start))
    before = min(start, max(room // 2, room - (len(text) - end)))  # room unused on one side goes to the other
    after = min(len(text) - end, room - before)
    passage = text[start:end] if end - start <= width else text[start:start + width - 1] + "…"
    segments = [("", ("…" if before < start else "") + text[start - before:start], None), ("mark", passage, None),
                ("", text[end:end + after] + ("…" if end + after < len(text) else ""), None)]
    return [segment for segment in segments if segment[1]]


COUNT_LABELS = [
    ("inputs", "inputs"), ("documents", "documents"), ("errors", "errors"),
    ("paragraphs", "paragraphs kept"), ("removed", "spans removed"),
    ("templates_removed", "template paragraphs removed"), ("clusters", "clusters"),
    ("duplicate_paragraphs", "duplicate paragraphs"), ("links", "links"), ("links_exact", "links: exact"),
    ("links_near", "links: near"), ("links_contained", "links: contained"), ("reprints", "reprint pairs"),
    ("repeating_earlier", "paragraphs repeating earlier outputs"),
]


def summary_context(run: RunOutput) -> dict[str, Any]:
    """Run summary: the manifest's counts (one card each, ``data-count="<key>"``), its timings per
    stage, and what was run (inputs, version, config and its hash, engine, workers, shards, earlier
    outputs compared against)."""
    manifest = run.manifest
    counts = manifest.get("counts", {})
    known = [key for key, _ in COUNT_LABELS]
    labelled = [(key, label) for key, label in COUNT_LABELS if key in counts]
    labelled += [(key, key.replace("_", " ")) for key in sorted(counts) if key not in known]
    timings = manifest.get("timings_seconds", {})
    total = timings.get("total")
    info = [("inputs", ", ".join(map(str, manifest.get("inputs", [])))), ("corpusclean", manifest.get("version")),
            ("config", f"{manifest.get('config_source', '')} ({manifest.get('config_hash', '')})"),
            ("engine", manifest.get("engine")), ("workers", manifest.get("workers")), ("shards", manifest.get("shards")),
            ("against", ", ".join(map(str, manifest.get("against") or [])) or None)]
    return {"cards": [(key, counts[key], label) for key, label in labelled],
            "balanced": manifest.get("accounting", {}).get("balanced"),
            "total_seconds": total,
            "rate": counts["inputs"] / total if total and counts.get("inputs") else None,
            "timings": list(timings.items()), "info": [(k, v) for k, v in info if v is not None]}


def reuse_context(run: RunOutput, max_outlets: int) -> dict[str, Any]:
    """Who reprints whom: the heatmap (``id="heatmap"``), its same-day ties and the largest
    outlet-to-outlet flows, in paragraphs and in documents."""
    flows = reuse_flows(run)
    outlets, matrix, total_outlets = reuse_matrix(flows.select("source_outlet", "reprint_outlet", "paragraphs"),
                                                  max_outlets)
    return {"heatmap": _figure(heatmap_svg(outlets, matrix)) if outlets else None, "outlets": len(outlets),
            "total_outlets": total_outlets, "copies": int(flows["paragraphs"].sum()),
            "same_day": int(flows["same_day"].sum()), "undated": int(flows["undated"].sum()),
            "flows": flows.head(MAX_PAIRS).to_dicts(), "total_flows": flows.height}


def reprints_context(run: RunOutput) -> dict[str, Any] | None:
    """Reprints: the largest document pairs of ``reprints.parquet`` (earlier → later), with how their
    direction was decided; None when the run has no such table (written before it existed)."""
    found = largest_reprints(run, MAX_REPRINTS)
    if found is None:
        return None
    top, total, by_order = found
    rows = [{**row, "earlier_label": _doc_label(row["earlier_title"], row["earlier_source_path"], row["earlier_doc_id"]),
             "later_label": _doc_label(row["later_title"], row["later_source_path"], row["later_doc_id"])}
            for row in top.iter_rows(named=True)]
    return {"rows": rows, "total": total, "by_order": by_order}


def clusters_context(run: RunOutput, max_clusters: int) -> dict[str, Any]:
    """Largest clusters: canonical text, then each member (outlet, date, document, link to the
    canonical copy). ``ids`` are the clusters shown (documents link to them)."""
    top, total = largest_clusters(run, max_clusters)
    if top.is_empty():
        return {"clusters": [], "total": 0, "ids": set()}
    members = cluster_members(run, top["cluster_id"].to_list(), MAX_MEMBERS_PER_CLUSTER)
    by_cluster = {key[0]: frame for key, frame in members.partition_by("cluster_id", as_dict=True).items()}
    clusters = []
    for cluster in top.iter_rows(named=True):
        frame = by_cluster.get(cluster["cluster_id"], pl.DataFrame())
        rows = []
        for m in frame.iter_rows(named=True):
            own_text = None
            if not m["is_canonical"] and m["kind"] != "exact" and m["text"] != cluster["text"]:
                own_text = m["text"][:MEMBER_TEXT_CHARS] + ("…" if len(m["text"]) > MEMBER_TEXT_CHARS else "")
            rows.append({"role": "canonical" if m["is_canonical"] else (m["kind"] or "via other members"),
                         "outlet": m["outlet"], "date": m["date"] or "undated", "doc_id": m["doc_id"],
                         "doc_label": _doc_label(m["title"], m["source_path"], m["doc_id"]), "own_text": own_text,
                         "jaccard": 1.0 if m["is_canonical"] else m["jaccard"], "containment": m["containment_member"]})
        clusters.append({**cluster, "members": rows, "hidden": cluster["cluster_size"] - frame.height,
                         "listing": ", ".join(f"{m['outlet']} ({m['date'] or 'undated'})"
                                              for m in frame.iter_rows(named=True))})
    return {"clusters": clusters, "total": total, "ids": set(top["cluster_id"].to_list())}


def quotes_context(run: RunOutput) -> dict[str, Any]:
    """Quotes: contained links (a passage and the longer paragraph that re-wraps it), longest shared
    passage first, each with both paragraphs and the passage marked in both."""
    top, total = quote_links(run, MAX_QUOTES)
    quotes = []
    for q in top.iter_rows(named=True):
        sides = []
        for side, label in (("left", "earlier"), ("right", "later")):
            text = q[f"{side}_text"]
            sides.append({"label": label, "outlet": q[f"{side}_outlet"] or NO_OUTLET,
                          "date": q[f"{side}_date"] or "undated", "doc_id": q[f"{side}_doc_id"],
                          "paragraph_id": q[f"{side}_id"], "containment": q[f"containment_{side}"],
                          "segments": None if text is None else _marked(text, q[f"{side}_start"], q[f"{side}_end"])})
        quotes.append({"left_id": q["left_id"], "right_id": q["right_id"], "sides": sides})
    return {"quotes": quotes, "total": total}


def removals_context(run: RunOutput, max_outlets: int) -> dict[str, Any]:
    """Removals by rule (bar chart of the commonest, then a table with an example each) and by outlet."""
    by_rule = removals_by_rule(run)
    by_outlet = removals_by_outlet(run)
    top = by_rule.head(25)
    chart = (None if by_rule.is_empty()
             else _figure(bar_svg(top["reason"].to_list(), top["spans"].to_list(), "spans removed")))
    rules = [{**row, "example": _clip(row["example"], 160)} for row in by_rule.head(MAX_RULES).iter_rows(named=True)]
    return {"chart": chart, "chart_capped": by_rule.height > 25, "rules": rules, "total_rules": by_rule.height,
            "outlets": by_outlet.head(max_outlets).to_dicts(), "total_outlets": by_outlet.height}


def errors_context(run: RunOutput) -> dict[str, Any]:
    """Errors by reason (stage, count, example paths, first message), then the failed inputs."""
    errors = run.scan("errors")
    total = errors.select(pl.len()).collect().item()
    if not total:
        return {"total": 0, "reasons": [], "listed": []}
    listed = errors.sort("source_path", "record_offset").head(MAX_ERROR_ROWS).collect()
    return {"total": total, "reasons": errors_by_reason(run).to_dicts(),
            "listed": [{**row, "offset": _offset(row["record_offset"])} for row in listed.iter_rows(named=True)]}


def documents_context(run: RunOutput, chosen: pl.DataFrame, total: int, shown_clusters: set[str]) -> dict[str, Any]:
    """Each chosen document in source order: removed spans struck through with their rule, reused
    paragraphs marked and linked to their cluster (or to the canonical paragraph when that cluster is
    not among those shown), the shared passages of contained links marked, and the document's
    reprints and sources from ``reprints.parquet`` when the run has it."""
    ids = chosen["doc_id"].to_list()
    shown_docs = set(ids)
    paragraphs, removed = document_rows(run, ids)
    canon = (clustered_paragraphs(run)
             .filter(pl.col("is_canonical") & pl.col("paragraph_id").is_in(
                 paragraphs["canonical_id"].drop_nulls().unique().implode()))
             .select(pl.col("paragraph_id").alias("canonical_id"), pl.col("outlet").alias("canonical_outlet"),
                     pl.col("date").alias("canonical_date")).collect())
    links = member_links(run, canon["canonical_id"].to_list()).rename({"member_id": "paragraph_id"})
    paragraphs = (paragraphs.join(canon, on="canonical_id", how="left")
                  .join(links.select("canonical_id", "paragraph_id", "kind", "jaccard"),
                        on=["canonical_id", "paragraph_id"], how="left"))
    passages = paragraph_passages(run, paragraphs["paragraph_id"])
    para_by_doc = {key[0]: frame.to_dicts() for key, frame in paragraphs.partition_by("doc_id", as_dict=True).items()}
    removed_by_doc = {key[0]: frame.to_dicts() for key, frame in removed.partition_by("doc_id", as_dict=True).items()}
    related = document_reprints(run, ids)
    none = {"reprinted_by": [], "sources": [], "reprinted_by_total": 0, "sources_total": 0}
    documents = []
    for doc in chosen.iter_rows(named=True):
        blocks = document_blocks(para_by_doc.get(doc["doc_id"], []), removed_by_doc.get(doc["doc_id"], []))
        meta = [part for part in (
            doc["outlet"], str(doc["date"] or "undated"), doc["format"], doc["encoding"],
            f"{doc['n_paragraphs']} paragraphs", f"{doc['n_removed']} removed", f"{doc['reused']} reused") if part]
        documents.append({**doc, "meta": meta, "offset": _offset(doc["record_offset"]),
                          "blocks": [_block(block, shown_clusters, shown_docs, passages)
                                     for block in blocks[:MAX_BLOCKS_PER_DOCUMENT]],
                          "blocks_total": len(blocks), **(related or {}).get(doc["doc_id"], none)})
    return {"documents": documents, "total": total, "has_reprints": related is not None}


def _block(block: Block, shown_clusters: set[str], shown_docs: set[str],
           passages: dict[str, list[tuple[int, int, str]]]) -> dict[str, Any]:
    """One line of a document for ``documents.html.j2``: a removed span, or a paragraph as segments
    (kept pieces with their shared passages marked, spans cut from the line struck through) with
    the badge that links it to its cluster."""
    row = block.row
    if block.kind == "removed":
        return {"kind": "removed", "text": row["text"], "reason": row["reason"]}
    # kept pieces are consecutive slices of the paragraph's text, where the offsets of its shared
    # passages are: each piece marks the part of them it holds
    spans = passages.get(row["paragraph_id"], [])
    segments: list[Segment] = []
    offset = 0
    for piece, rule in block.pieces:
        if segments:
            segments.append(("", " ", None))
        if rule is None:
            segments += _mark(piece, offset, spans)
            offset += len(piece)
        else:
            segments += [("del", piece, rule), ("", " ", None), ("rule", rule, None)]
    css = ["para"] + (["title"] if row["is_title"] else [])
    badge = None
    cid = row.get("cluster_id")
    if cid is not None:
        css.append("reused")
        if row["is_canonical"]:
            what = f"canonical copy · cluster of {row['cluster_size']:,}"
        else:
            kind = row.get("kind") or "linked via other members"
            jaccard = f", J={row['jaccard']:.2f}" if row.get("jaccard") is not None and kind != "exact" else ""
            what = (f"{kind}{jaccard} · of {row.get('canonical_outlet') or NO_OUTLET} "
                    f"{row.get('canonical_date') or 'undated'} · cluster of {row['cluster_size']:,}")
        if cid in shown_clusters:
            badge = {"href": f"#cluster-{cid}", "text": what, "title": None}
        elif row["canonical_doc_id"] in shown_docs and not row["is_canonical"]:
            badge = {"href": f"#p-{row['canonical_id']}", "text": what, "title": None}
        else:
            badge = {"href": None, "text": what, "title": f"cluster {cid} is not among the clusters shown"}
    return {"kind": "paragraph", "id": row["paragraph_id"], "css": " ".join(css), "badge": badge,
            "segments": segments}


def render_report(out_dir: str | Path, report_path: str | Path, *, max_documents: int = 200,
                  max_clusters: int = 50, max_outlets: int = 30) -> Path:
    """Write the HTML report of the run in ``out_dir`` to ``report_path`` (atomically) and return it.

    Args:
        out_dir: a finished run's output folder, or its ``s3://bucket/prefix`` (:func:`open_output`).
        report_path: the HTML file to write; its folder must exist.
        max_documents: documents in the per-document view.
        max_clusters: clusters in the "largest clusters" section.
        max_outlets: outlets in the heatmap and in "removals by outlet".

    Raises:
        UsageError: ``out_dir`` is not a finished run, a cap is below 1, or the file cannot be written.
    """
    for name, value in (("max_documents", max_documents), ("max_clusters", max_clusters),
                        ("max_outlets", max_outlets)):
        if value < 1:
            raise UsageError(f"{name} must be at least 1, not {value}")
    with open_output(out_dir) as run:
        chosen, total_documents = documents_to_show(run, max_documents)
        clusters = clusters_context(run, max_clusters)
        page = environment().get_template("report.html.j2").render(
            title=f"corpusclean report: {run.name}", root=run.where,
            version=run.manifest.get("version", ""),
            generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            shown_docs=set(chosen["doc_id"].to_list()),
            summary=summary_context(run), reuse=reuse_context(run, max_outlets), reprints=reprints_context(run),
            clusters=clusters, quotes=quotes_context(run), removals=removals_context(run, max_outlets),
            errors=errors_context(run),
            documents=documents_context(run, chosen, total_documents, clusters["ids"]),
            limits={"members": MAX_MEMBERS_PER_CLUSTER, "blocks": MAX_BLOCKS_PER_DOCUMENT,
                    "reprints_per_document": MAX_REPRINTS_PER_DOCUMENT})
    report_path = Path(report_path)
    temporary = report_path.with_name(f".{report_path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(page, "utf-8")
        os.replace(temporary, report_path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise UsageError(f"cannot write the report to {report_path}: {exc.strerror or exc}") from None
    return report_path
