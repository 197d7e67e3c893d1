"""The final write: a run's tables from its phase-A shards and phase B's links, shard by shard.

Phase B (:func:`corpusclean.dedup.phase_b.link_corpus`) decides, for every paragraph, its cluster
columns and whether it is a template; this module turns each phase-A shard into its final
``documents``, ``paragraphs``, ``removed`` and ``fingerprints`` rows with
:func:`~corpusclean.dedup.phase_b.finalize_shard`, writes them through
:class:`~corpusclean.writers.parquet.TableWriter` (a row group per write), writes ``errors`` and
``links`` (with the spans of contained passages, :func:`~corpusclean.dedup.spans.with_spans`),
and checks on the way that every discovered input is in ``documents`` or ``errors``, once. Memory is
one slice of one shard at a time (see :data:`WRITE_SLICE_PARAGRAPHS`), plus what phase B holds.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import polars as pl

from ..dedup.fingerprints import band_columns
from ..dedup.phase_b import META_COLUMNS, Linked, Part, finalize_shard
from ..dedup.reprints import reprints, sibling_pairs
from ..dedup.spans import with_spans
from ..failpoints import failpoint
from ..frames import owned_strings
from ..schema import FINAL_DOCUMENTS, FINAL_PARAGRAPHS, FINAL_REMOVED, NULLABLE_INTEGERS
from ..shards import read_shard
from .parquet import TableWriter, write_table


#: Paragraphs per slice of a shard in the final write (whole documents; a shard of fewer is one
#: slice). A large JSONL file is one shard (72 MB of text, 297k paragraphs, per copy of allsides-dev)
#: and written whole it made the main process's peak: 945 MiB at 1x, 1420 at 3x; in slices of 50k
#: paragraphs, 701 and 1107 MiB (benchmarks/real_scale.py), below the linking steps before it. Once
#: phase B's tasks left the driver (dedup.task_pool_paragraphs) the write was its peak again; slices of
#: 25k took it from 669-684 to 611-612 MiB at 1x and from 886-888 to 832-835 MiB at 3x (two runs
#: each), the write's time within the runs' spread (1.6-2.0 against 1.7-1.9 s at 1x).
WRITE_SLICE_PARAGRAPHS = 25_000


def _write_slices(shard: Path, documents: pl.DataFrame, limit: int) -> list[tuple[int, int, int, int]]:
    """The slices of the shard folder ``shard`` for the final write, as ``(first document, end
    document, first paragraph, end paragraph)`` rows of its ``documents`` (read, in record order) and
    of its paragraphs: whole documents, in order, at most ``limit`` paragraphs each unless one
    document has more. One slice when the shard is small, or if its paragraphs were not in its
    documents' order (phase A writes them so)."""
    total = pl.scan_parquet(shard / "paragraphs.parquet").select(pl.len()).collect().item()
    whole = [(0, documents.height, 0, total)]
    if total <= limit:
        return whole
    runs = pl.read_parquet(shard / "paragraphs.parquet", columns=["doc_id"])["doc_id"].rle().struct.unnest()
    present = documents["doc_id"].is_in(runs["value"].implode())
    if not documents["doc_id"].filter(present).equals(runs["value"]):  # each document's paragraphs, in order
        return whole
    counts = np.zeros(documents.height, dtype=np.int64)
    counts[present.to_numpy()] = runs["len"].to_numpy()
    ends = np.cumsum(counts)
    slices: list[tuple[int, int, int, int]] = []
    first = paragraph = 0
    while first < documents.height:
        end = max(first + 1, int(np.searchsorted(ends, paragraph + limit, side="right")))
        slices.append((first, end, paragraph, int(ends[end - 1])))
        first, paragraph = end, int(ends[end - 1])
    return slices


