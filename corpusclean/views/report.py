"""The HTML report of a run: one self-contained page that opens offline.

``render_report(OUT, OUT/report.html)`` reads the tables of a finished run (lazily, only the columns
and rows a section needs) and writes one HTML file with inline CSS, a few lines of inline script and
figures drawn by matplotlib as inline SVG. No CDN, no external file. Sections:

1. **Run summary**: counts and timings from ``manifest.json``.
2. **Who reprints whom**: an outlet × outlet heatmap (``id="heatmap"``). Row = outlet of a cluster's
   canonical copy (the earliest dated) or of a quote's source, column = outlet of a later copy or
   quote; a cell counts cluster members (non-canonical paragraphs) and ``contained`` links of that
   pair, so the diagonal is reuse within one outlet.
3. **Largest clusters**: the canonical text, then every member's outlet, date, document and its link to
   the canonical copy (kind, Jaccard, containment).
4. **Quotes**: ``contained`` links, longest shared passage first, both paragraphs with the passage
   highlighted (``<mark>``) in each, from the span columns of ``links.parquet``.
5. **Removals** by rule (with a bar chart) and by outlet.
6. **Errors** by reason, then the failed inputs themselves.
7. **Documents**: each document's text in source order, removed spans struck through (``<del>``, the
   rule in its title), reused paragraphs linked to their cluster (anchor links within the page), the
   passages of contained links highlighted (their title names the paragraph on the other end).

A 100k-document run stays fast and small because every section is capped (``max_documents``,
``max_clusters``, ``max_outlets`` and the ``MAX_*`` constants below), and the page says what it left out
("showing 200 of 100,000 documents"). Every piece of text from the corpus goes through
:func:`html.escape`.

The data-gathering helpers (:func:`open_run`, :func:`clustered_paragraphs`, :func:`reuse_pairs`,
:func:`member_links`, :func:`document_blocks`, ...) are shared with :mod:`corpusclean.views.inspect`.
"""

from __future__ import annotations

import html
import io
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import polars as pl

from ..dedup.spans import SPAN_COLUMNS
from ..errors import UsageError

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


# --------------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class RunOutput:
    """A finished run's folder: its manifest, and its tables scanned lazily on demand."""

    root: Path
    manifest: dict[str, Any]

    def scan(self, name: str) -> pl.LazyFrame:
        return pl.scan_parquet(self.root / f"{name}.parquet")


def open_run(out_dir: str | Path) -> RunOutput:
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
    return RunOutput(root, manifest)


def outlet_name(column: str = "outlet") -> pl.Expr:
    """The outlet column with null or empty shown as ``(no outlet)`` (outlets are never guessed)."""
    col = pl.col(column)
    return pl.when(col.is_null() | (col == "")).then(pl.lit(NO_OUTLET)).otherwise(col).alias(column)


def clustered_paragraphs(run: RunOutput, *, with_text: bool = False) -> pl.LazyFrame:
    """Paragraphs that belong to a cluster (``cluster_id`` not null), without text unless asked."""
    columns = ["paragraph_id", "doc_id", "para_idx", "outlet", "date", "cluster_id", "cluster_size",
               "is_canonical", "canonical_id", "canonical_doc_id", "similarity", "cluster_outlets"]
    return (run.scan("paragraphs").filter(pl.col("cluster_id").is_not_null())
            .select(columns + (["text"] if with_text else [])).with_columns(outlet_name()))


