"""The report's views in the terminal, for one document, one cluster or one outlet (rich).

* :func:`inspect_document`: the document in source order, removed spans struck through and dimmed
  with their rule (``~~like this~~ [rule]``, readable without colour too), reused paragraphs marked with
  their cluster, then the documents it shares text with (its sources and its reprints, from
  ``reprints.parquet``), every link from its paragraphs with kind, Jaccard and both containments, and
  the shared passage of each ``contained`` link as it reads in this document.
* :func:`inspect_cluster`: the canonical text, the members (outlet, date, document, link to the
  canonical copy), the links among them, and the shared passage of each ``contained`` link of a
  member as it reads in the member.
* :func:`inspect_outlet`: counts, removals by rule, who it reprints and who reprints it, its largest
  clusters and its documents.

Each takes an output folder or an ``s3://`` output: the generation its manifest names, read in place
(:func:`~corpusclean.views.report.open_output` with ``in_place``), not fetched whole.

Why in place: the bytes fetched. A local copy of the tables (what ``report`` and ``export`` read) fetches
every table whole for one page: 2.1 MB for one document of a 2 MB crawl's output in row groups of 20
pages (tests/test_object_store_views.py), gigabytes on a large output. Read in place, 0.39 MB, each query
fetches the footers and the column chunks it selects of the row groups whose statistics can match
(:func:`corpusclean.storage.scan_table`). Ids are hashes, which no row group's statistics rule out, so
a view looks a document up by id in the narrow ``doc_id`` and ``source_path`` columns of ``documents``
(:func:`_source_paths`), then reads its rows (and text) by path as well (``source_paths``, see
:func:`~corpusclean.views.report.within`): the tables are written in path order, so the statistics of
``source_path`` point at its row groups. ``links`` and ``reprints`` are one row group each and are read
(the columns a view needs) whole. Locally the same queries read the same rows.

Ids may be given in full or as an unambiguous prefix (at least 4 characters); an outlet name may differ
in case. Anything unknown raises :class:`~corpusclean.errors.UsageError` with one line saying so.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..errors import UsageError
from .report import (NO_OUTLET, Block, RunOutput, cluster_members, clustered_paragraphs, document_blocks,
                     document_rows, open_output, outlet_name, reuse_pairs, within)

MAX_LISTED = 25         # rows of the longer lists (documents of an outlet, members of a cluster, links)
MIN_PREFIX = 4
#: A document prints at most this many characters of its text (a 90 MB page took 54 s to print whole);
#: ``inspect --full`` prints all of it.
DOC_CHARS = 200_000
PASSAGE_CHARS = 90      # a shared passage longer than this shows its beginning … and its end


def _resolve(run: RunOutput, table: str, column: str, given: str, what: str) -> str:
    """``given`` as a full id of ``table.column``, or the one id it is a prefix of.

    One read of the column: the ids starting with ``given``, sorted, of which ``given`` itself would
    be the first (a string sorts before every longer one it begins)."""
    matches = (run.scan(table).select(column).filter(pl.col(column).str.starts_with(given)).unique()
               .sort(column).head(3).collect()[column].to_list())
    if matches and matches[0] == given:
        return given
    if len(given) < MIN_PREFIX and matches:
        raise UsageError(f"{what} id prefix {given!r} is too short: give at least {MIN_PREFIX} characters")
    if len(given) >= MIN_PREFIX:
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise UsageError(f"{what} id prefix {given!r} is ambiguous in {run.where} "
                             f"(e.g. {', '.join(matches[:2])}); give more characters")
    raise UsageError(f"no {what} with id {given!r} in {run.where}")


def _source_paths(run: RunOutput, doc_ids: pl.Series | list[str]) -> list[str]:
    """The ``source_path`` of each document of ``doc_ids`` in this output (a document of an earlier
    output has none here), from the two narrow columns of ``documents``: what a query of their rows
    filters on too (:func:`~corpusclean.views.report.within`), so that only their row groups are read."""
    ids = pl.Series(list(doc_ids), dtype=pl.String).drop_nulls().unique().implode()
    return (run.scan("documents").filter(pl.col("doc_id").is_in(ids)).select("source_path").unique()
            .sort("source_path").collect()["source_path"].to_list())


def _num(value: Any) -> str:
    return "" if value is None else f"{value:.3f}" if isinstance(value, float) else f"{value:,}"


def _table(title: str, headers: list[str], numeric: set[str] = frozenset(), whole: set[str] = frozenset()) -> Table:
    """A table whose ``whole`` columns (ids, numbers, short words) are never wrapped: an id is for
    copying; the other columns wrap when the terminal is narrow."""
    table = Table(title=title, title_justify="left")
    for header in headers:
        table.add_column(header, justify="right" if header in numeric else "left", no_wrap=header in whole)
    return table


def _add_row(table: Table, *cells: Any) -> None:
    """Add a row of plain text: values from the corpus are never read as rich markup."""
    table.add_row(*(cell if isinstance(cell, Text) else Text("" if cell is None else str(cell)) for cell in cells))


def _passage(text: str, start: int, end: int) -> str:
    """``text[start:end]`` in quotes, its middle cut out (between words) when it is longer than
    ``PASSAGE_CHARS``: the passage's beginning and end are what says where it lies."""
    passage = text[start:end]
    if len(passage) > PASSAGE_CHARS:
        head = PASSAGE_CHARS * 2 // 3
        tail = PASSAGE_CHARS - head - 3
        passage = passage[:head].rsplit(" ", 1)[0] + " … " + passage[-tail:].split(" ", 1)[-1]
    return f"“{passage}”"