def write_final(work: Path, target: Path, record: dict[str, Any], linked: Linked, dedup: dict[str, Any],
                parts: Sequence[Part] = ()) -> dict[str, Any]:
    """Write the final tables into ``target`` shard by shard (bounded memory), from the phase-A
    folder ``work`` (``OUT/_work``) described by ``record``, and check the accounting on the way.
    Returns the run's counts for the manifest.

    On the way, the texts of the paragraphs at either end of a ``contained`` link are kept (those
    alone), from the shards and from the earlier outputs among ``parts``, to locate each link's
    shared passage before ``links.parquet`` is written (:func:`.dedup.spans.with_spans`).

    Raises:
        RuntimeError: the accounting failed (an input in neither table, or in both).
    """
    shards_dir = work / "shards"
    writers = {
        "documents": TableWriter(target / "documents.parquet", FINAL_DOCUMENTS),
        "paragraphs": TableWriter(target / "paragraphs.parquet", FINAL_PARAGRAPHS),
        "removed": TableWriter(target / "removed.parquet", FINAL_REMOVED, NULLABLE_INTEGERS["removed"]),
    }
    fingerprint_columns = ["shingles", *band_columns(dedup)]
    fingerprints = None
    errors = [pl.read_parquet(work / "discovery_errors.parquet")]
    seen_paths: set[str] = set()
    unique_ids: set[str] = set()
    removed_by_reason: Counter[str] = Counter()
    contained = linked.links.filter(pl.col("kind") == "contained").select("left_id", "right_id")
    ends = pl.concat([contained["left_id"], contained["right_id"]]).unique().implode()
    end_texts = earlier_texts(parts, ends) if not contained.is_empty() else []
    # Parquet encoding and compression release the GIL: the four tables of a slice are written in
    # threads at once. The next slice is read only when they are done: reading it while they were
    # written saved 0.4 s at 50 MB of text (1.2 -> 0.8 s), but held two at once.
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="corpusclean-write") as threads:
        pending: list[Future] = []
        for part, name in enumerate(record["shards"]):
            # rebuild_documents makes each document's text anew from its kept paragraphs
            shard = read_shard(shards_dir, name, skip={"documents": ("text",)},
                               tables=("documents", "removed", "errors"))
            errors.append(shard["errors"])
            slices = _write_slices(shards_dir / name, shard["documents"], WRITE_SLICE_PARAGRAPHS)
            removed: list[pl.DataFrame] = []
            for index, (first_doc, end_doc, start, stop) in enumerate(slices):
                for future in pending:
                    future.result()
                documents = shard["documents"].slice(first_doc, end_doc - first_doc)
                tables = {"documents": documents,
                          "paragraphs": read_shard(shards_dir, name, tables=("paragraphs",),
                                                   rows={"paragraphs": (start, stop)})["paragraphs"],
                          "removed": shard["removed"] if len(slices) == 1 else shard["removed"].filter(
                              pl.col("doc_id").is_in(documents["doc_id"].implode()))}
                if not contained.is_empty():  # its own copy: a filtered frame keeps the slice's texts
                    end_texts.append(owned_strings(tables["paragraphs"].filter(pl.col("paragraph_id").is_in(ends))
                                                   .select("paragraph_id", "text")))
                final = finalize_shard(tables, linked, part, (start, stop))
                pending = [threads.submit(writers[table].write, final[table]) for table in ("documents", "paragraphs")]
                removed.append(owned_strings(final["removed"]))  # template rows are a filter of the slice
                if index == len(slices) - 1:  # a shard's removed rows are in document-id order, not record order
                    shard_removed = removed[0] if len(removed) == 1 else pl.concat(removed).sort(
                        "source_path", "doc_id", "unit_idx", "char_start", "reason", nulls_last=False)
                    pending.append(threads.submit(writers["removed"].write, shard_removed))
                    del shard_removed, removed
                removed_by_reason.update(final["removed"]["reason"].to_list())
                seen_paths.update(final["documents"]["source_path"].to_list())
                unique_ids.update(final["documents"]["doc_id"].to_list())
                shard_fingerprints = pl.concat([
                    tables["paragraphs"].select(META_COLUMNS),
                    pl.scan_parquet(shards_dir / name / "fingerprints.parquet").select(fingerprint_columns)
                    .slice(start, stop - start).collect(),
                ], how="horizontal").with_columns(linked.is_template(tables["paragraphs"]["paragraph_id"], part))
                if fingerprints is None:
                    fingerprints = TableWriter(target / "fingerprints.parquet", dict(shard_fingerprints.schema))
                pending.append(threads.submit(fingerprints.write, shard_fingerprints))
                if part == 0 and index == 0:
                    failpoint("write.first_shard")  # its (first slice's) tables are being written by the threads
                del tables, final, shard_fingerprints  # the threads hold what they still write
            del shard
        for future in pending:
            future.result()
    error_table = pl.concat(errors).sort("source_path", "record_offset")
    seen_paths.update(error_table["source_path"].to_list())
    unique_ids.update(error_table["doc_id"].to_list())
    records = writers["documents"].rows + error_table.height
    discovered = pl.read_parquet(work / "discovered.parquet")["source_path"].to_list()
    missing = sorted(set(discovered) - seen_paths)
    if missing:
        raise RuntimeError(f"accounting failed: {len(missing)} input(s) are in neither documents nor errors, "
                           f"e.g. {missing[:3]}")
    if len(unique_ids) != records:
        raise RuntimeError("accounting failed: a record is in documents and errors at once, or twice")
    for writer in writers.values():
        writer.close()
    if fingerprints is None:
        fingerprints = TableWriter(target / "fingerprints.parquet", {c: pl.String for c in META_COLUMNS})
    fingerprints.close()
    write_table(error_table, target / "errors.parquet")
    failpoint("write.tables_closed")
    links = with_spans(linked.links, contained, end_texts, dedup["shingle_size"])
    del end_texts
    write_table(links, target / "links.parquet", NULLABLE_INTEGERS["links"])
    failpoint("write.links")

    # counted by expressions over linked.meta, not over filtered copies of it (one a paragraph)
    new, clustered = pl.col("is_new"), pl.col("is_new") & pl.col("cluster_id").is_not_null()
    repeating = ((new & (pl.col("earlier_ids").list.len() > 0)).sum() if "earlier_ids" in linked.meta.columns
                 else pl.lit(0))
    meta_counts = linked.meta.select(
        pl.col("cluster_id").filter(clustered).n_unique().alias("clusters"),
        (clustered & ~pl.col("is_canonical")).sum().alias("duplicate_paragraphs"),
        repeating.alias("repeating_earlier"),
    ).row(0, named=True) if not linked.meta.is_empty() else dict.fromkeys(
        ("clusters", "duplicate_paragraphs", "repeating_earlier"), 0)
    kinds = links["kind"].value_counts()
    kind_counts = dict(zip(kinds["kind"].to_list(), kinds["count"].to_list()))
    return {
        "files": record["files"],
        "discovery_problems": record["discovery_problems"],
        "discovered": len(discovered),
        "inputs": writers["documents"].rows + error_table.height,
        "documents": writers["documents"].rows,
        "errors": error_table.height,
        "paragraphs": writers["paragraphs"].rows,
        "removed": writers["removed"].rows,
        "links": links.height,
        **{f"links_{kind}": kind_counts.get(kind, 0) for kind in ("exact", "near", "contained")},
        "links_with_span": links.height - links["left_start"].null_count(),
        "templates_removed": removed_by_reason.get("template", 0),
        **{key: int(value) for key, value in meta_counts.items()},
        # phase B's partitions: how many tasks ran, and the bytes they wrote for the driver to read
        **{key: int(value) for key, value in linked.counts.items() if key.startswith("phase_b_")},
        "removed_by_reason": dict(sorted(removed_by_reason.items())),
        "errors_by_type": dict(sorted(Counter(error_table["error_type"].to_list()).items())),
    }