def reuse_pairs(run: RunOutput) -> pl.DataFrame:
    """Reused paragraphs per (outlet of the source, outlet of the later copy or quote), largest first.

    Columns ``source_outlet``, ``reprint_outlet``, ``paragraphs``. Each non-canonical member of a cluster
    counts once, against its cluster's canonical (earliest dated) paragraph; each ``contained`` link (a
    quote, which joins no cluster) counts once, from its earlier end to its later one.
    """
    clustered = clustered_paragraphs(run)
    canonical = clustered.filter(pl.col("is_canonical")).select(
        pl.col("paragraph_id").alias("canonical_id"), pl.col("outlet").alias("source_outlet"))
    copies = (clustered.filter(~pl.col("is_canonical")).join(canonical, on="canonical_id", how="inner")
              .select("source_outlet", pl.col("outlet").alias("reprint_outlet")))
    outlets = run.scan("paragraphs").select("paragraph_id", outlet_name())
    quotes = (run.scan("links").filter(pl.col("kind") == "contained").select("left_id", "right_id")
              .join(outlets.rename({"paragraph_id": "left_id", "outlet": "source_outlet"}), on="left_id")
              .join(outlets.rename({"paragraph_id": "right_id", "outlet": "reprint_outlet"}), on="right_id")
              .select("source_outlet", "reprint_outlet"))
    return (pl.concat([copies, quotes]).group_by("source_outlet", "reprint_outlet")
            .agg(pl.len().alias("paragraphs"))
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


def cluster_members(run: RunOutput, cluster_ids: Sequence[str], max_members: int | None) -> pl.DataFrame:
    """Members of ``cluster_ids`` with text, their document's title and their link to the canonical copy;
    canonical first, then by date, outlet and paragraph id; at most ``max_members`` per cluster."""
    ids = pl.Series(list(cluster_ids), dtype=pl.String).implode()
    members = (clustered_paragraphs(run, with_text=True).filter(pl.col("cluster_id").is_in(ids))
               .sort(["cluster_id", "is_canonical", "date", "outlet", "paragraph_id"],
                     descending=[False, True, False, False, False], nulls_last=True))
    if max_members is not None:
        members = members.filter(pl.int_range(pl.len()).over("cluster_id") < max_members)
    members = members.collect()
    titles = (run.scan("documents").filter(pl.col("doc_id").is_in(members["doc_id"].unique().implode()))
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


def document_rows(run: RunOutput, doc_ids: Sequence[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Paragraphs (with cluster columns) and removed rows of ``doc_ids``."""
    ids = pl.Series(list(doc_ids), dtype=pl.String).implode()
    paragraphs = (run.scan("paragraphs").filter(pl.col("doc_id").is_in(ids))
                  .select("paragraph_id", "doc_id", "para_idx", "is_title", "text", "source_units",
                          "cluster_id", "cluster_size", "is_canonical", "canonical_id", "canonical_doc_id",
                          "similarity").collect())
    removed = (run.scan("removed").filter(pl.col("doc_id").is_in(ids))
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
    axes.set_xticks(centres, labels=labels, rotation=55, ha="right", rotation_mode="anchor", fontsize=8)
    axes.set_yticks(centres, labels=labels, fontsize=8)
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
    axes.set_yticks(positions, labels=[_short(label, 40) for label in labels], fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel(xlabel)
    axes.spines[["top", "right"]].set_visible(False)
    for position, value in zip(positions, values):
        axes.text(value, position, f" {value:,}", va="center", fontsize=7)
    return _svg(figure)


# ------------------------------------------------------------------------------------------ HTML


def esc(value: Any) -> str:
    """Escape anything for HTML text or a quoted attribute; None is empty."""
    return "" if value is None else html.escape(str(value), quote=True)


def _num(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else esc(value)


def _float(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def _cap(shown: int, total: int, noun: str, how: str = "") -> str:
    """The sentence that says whether a section is capped (nothing when there is nothing to show)."""
    if total == 0:
        return ""
    if shown >= total:
        return f'<p class="cap">All {total:,} {esc(noun)}{esc(how)}.</p>'
    return f'<p class="cap capped">Showing {shown:,} of {total:,} {esc(noun)}{esc(how)}.</p>'


def _table(headers: Sequence[str], rows: Iterable[str], css: str = "") -> str:
    """A table of pre-rendered ``<tr>`` rows; nothing at all when there are no rows."""
    rows = list(rows)
    if not rows:
        return ""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    return f'<table class="{esc(css)}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _doc_anchor(doc_id: str, label: str, shown_docs: set[str]) -> str:
    if doc_id in shown_docs:
        return f'<a href="#doc-{esc(doc_id)}">{esc(label)}</a>'
    return esc(label)


COUNT_LABELS = [
    ("inputs", "inputs"), ("documents", "documents"), ("errors", "errors"),
    ("paragraphs", "paragraphs kept"), ("removed", "spans removed"),
    ("templates_removed", "template paragraphs removed"), ("clusters", "clusters"),
    ("duplicate_paragraphs", "duplicate paragraphs"), ("links", "links"), ("links_exact", "links: exact"),
    ("links_near", "links: near"), ("links_contained", "links: contained"),
    ("repeating_earlier", "paragraphs repeating earlier outputs"),
]


def section_summary(run: RunOutput) -> str:
    """Run summary: the manifest's counts (one card each, ``data-count="<key>"``), its timings per
    stage, and what was run (inputs, version, config and its hash, engine, workers, shards, earlier
    outputs compared against)."""
    manifest = run.manifest
    counts = manifest.get("counts", {})
    known = [key for key, _ in COUNT_LABELS]
    labelled = [(key, label) for key, label in COUNT_LABELS if key in counts]
    labelled += [(key, key.replace("_", " ")) for key in sorted(counts) if key not in known]
    cards = "".join(f'<div class="card"><b data-count="{esc(key)}">{_num(counts[key])}</b><span>{esc(label)}</span></div>'
                    for key, label in labelled)
    timings = manifest.get("timings_seconds", {})
    timing_text = " · ".join(f"{esc(stage)} {seconds:.2f} s" for stage, seconds in timings.items())
    total = timings.get("total")
    rate = f", {counts['inputs'] / total:,.0f} inputs/s" if total and counts.get("inputs") else ""
    info = [("inputs", ", ".join(map(str, manifest.get("inputs", [])))), ("corpusclean", manifest.get("version")),
            ("config", f"{manifest.get('config_source', '')} ({manifest.get('config_hash', '')})"),
            ("engine", manifest.get("engine")), ("workers", manifest.get("workers")), ("shards", manifest.get("shards")),
            ("against", ", ".join(map(str, manifest.get("against") or [])) or None)]
    info_text = " · ".join(f"{esc(k)} <code>{esc(v)}</code>" for k, v in info if v is not None)
    balanced = manifest.get("accounting", {}).get("balanced")
    accounting = ("every discovered input is a document or an error" if balanced
                  else "the manifest does not confirm the accounting")
    return f"""<section id="summary"><h2>Run summary</h2>
<div class="cards">{cards}</div>
<p class="meta">Accounting: {accounting}.{f' Total time {total:.2f} s{esc(rate)}.' if total else ''}</p>
<p class="meta" id="timings">Timings: {timing_text}</p>
<p class="meta">Run: {info_text}</p></section>"""


def section_reuse(run: RunOutput, max_outlets: int) -> str:
    """Who reprints whom: the heatmap (``id="heatmap"``) and the largest outlet-to-outlet flows."""
    pairs = reuse_pairs(run)
    outlets, matrix, total_outlets = reuse_matrix(pairs, max_outlets)
    if not outlets:
        figure = '<div id="heatmap" class="empty">No paragraph is shared between documents in this run.</div>'
    else:
        figure = (f'<figure id="heatmap" data-outlets="{len(outlets)}">{heatmap_svg(outlets, matrix)}'
                  '<figcaption>Row: outlet of the canonical (earliest dated) copy. Column: outlet of a later '
                  'copy. Cell: cluster members of that pair; the diagonal is reuse within one outlet.</figcaption>'
                  '</figure>')
    shown_pairs = pairs.head(MAX_PAIRS)
    rows = [f'<tr data-source="{esc(s)}" data-reprint="{esc(r)}"><td>{esc(s)}</td><td>{esc(r)}</td>'
            f'<td class="num">{n:,}</td></tr>' for s, r, n in shown_pairs.iter_rows()]
    return f"""<section id="reuse"><h2>Who reprints whom</h2>
{_cap(len(outlets), total_outlets, 'outlets that share paragraphs', ' in the heatmap (most shared first)')}
<div class="cols"><div>{figure}</div>
<div><h3>Largest flows</h3>
{_cap(shown_pairs.height, pairs.height, 'outlet pairs')}
{_table(['first published by', 'reprinted by', 'paragraphs'], rows, 'pairs') if rows else ''}</div></div></section>"""


def section_clusters(run: RunOutput, max_clusters: int, shown_docs: set[str]) -> tuple[str, set[str]]:
    """Largest clusters: canonical text, then each member (outlet, date, document, link to the
    canonical copy). Returns the HTML and the ids of the clusters shown (documents link to them)."""
    top, total = largest_clusters(run, max_clusters)
    if top.is_empty():
        return '<section id="clusters"><h2>Largest clusters</h2><p>No clusters in this run.</p></section>', set()
    members = cluster_members(run, top["cluster_id"].to_list(), MAX_MEMBERS_PER_CLUSTER)
    by_cluster = {key[0]: frame for key, frame in members.partition_by("cluster_id", as_dict=True).items()}
    articles = []
    for cluster in top.iter_rows(named=True):
        cid = cluster["cluster_id"]
        frame = by_cluster.get(cid, pl.DataFrame())
        outlets = ", ".join(f"{m['outlet']} ({m['date'] or 'undated'})" for m in frame.iter_rows(named=True))
        rows = []
        for m in frame.iter_rows(named=True):
            role = "canonical" if m["is_canonical"] else (m["kind"] or "via other members")
            own_text = ""
            if not m["is_canonical"] and m["kind"] != "exact" and m["text"] != cluster["text"]:
                cut = m["text"][:MEMBER_TEXT_CHARS] + ("…" if len(m["text"]) > MEMBER_TEXT_CHARS else "")
                own_text = f'<details><summary>its text</summary>{esc(cut)}</details>'
            doc_label = m["title"] or m["source_path"] or m["doc_id"]
            rows.append(
                f'<tr><td>{esc(role)}</td><td>{esc(m["outlet"])}</td><td>{esc(m["date"] or "undated")}</td>'
                f'<td>{_doc_anchor(m["doc_id"], doc_label, shown_docs)}{own_text}</td>'
                f'<td class="num">{_float(1.0 if m["is_canonical"] else m["jaccard"])}</td>'
                f'<td class="num">{_float(m["containment_member"])}</td></tr>')
        hidden = cluster["cluster_size"] - frame.height
        more = f'<p class="cap capped">and {hidden:,} more members not listed.</p>' if hidden > 0 else ""
        articles.append(f"""<article class="cluster" id="cluster-{esc(cid)}">
<h3>Cluster <code>{esc(cid)}</code>: {cluster['cluster_size']:,} paragraphs, {cluster['cluster_outlets']:,} outlet(s)</h3>
<blockquote class="canonical">{esc(cluster['text'])}</blockquote>
<p class="meta">Canonical copy: {esc(cluster['outlet'])}, {esc(cluster['date'] or 'undated')}, paragraph
<code>{esc(cluster['paragraph_id'])}</code>. Outlets and dates: {esc(outlets)}.</p>
{_table(['role / link kind', 'outlet', 'date', 'document', 'jaccard', 'containment in canonical'], rows, 'members')}
{more}</article>""")
    html_text = (f'<section id="clusters"><h2>Largest clusters</h2>'
                 f'{_cap(top.height, total, "clusters", " (largest first)")}{"".join(articles)}</section>')
    return html_text, set(top["cluster_id"].to_list())


def section_quotes(run: RunOutput, shown_docs: set[str]) -> str:
    """Quotes: contained links (a passage and the longer paragraph that re-wraps it), longest shared
    passage first, each with both paragraphs and the passage highlighted in both (``<mark>``)."""
    top, total = quote_links(run, MAX_QUOTES)
    if top.is_empty():
        return '<section id="quotes"><h2>Quotes</h2><p>No contained links in this run.</p></section>'
    articles = []
    for q in top.iter_rows(named=True):
        sides = []
        for side, label in (("left", "earlier"), ("right", "later")):
            where = (f'{label}: {esc(q[f"{side}_outlet"] or NO_OUTLET)}, {esc(q[f"{side}_date"] or "undated")}, doc '
                     f'{_doc_anchor(q[f"{side}_doc_id"], q[f"{side}_doc_id"], shown_docs)}, paragraph '
                     f'<code>{esc(q[f"{side}_id"])}</code>; {_float(q[f"containment_{side}"])} of its shingles are in the other')
            text = (_marked(q[f"{side}_text"], q[f"{side}_start"], q[f"{side}_end"]) if q[f"{side}_text"] is not None
                    else "(a paragraph of an earlier output: its text is there)")
            sides.append(f'<p class="meta">{where}</p><blockquote class="passage">{text}</blockquote>')
        articles.append(f'<article class="quote" data-left="{esc(q["left_id"])}" data-right="{esc(q["right_id"])}">'
                        f'{"".join(sides)}</article>')
    return (f'<section id="quotes"><h2>Quotes</h2>'
            f'{_cap(top.height, total, "contained links", " (longest shared passage first)")}'
            '<p class="legend">A contained link joins a paragraph to another that holds most of it, such as a quote '
            're-wrapped in a longer paragraph; <mark>highlighted</mark>: the passage they share, in both.</p>'
            f'{"".join(articles)}</section>')


def section_removals(run: RunOutput, max_outlets: int) -> str:
    """Removals by rule (bar chart of the commonest, then a table with an example each; rows carry
    ``data-rule`` and ``data-spans``) and by outlet."""
    by_rule = removals_by_rule(run)
    by_outlet = removals_by_outlet(run)
    if by_rule.is_empty():
        chart = "<p>Nothing was removed.</p>"
    else:
        top = by_rule.head(25)
        chart = (f'<figure id="removals-chart">{bar_svg(top["reason"].to_list(), top["spans"].to_list(), "spans removed")}'
                 f'<figcaption>Spans removed per rule{" (top 25)" if by_rule.height > 25 else ""}.</figcaption></figure>')
    rule_rows = [
        f'<tr data-rule="{esc(r["reason"])}" data-spans="{r["spans"]}"><td><code>{esc(r["reason"])}</code></td>'
        f'<td>{esc(r["stage"])}</td><td class="num">{r["spans"]:,}</td><td class="num">{r["documents"]:,}</td>'
        f'<td class="num">{r["outlets"]:,}</td><td class="num">{r["chars"] or 0:,}</td>'
        f'<td><del>{esc(_clip(r["example"], 160))}</del></td></tr>'
        for r in by_rule.head(MAX_RULES).iter_rows(named=True)]
    outlet_rows = [
        f'<tr data-outlet="{esc(r["outlet"])}" data-spans="{r["spans"]}"><td>{esc(r["outlet"])}</td>'
        f'<td class="num">{r["documents"]:,}</td><td class="num">{r["documents_touched"]:,}</td>'
        f'<td class="num">{r["spans"]:,}</td><td class="num">{r["chars"]:,}</td><td>{esc(r["top_rules"])}</td></tr>'
        for r in by_outlet.head(max_outlets).iter_rows(named=True)]
    return f"""<section id="removals"><h2>Removals</h2>
<h3 id="removals-by-rule">By rule</h3>{chart}
{_cap(min(MAX_RULES, by_rule.height), by_rule.height, 'rules')}
{_table(['rule', 'stage', 'spans', 'documents', 'outlets', 'characters', 'example'], rule_rows, 'rules')}
<h3 id="removals-by-outlet">By outlet</h3>
{_cap(min(max_outlets, by_outlet.height), by_outlet.height, 'outlets', ' (most removals first)')}
{_table(['outlet', 'documents', 'with removals', 'spans', 'characters', 'commonest rules'], outlet_rows, 'outlets')}
</section>"""


def _offset(record_offset: int | None) -> str:
    """`` @123`` after a path for records past the start of a container file (JSONL lines)."""
    return f" @{record_offset:,}" if record_offset else ""


def _clip(text: str | None, width: int) -> str:
    text = text or ""
    return text if len(text) <= width else text[:width - 1] + "…"


def _mark(piece: str, offset: int, spans: list[tuple[int, int, str]]) -> str:
    """``piece`` escaped, where ``piece`` is ``text[offset:offset + len(piece)]``, with its characters
    inside the ``spans`` of ``text`` (sorted, disjoint ``(start, end, title)``) in ``<mark>``."""
    shown, at = [], 0
    for start, end, title in spans:
        low, high = (min(max(edge - offset, 0), len(piece)) for edge in (start, end))
        if low < high:
            shown.append(f'{esc(piece[at:low])}<mark title="{esc(title)}">{esc(piece[low:high])}</mark>')
            at = high
    return "".join(shown) + esc(piece[at:])


def _marked(text: str, start: int | None, end: int | None, width: int = MEMBER_TEXT_CHARS) -> str:
    """``text`` escaped with ``text[start:end]`` in ``<mark>``, cut to about ``width`` characters of
    context around the passage (… where cut); a passage longer than ``width`` is cut too."""
    if start is None or end is None:
        return esc(_clip(text, width))
    room = max(0, width - (end - start))
    before = min(start, max(room // 2, room - (len(text) - end)))  # room unused on one side goes to the other
    after = min(len(text) - end, room - before)
    passage = text[start:end] if end - start <= width else text[start:start + width - 1] + "…"
    return (("…" if before < start else "") + esc(text[start - before:start]) + f"<mark>{esc(passage)}</mark>"
            + esc(text[end:end + after]) + ("…" if end + after < len(text) else ""))


def section_errors(run: RunOutput) -> str:
    """Errors by reason (stage, count, example paths, first message), then the failed inputs."""
    by_reason = errors_by_reason(run)
    errors = run.scan("errors")
    total = errors.select(pl.len()).collect().item()
    if not total:
        return '<section id="errors"><h2>Errors</h2><p>No input failed.</p></section>'
    reason_rows = [
        f'<tr data-error="{esc(r["error_type"])}" data-inputs="{r["inputs"]}"><td><code>{esc(r["error_type"])}</code></td>'
        f'<td>{esc(r["stages"])}</td><td class="num">{r["inputs"]:,}</td>'
        f'<td>{"<br>".join(f"<code>{esc(p)}</code>" for p in r["examples"])}</td><td>{esc(r["message"])}</td></tr>'
        for r in by_reason.iter_rows(named=True)]
    listed = errors.sort("source_path", "record_offset").head(MAX_ERROR_ROWS).collect()
    error_rows = [
        f'<tr><td><code>{esc(r["source_path"])}</code>{_offset(r["record_offset"])}</td>'
        f'<td>{esc(r["stage"])}</td><td><code>{esc(r["error_type"])}</code></td><td>{esc(r["message"])}</td></tr>'
        for r in listed.iter_rows(named=True)]
    return f"""<section id="errors"><h2>Errors</h2>
<h3>By reason</h3>{_table(['reason', 'stage', 'inputs', 'examples', 'message'], reason_rows, 'reasons')}
<h3>Failed inputs</h3>{_cap(listed.height, total, 'failed inputs')}
{_table(['input', 'stage', 'reason', 'message'], error_rows, 'errors')}</section>"""


def section_documents(run: RunOutput, chosen: pl.DataFrame, total: int, shown_clusters: set[str]) -> str:
    """Each chosen document in source order: removed spans struck through with their rule, reused
    paragraphs marked and linked to their cluster (or to the canonical paragraph when that cluster is
    not among those shown), the shared passages of contained links highlighted."""
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
    articles = []
    for doc in chosen.iter_rows(named=True):
        blocks = document_blocks(para_by_doc.get(doc["doc_id"], []), removed_by_doc.get(doc["doc_id"], []))
        body = [_block_html(block, shown_clusters, shown_docs, passages) for block in blocks[:MAX_BLOCKS_PER_DOCUMENT]]
        if len(blocks) > MAX_BLOCKS_PER_DOCUMENT:
            body.append(f'<p class="cap capped">Showing {MAX_BLOCKS_PER_DOCUMENT} of {len(blocks):,} '
                        'paragraphs and removed spans of this document.</p>')
        meta = " · ".join(esc(part) for part in (
            doc["outlet"], doc["date"] or "undated", doc["format"], doc["encoding"],
            f"{doc['n_paragraphs']} paragraphs", f"{doc['n_removed']} removed",
            f"{doc['reused']} reused") if part)
        url = f'<br><span class="url">{esc(doc["url"])}</span>' if doc["url"] else ""
        articles.append(f"""<article class="doc" id="doc-{esc(doc['doc_id'])}">
<h3>{esc(doc['title'] or '(untitled)')}</h3>
<p class="meta">{meta}<br><code>{esc(doc['source_path'])}</code>{_offset(doc['record_offset'])} · doc <code>{esc(doc['doc_id'])}</code>{url}</p>
<div class="text">{''.join(body)}</div></article>""")
    return (f'<section id="documents"><h2>Documents</h2>'
            f'{_cap(len(ids), total, "documents", " (most reused paragraphs first, then most removals)")}'
            '<p class="legend"><del>struck through</del>: removed, with the rule that removed it; '
            '<span class="reused">marked</span>: a paragraph that recurs elsewhere, linked to its cluster; '
            '<mark>highlighted</mark>: a passage shared with a longer or shorter paragraph elsewhere (a '
            'contained link: a quote and the paragraph that re-wraps it; hover for where).</p>'
            f'{"".join(articles)}</section>')


def _block_html(block: Block, shown_clusters: set[str], shown_docs: set[str],
                passages: dict[str, list[tuple[int, int, str]]] | None = None) -> str:
    row = block.row
    if block.kind == "removed":
        return (f'<p class="removed"><del title="{esc(row["reason"])}">{esc(row["text"])}</del> '
                f'<span class="rule">{esc(row["reason"])}</span></p>')
    # kept pieces are consecutive slices of the paragraph's text, where the offsets of its shared
    # passages are: each piece marks the part of them it holds
    spans = (passages or {}).get(row["paragraph_id"], [])
    shown, offset = [], 0
    for piece, rule in block.pieces:
        if rule is None:
            shown.append(_mark(piece, offset, spans))
            offset += len(piece)
        else:
            shown.append(f'<del title="{esc(rule)}">{esc(piece)}</del> <span class="rule">{esc(rule)}</span>')
    text = " ".join(shown)
    css = ["para"] + (["title"] if row["is_title"] else [])
    badge = ""
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
            badge = f'<a class="badge" href="#cluster-{esc(cid)}">{esc(what)}</a>'
        elif row["canonical_doc_id"] in shown_docs and not row["is_canonical"]:
            badge = f'<a class="badge" href="#p-{esc(row["canonical_id"])}">{esc(what)}</a>'
        else:
            badge = f'<span class="badge" title="cluster {esc(cid)} is not among the clusters shown">{esc(what)}</span>'
    return f'<p class="{" ".join(css)}" id="p-{esc(row["paragraph_id"])}">{badge}{text}</p>'


STYLE = """
:root{--fg:#1d1d1f;--muted:#6b6b70;--line:#e3e3e6;--accent:#2f5f98;--del:#b3261e;--reuse:#fff6d6}
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:var(--fg);background:#fafafa}
header{background:#1f2a37;color:#fff;padding:14px 28px}
header h1{margin:0;font-size:20px}
header p{margin:2px 0 0;color:#c9d1db}
nav{position:sticky;top:0;background:#fff;border-bottom:1px solid var(--line);padding:6px 28px;z-index:1}
nav a{margin-right:16px;color:var(--accent);text-decoration:none}
main{padding:8px 28px 40px;max-width:1240px}
section{margin-top:18px;padding-top:6px;border-top:2px solid var(--line)}
h2{font-size:18px;margin:10px 0}
h3{font-size:15px;margin:14px 0 6px}
table{border-collapse:collapse;margin:6px 0;background:#fff}
th,td{border:1px solid var(--line);padding:3px 8px;text-align:left;vertical-align:top}
thead th{background:#f1f2f4}
td.num{text-align:right;font-variant-numeric:tabular-nums}
table.kv thead{display:none}
.cols{display:flex;flex-wrap:wrap;gap:28px;align-items:flex-start}
.cards{display:flex;flex-wrap:wrap;gap:8px;margin:6px 0 10px}
.card{background:#fff;border:1px solid var(--line);border-radius:6px;padding:6px 12px;min-width:118px}
.card b{display:block;font-size:20px;font-variant-numeric:tabular-nums}
.card span{color:var(--muted);font-size:12px}
figure{margin:8px 0;max-width:760px}
figure svg{max-width:100%;height:auto}
figcaption,.meta,.cap,.legend{color:var(--muted);font-size:12.5px}
.cap.capped{color:#8a4b00;font-weight:600}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
blockquote.canonical{margin:6px 0;padding:8px 12px;background:#fff;border-left:4px solid var(--accent)}
article{background:#fff;border:1px solid var(--line);border-radius:6px;padding:6px 14px;margin:10px 0}
article:target{outline:3px solid #f0b429}
.text p{margin:4px 0}
.para.title{font-weight:600}
.para.reused{background:var(--reuse)}
p:target{outline:2px solid #f0b429}
del{color:var(--del);text-decoration-thickness:1.5px}
mark{background:#ffd966;color:inherit;padding:0 1px}
blockquote.passage{margin:2px 0 8px;padding:6px 12px;background:#fff;border-left:4px solid #ffd966}
.removed{color:var(--muted)}
.rule{font:11px ui-monospace,Menlo,Consolas,monospace;color:var(--muted);background:#f1f2f4;border-radius:3px;padding:0 4px}
.badge{display:inline-block;font-size:11px;background:#2f5f98;color:#fff;border-radius:3px;padding:0 6px;margin-right:6px;text-decoration:none}
.url{color:var(--muted);word-break:break-all}
.empty{padding:20px;background:#fff;border:1px dashed var(--line);color:var(--muted)}
details summary{cursor:pointer;color:var(--accent);font-size:12px}
"""

# Counts script errors (and failed resource loads) so a headless browser test can read them from the DOM.
HEAD_SCRIPT = """window.__reportErrors=0;window.addEventListener("error",function(){window.__reportErrors++;
if(document.body){document.body.dataset.jsErrors=String(window.__reportErrors);}},true);"""
# Records the heatmap's rendered width and the error count on <body> (data-heatmap-width, data-js-errors).
TAIL_SCRIPT = """(function(){try{var h=document.querySelector("#heatmap svg")||document.getElementById("heatmap");
document.body.dataset.heatmapWidth=String(h?Math.round(h.getBoundingClientRect().width):0);}
catch(e){window.__reportErrors++;}document.body.dataset.jsErrors=String(window.__reportErrors);})();"""


def render_report(out_dir: Path, report_path: Path, *, max_documents: int = 200, max_clusters: int = 50,
                  max_outlets: int = 30) -> Path:
    """Write the HTML report of the run in ``out_dir`` to ``report_path`` (atomically) and return it.

    Args:
        out_dir: a finished run's output folder.
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
    run = open_run(out_dir)
    chosen, total_documents = documents_to_show(run, max_documents)
    shown_docs = set(chosen["doc_id"].to_list())
    clusters_html, shown_clusters = section_clusters(run, max_clusters, shown_docs)
    sections = [section_summary(run), section_reuse(run, max_outlets), clusters_html, section_quotes(run, shown_docs),
                section_removals(run, max_outlets), section_errors(run),
                section_documents(run, chosen, total_documents, shown_clusters)]
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    title = f"corpusclean report: {run.root.name or run.root}"
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<style>{STYLE}</style>
<script>{HEAD_SCRIPT}</script>
</head><body>
<header><h1>{esc(title)}</h1><p>{esc(run.root)} · corpusclean {esc(run.manifest.get('version', ''))} · generated {generated}</p></header>
<nav><a href="#summary">Summary</a><a href="#reuse">Who reprints whom</a><a href="#clusters">Clusters</a><a href="#quotes">Quotes</a><a href="#removals">Removals</a><a href="#errors">Errors</a><a href="#documents">Documents</a></nav>
<main>
{''.join(sections)}
</main>
<script>{TAIL_SCRIPT}</script>
</body></html>
"""
    report_path = Path(report_path)
    temporary = report_path.with_name(f".{report_path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(page, "utf-8")
        os.replace(temporary, report_path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise UsageError(f"cannot write the report to {report_path}: {exc.strerror or exc}") from None
    return report_path