def _print_passages(console: Console, title: str, rows: list[tuple[str, str, str, int, int]], where: str,
                    mine_header: str = "paragraph") -> None:
    """A table of shared passages: ``rows`` of (paragraph, other paragraph, paragraph's text, start,
    end), the passage cut from the text; nothing when there are none. ``mine_header`` ``"para"``
    shows the first paragraph by its index (they are all of the document shown)."""
    if not rows:
        return
    table = _table(f"{title} ({len(rows)})", [mine_header, "other paragraph", "characters", f"shared passage ({where})"],
                   numeric={"characters"}, whole={mine_header, "other paragraph"})
    for mine, other, text, start, end in rows[:MAX_LISTED]:
        _add_row(table, _para_idx(mine) if mine_header == "para" else mine, other, f"{start}-{end} of {len(text)}",
                 _passage(text, start, end))
    console.print(table)
    if len(rows) > MAX_LISTED:
        console.print(f"… and {len(rows) - MAX_LISTED:,} more shared passages", style="dim")


def _para_idx(paragraph_id: str) -> str:
    """The index part of a paragraph id (``doc_id-NNNN``), as :func:`inspect_document` numbers its lines."""
    return str(int(paragraph_id.rsplit("-", 1)[1]))


def _removed_text(text: str, rule: str) -> Text:
    return Text.assemble(("~~", "dim"), (text, "dim strike red"), ("~~", "dim"), (f" [{rule}]", "dim italic"))


def inspect_document(out_dir: str | Path, doc_id: str, console: Console, full: bool = False) -> None:
    """Print one document: metadata, text with removals struck through, its links. The text stops
    after :data:`DOC_CHARS` characters, saying how much is left, unless ``full``."""
    with open_output(out_dir, in_place=True) as run:
        _inspect_document(run, doc_id, console, full)