def write_reprints(target: Path, links: pl.DataFrame, parts: Sequence[Part] = ()) -> dict[str, int]:
    """Write ``reprints.parquet`` into ``target`` from the tables just written there (and, for pairs
    that reach into an earlier output among ``parts``, from that output's ``paragraphs.parquet``);
    returns its counts. Memory: no text is read; the paragraphs held are cluster members and link ends
    only (ids, lengths, cluster columns), and the documents' ids, outlets, dates and lengths.

    Called after :func:`write_final`, once the caller has dropped phase B's frames: with them still
    held, ``corpusclean dedup`` on allsides-dev at 3x peaked at 1206 MiB, without them at 1118 MiB."""
    chars = (pl.col("char_end") - pl.col("char_start")).cast(pl.Int64).alias("chars")
    scan = pl.scan_parquet(target / "paragraphs.parquet")
    ends = pl.concat([links["left_id"], links["right_id"]]).unique().implode()
    columns = ["paragraph_id", "doc_id", "chars", "canonical_id", "canonical_doc_id", "similarity"]
    paragraphs = scan.with_columns(chars).filter(
        pl.col("cluster_id").is_not_null() | pl.col("paragraph_id").is_in(ends)).select(columns).collect()
    documents = (pl.scan_parquet(target / "documents.parquet").select("doc_id", "outlet", pl.col("date").cast(pl.String))
                 .join(scan.group_by("doc_id").agg(chars.sum()), on="doc_id", how="left")
                 .with_columns(pl.col("chars").fill_null(0), pl.lit(True).alias("in_output")).collect())
    named = pl.concat([links["left_doc_id"], links["right_doc_id"], paragraphs["canonical_doc_id"]]).unique()
    wanted_docs = named.filter(~named.is_in(documents["doc_id"].implode()))  # in earlier outputs
    if not wanted_docs.is_empty():
        wanted_paragraphs = pl.concat([ends.explode(), paragraphs["canonical_id"]]).unique().implode()
        for part in parts:
            path = part.fingerprints.parent / "paragraphs.parquet"
            if part.new or not path.is_file():
                continue
            earlier = (pl.scan_parquet(path).filter(pl.col("doc_id").is_in(wanted_docs.implode()))
                       .select("paragraph_id", "doc_id", chars, "outlet", pl.col("date").cast(pl.String)).collect())
            documents = pl.concat([documents, earlier.group_by("doc_id", maintain_order=True).agg(
                pl.col("outlet").first(), pl.col("date").first(), pl.col("chars").sum(),
                pl.lit(False).alias("in_output")).select(documents.columns)])
            paragraphs = pl.concat([paragraphs, earlier.filter(pl.col("paragraph_id").is_in(wanted_paragraphs)).select(
                "paragraph_id", "doc_id", "chars", pl.col("paragraph_id").alias("canonical_id"),
                pl.col("doc_id").alias("canonical_doc_id"), pl.lit(None, dtype=pl.Float64).alias("similarity"))])
        documents = documents.unique("doc_id", keep="first", maintain_order=True)
    table = reprints(paragraphs, links, documents)
    # lag_days is null for undated pairs: pandas would read the column as floats without the metadata
    write_table(table, target / "reprints.parquet", NULLABLE_INTEGERS["reprints"])
    return {"reprints": table.height, "reprint_sibling_pairs_left_out": sibling_pairs(paragraphs)}


def earlier_texts(parts: Sequence[Part], ids: pl.Series) -> list[pl.DataFrame]:
    """``paragraph_id`` and ``text`` of the paragraphs ``ids`` (an imploded Series) in the earlier
    outputs among ``parts`` (``--against``): their folder holds ``paragraphs.parquet`` beside the
    fingerprints. An earlier output without it contributes nothing; its links get no span."""
    found = []
    for part in parts:
        path = part.fingerprints.parent / "paragraphs.parquet"
        if not part.new and path.is_file():
            found.append(owned_strings(pl.scan_parquet(path).filter(pl.col("paragraph_id").is_in(ids))
                                       .select("paragraph_id", "text").collect()))
    return found