def _inspect_document(run: RunOutput, doc_id: str, console: Console, full: bool) -> None:
    doc_id = _resolve(run, "documents", "doc_id", doc_id, "document")
    path = _source_paths(run, [doc_id])
    doc = (run.scan("documents").filter(within(path) & (pl.col("doc_id") == doc_id)).drop("text")
           .with_columns(outlet_name()).collect().row(0, named=True))
    paragraphs, removed = document_rows(run, [doc_id], source_paths=path)
    ids = paragraphs["paragraph_id"].implode()
    links = (run.scan("links").filter(pl.col("left_id").is_in(ids) | pl.col("right_id").is_in(ids))
             .sort("left_id", "right_id").collect())
    # where the canonical copies of its paragraphs and the other ends of its links are
    related = _source_paths(run, pl.concat([paragraphs["canonical_doc_id"], links["left_doc_id"],
                                            links["right_doc_id"]]))
    canonical_ids = paragraphs["canonical_id"].drop_nulls().implode()
    clustered = (clustered_paragraphs(run, source_paths=related)
                 .filter(pl.col("is_canonical") & pl.col("paragraph_id").is_in(canonical_ids))
                 .select(pl.col("paragraph_id").alias("canonical_id"), pl.col("outlet").alias("canonical_outlet"),
                         pl.col("date").alias("canonical_date")))
    paragraphs = paragraphs.join(clustered.collect(), on="canonical_id", how="left")

    console.print(Text(doc["title"] or "(untitled)", style="bold"))
    console.print(f"doc {doc_id} · {doc['outlet']} ({doc['outlet_source']}) · {doc['date'] or 'undated'}",
                  markup=False, highlight=False)
    console.print(f"{doc['source_path']}" + (f" @{doc['record_offset']}" if doc["record_offset"] else "")
                  + (f" · {doc['url']}" if doc["url"] else ""), markup=False, highlight=False)
    console.print(f"{doc['format']} in {doc['container']}, {doc['encoding']} ({doc['encoding_evidence']}) · "
                  f"{doc['n_paragraphs']} paragraphs, {doc['n_removed']} removed, {doc['n_chars']:,} characters",
                  markup=False, highlight=False)
    console.rule()
    shown = 0
    blocks = document_blocks(paragraphs.to_dicts(), removed.to_dicts())
    for index, block in enumerate(blocks):
        size = len(block.row["text"])
        if not full and shown + size > DOC_CHARS:
            # the rest is counted, not printed: rich lays a 90 MB page out in about a minute
            kept = max(DOC_CHARS - shown, 200)
            console.print(_block_text(_cut(block, kept)))
            left = max(size - kept, 0) + sum(len(b.row["text"]) for b in blocks[index + 1:])
            console.print(f"… {left:,} more characters ({len(blocks) - index - 1:,} more paragraphs and removed "
                          f"spans) not shown: --full prints the whole document", style="dim", markup=False,
                          highlight=False)
            break
        console.print(_block_text(block))
        shown += size
    console.rule()

    _print_reprints(run, doc_id, console)
    if links.is_empty():
        console.print("No links: no paragraph of this document recurs elsewhere.")
        return
    others = (run.scan("paragraphs").filter(within(related) & pl.col("paragraph_id").is_in(
        pl.concat([links["left_id"], links["right_id"]]).unique().implode()))
        .select("paragraph_id", outlet_name(), "date").collect())
    where = {row["paragraph_id"]: row for row in others.iter_rows(named=True)}
    # this document's paragraphs by index, as the text above numbers them, the other one by its whole
    # id with its outlet and date below: five columns that fit 80 without cutting a value
    table = _table(f"links ({links.height})", ["para", "kind", "jaccard", "contained", "other paragraph"],
                   numeric={"para", "jaccard", "contained"},
                   whole={"para", "kind", "jaccard", "contained", "other paragraph"})
    table.caption, table.caption_justify = ("contained: share of this paragraph in the other / of the other "
                                            "in this (word shingles)"), "left"
    own = dict(paragraphs.select("paragraph_id", "text").iter_rows())
    passages = []
    for link in links.iter_rows(named=True):
        mine_left = link["left_id"] in own
        mine, other = (link["left_id"], link["right_id"]) if mine_left else (link["right_id"], link["left_id"])
        c_mine, c_other = ((link["containment_left"], link["containment_right"]) if mine_left
                           else (link["containment_right"], link["containment_left"]))
        info = where.get(other, {})
        _add_row(table, _para_idx(mine), link["kind"], _num(link["jaccard"]), f"{_num(c_mine)}/{_num(c_other)}",
                 f"{other}\n{info.get('outlet') or NO_OUTLET}, {info.get('date') or 'undated'}")
        start, end = (link.get("left_start"), link.get("left_end")) if mine_left else (link.get("right_start"), link.get("right_end"))
        if link["kind"] == "contained" and start is not None:
            passages.append((mine, other, own[mine], start, end))
    console.print(table)
    _print_passages(console, "shared passages of contained links", passages, "as it reads here", "para")


def _cut(block: Block, chars: int) -> Block:
    """``block`` with its text cut after ``chars`` characters, marked with an ellipsis."""
    pieces, left = [], chars
    for piece, rule in block.pieces:
        if left <= 0:
            break
        pieces.append((piece[:left] + ("…" if len(piece) > left else ""), rule))
        left -= len(piece)
    text = block.row["text"]
    return replace(block, row={**block.row, "text": text[:chars] + ("…" if len(text) > chars else "")}, pieces=pieces)


def _print_reprints(run: RunOutput, doc_id: str, console: Console) -> None:
    """The documents this one shares text with (``reprints.parquet``): its sources (earlier documents)
    and its reprints (later ones), each with the share of this document and of the other it makes."""
    if not run.has("reprints"):  # an output of a version without the table
        return
    pairs = (run.scan("reprints").filter((pl.col("earlier_doc_id") == doc_id) | (pl.col("later_doc_id") == doc_id))
             .collect())
    if pairs.is_empty():
        console.print("No reprints: this document shares no text with another document.")
        return
    table = _table(f"sources and reprints ({pairs.height})", ["this is", "other document", "shares", "kinds"],
                   numeric={"shares"}, whole={"this is", "shares"})
    table.caption, table.caption_justify = ("shares: of this document / of the other, in characters of shared "
                                            "paragraphs; dates decide who is earlier, path order on a tie"), "left"
    order = pl.when(pl.col("later_doc_id") == doc_id).then(0).otherwise(1)  # its sources first
    for row in pairs.sort(order, "lag_days", "earlier_doc_id", "later_doc_id", nulls_last=True).iter_rows(named=True):
        later = row["later_doc_id"] == doc_id
        side, other = ("later", "earlier") if later else ("earlier", "later")
        when = ("same day" if row["ordered_by"] == "same_date" else "undated" if row["ordered_by"] == "undated"
                else f"{abs(row['lag_days'])} d {'earlier' if later else 'later'}")
        _add_row(table, "a reprint of" if later else "reprinted by",
                 f"{row[f'{other}_doc_id']}\n{row[f'{other}_outlet'] or NO_OUTLET}, {row[f'{other}_date'] or 'undated'}"
                 f" ({when})", f"{row[f'{side}_share']:.0%}/{row[f'{other}_share']:.0%}", row["kinds"].replace(",", ", "))
    console.print(table)


def _block_text(block: Block) -> Text:
    row = block.row
    if block.kind == "removed":
        return Text.assemble(("   - ", "dim"), _removed_text(row["text"], row["reason"]))
    line = Text.assemble((f"{row['para_idx']:>3} ", "cyan"))
    if row.get("cluster_id") is not None:
        if row["is_canonical"]:
            what = f"cluster {row['cluster_id']} ({row['cluster_size']}), canonical"
        else:
            what = (f"cluster {row['cluster_id']} ({row['cluster_size']}), copy of "
                    f"{row.get('canonical_outlet') or NO_OUTLET} {row.get('canonical_date') or 'undated'}")
        line.append(f"⟲ {what} ", style="yellow")
    if row["is_title"]:
        line.append("[title] ", style="bold")
    for i, (piece, rule) in enumerate(block.pieces):
        if i:
            line.append(" ")
        if rule is None:
            line.append(piece, style="bold" if row["is_title"] else "")
        else:
            line.append(_removed_text(piece, rule))
    return line


def inspect_cluster(out_dir: str | Path, cluster_id: str, console: Console) -> None:
    """Print one cluster: canonical text, members with their link to it, links among members."""
    with open_output(out_dir, in_place=True) as run:
        _inspect_cluster(run, cluster_id, console)


def _inspect_cluster(run: RunOutput, cluster_id: str, console: Console) -> None:
    cluster_id = _resolve(run, "paragraphs", "cluster_id", cluster_id, "cluster")
    # the paths of the members' documents first (two narrow columns): their rows, with text, by path
    paths = (run.scan("paragraphs").filter(pl.col("cluster_id") == cluster_id).select("source_path").unique()
             .sort("source_path").collect()["source_path"].to_list())
    members = cluster_members(run, [cluster_id], None, source_paths=paths)
    canonical = members.filter(pl.col("is_canonical")).row(0, named=True)
    console.print(Text(f"cluster {cluster_id}: {canonical['cluster_size']} paragraphs in "
                       f"{canonical['cluster_outlets']} outlet(s)", style="bold"))
    console.print(f"canonical {canonical['paragraph_id']} · {canonical['outlet']} · {canonical['date'] or 'undated'}"
                  f" · {canonical['title'] or canonical['source_path']}", markup=False, highlight=False)
    console.rule()
    console.print(Text(canonical["text"]))
    console.rule()
    # the id with its outlet and date below, so that at 80 columns only the document's title wraps
    table = _table(f"members ({members.height})", ["paragraph", "role", "jaccard", "contained", "document"],
                   numeric={"jaccard", "contained"}, whole={"paragraph", "role", "jaccard", "contained"})
    table.caption, table.caption_justify = "contained: share of the member in the canonical (word shingles)", "left"
    for m in members.head(MAX_LISTED).iter_rows(named=True):
        role = "canonical" if m["is_canonical"] else (m["kind"] or "via other members")
        _add_row(table, f"{m['paragraph_id']}\n{m['outlet'] or NO_OUTLET}, {m['date'] or 'undated'}", role,
                 _num(1.0 if m["is_canonical"] else m["jaccard"]), _num(m["containment_member"]),
                 m["title"] or m["source_path"])
    console.print(table)
    if members.height > MAX_LISTED:
        console.print(f"… and {members.height - MAX_LISTED:,} more members", style="dim")
    for m in members.filter(~pl.col("is_canonical") & (pl.col("text") != canonical["text"])).head(5).iter_rows(named=True):
        console.print(Text.assemble((f"{m['paragraph_id']} ({m['outlet']}): ", "cyan"), m["text"]))

    ids = members["paragraph_id"].implode()
    links = (run.scan("links").filter(pl.col("left_id").is_in(ids) & pl.col("right_id").is_in(ids))
             .sort("left_id", "right_id").collect())
    table = _table(f"links among members ({links.height})", ["left (earlier) → right (later)", "kind", "jaccard",
                   "contained"], numeric={"jaccard", "contained"},
                   whole={"left (earlier) → right (later)", "kind", "jaccard", "contained"})
    table.caption, table.caption_justify = "contained: share of left in right / of right in left (word shingles)", "left"
    for link in links.head(MAX_LISTED).iter_rows(named=True):
        _add_row(table, f"{link['left_id']}\n→ {link['right_id']}", link["kind"], _num(link["jaccard"]),
                 f"{_num(link['containment_left'])}/{_num(link['containment_right'])}")
    console.print(table)
    if links.height > MAX_LISTED:
        console.print(f"… and {links.height - MAX_LISTED:,} more links", style="dim")

    # contained links with a member at one end (or both): among members, or to a quote's source
    contained = (run.scan("links").filter((pl.col("kind") == "contained")
                                          & (pl.col("left_id").is_in(ids) | pl.col("right_id").is_in(ids)))
                 .sort("left_id", "right_id").collect())
    texts = dict(members.select("paragraph_id", "text").iter_rows())
    passages = []
    for link in contained.iter_rows(named=True):
        side, other = ("left", "right") if link["left_id"] in texts else ("right", "left")
        start, end = link.get(f"{side}_start"), link.get(f"{side}_end")
        if start is not None:
            passages.append((link[f"{side}_id"], link[f"{other}_id"], texts[link[f"{side}_id"]], start, end))
    _print_passages(console, "shared passages of contained links", passages, "as it reads in the member")


def _resolve_outlet(run: RunOutput, name: str) -> str:
    outlets = (run.scan("documents").select(outlet_name()).unique().sort("outlet").collect()["outlet"].to_list())
    if name in outlets:
        return name
    folded = [outlet for outlet in outlets if outlet.casefold() == name.casefold()]
    if len(folded) == 1:
        return folded[0]
    if not outlets:
        raise UsageError(f"no outlet named {name!r} in {run.where}: the run has no documents")
    known = ", ".join(outlets[:12]) + (f", … ({len(outlets)} in all)" if len(outlets) > 12 else "")
    raise UsageError(f"no outlet named {name!r} in {run.where} (outlets: {known})")


def inspect_outlet(out_dir: str | Path, name: str, console: Console) -> None:
    """Print one outlet: counts, removals by rule, reuse in both directions, clusters, documents."""
    with open_output(out_dir, in_place=True) as run:
        _inspect_outlet(run, name, console)


def _of_outlet(name: str) -> pl.Expr:
    """The rows of outlet ``name`` (as :func:`~corpusclean.views.report.outlet_name` shows it), on the
    stored column: a filter the scan can take (not one on a computed column), whose statistics prune
    row groups when an outlet's documents are together in path order (a folder per outlet)."""
    col = pl.col("outlet")
    return (col == name) | col.is_null() | (col == "") if name == NO_OUTLET else col == name


def _inspect_outlet(run: RunOutput, name: str, console: Console) -> None:
    name = _resolve_outlet(run, name)
    is_outlet = pl.col("outlet") == name
    documents = (run.scan("documents").filter(_of_outlet(name)).with_columns(outlet_name()).filter(is_outlet)
                 .select("doc_id", "title", "date", "source_path", "n_paragraphs", "n_removed")
                 .sort("date", "source_path", nulls_last=True).collect())
    paragraphs = run.scan("paragraphs").filter(_of_outlet(name)).with_columns(outlet_name()).filter(is_outlet)
    counts = paragraphs.select(pl.len().alias("paragraphs"),
                               pl.col("cluster_id").is_not_null().sum().alias("reused"),
                               (pl.col("cluster_id").is_not_null() & ~pl.col("is_canonical")).sum().alias("copies"),
                               ).collect().row(0, named=True)
    removed = (run.scan("removed").filter(_of_outlet(name)).with_columns(outlet_name()).filter(is_outlet)
               .group_by("reason").agg(pl.len().alias("spans")).sort(["spans", "reason"], descending=[True, False])
               .collect())
    console.print(Text(name, style="bold"))
    console.print(f"{documents.height:,} documents · {counts['paragraphs']:,} paragraphs kept · "
                  f"{counts['reused']:,} in clusters ({counts['copies']:,} of them later copies) · "
                  f"{removed['spans'].sum():,} spans removed", markup=False, highlight=False)

    if not removed.is_empty():
        table = _table("removed by rule", ["rule", "spans"], numeric={"spans"})
        for reason, spans in removed.iter_rows():
            _add_row(table, reason, f"{spans:,}")
        console.print(table)

    pairs = reuse_pairs(run)
    table = _table("reuse (direction by canonical date)", ["direction", "outlet", "paragraphs"], numeric={"paragraphs"})
    for source, reprint, count in pairs.filter(pl.col("reprint_outlet") == name).iter_rows():
        _add_row(table, "reprints from", source + (" (itself)" if source == name else ""), f"{count:,}")
    reprinted_by = pairs.filter((pl.col("source_outlet") == name) & (pl.col("reprint_outlet") != name))
    for source, reprint, count in reprinted_by.iter_rows():
        _add_row(table, "reprinted by", reprint, f"{count:,}")
    console.print(table if table.row_count else "No paragraph of this outlet is shared with another document.")

    clusters = (clustered_paragraphs(run).filter(is_outlet).select("cluster_id", "cluster_size", "cluster_outlets")
                .unique().sort(["cluster_size", "cluster_id"], descending=[True, False]).collect())
    if not clusters.is_empty():
        top = pl.col("is_canonical") & pl.col("cluster_id").is_in(clusters["cluster_id"].head(10).implode())
        # where the canonical copies are first (narrow columns), then their text by path
        paths = (run.scan("paragraphs").filter(pl.col("cluster_id").is_not_null() & top).select("source_path")
                 .unique().sort("source_path").collect()["source_path"].to_list())
        canon = (clustered_paragraphs(run, with_text=True, source_paths=paths).filter(top)
                 .select("cluster_id", pl.col("outlet").alias("canonical_outlet"), "text").collect())
        table = _table(f"largest clusters with this outlet ({clusters.height:,} in all)",
                       ["cluster", "size", "outlets", "canonical outlet", "canonical text"], numeric={"size", "outlets"},
                       whole={"cluster"})
        for row in clusters.head(10).join(canon, on="cluster_id", how="left", maintain_order="left").iter_rows(named=True):
            text = row["text"] or ""
            _add_row(table, row["cluster_id"], f"{row['cluster_size']:,}", f"{row['cluster_outlets']:,}",
                          row["canonical_outlet"], text[:90] + ("…" if len(text) > 90 else ""))
        console.print(table)

    table = _table(f"documents ({documents.height:,})", ["doc", "date", "title", "paragraphs", "removed"],
                   numeric={"paragraphs", "removed"}, whole={"doc"})
    for row in documents.head(MAX_LISTED).iter_rows(named=True):
        _add_row(table, row["doc_id"], row["date"] or "undated", row["title"] or row["source_path"],
                      f"{row['n_paragraphs']:,}", f"{row['n_removed']:,}")
    console.print(table)
    if documents.height > MAX_LISTED:
        console.print(f"… and {documents.height - MAX_LISTED:,} more documents", style="dim")
