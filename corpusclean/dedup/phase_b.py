"""Phase B: the corpus-wide pass, run on phase-A fingerprints without holding the corpus text.

Steps, each algorithm in its own module:

1. read the paragraphs' metadata (outlet, document order, exact hash, words; no text, no ids: those
   are read for the rows a step links, :func:`_ids`) of every part;
2. ``exact`` links (equal xxh64 of the normalized text) and ``near`` links (LSH candidates from the
   stored band hashes, one band at a time, verified by exact Jaccard ≥ ``near_threshold``), between
   different documents;
3. same-outlet ``templates`` over the exact and near links: removed, reason ``template``;
4. ``contained`` links among what is left: shared shingles counted by a self-join of shingle hashes,
   one hash partition at a time (``dedup.partition_shingles`` rows each), then verified;
5. ``clusters``: connected components of all links, one canonical paragraph each.

The band searches of step 2 and the posting reductions of step 4 are tasks (:func:`near_band_task`,
:func:`postings_task`) on a task runner (:mod:`corpusclean.executors.tasks`: in this process, a local
process pool, or Ray): each reads its band column or shingle partition from the parts' Parquet files
itself, given paths, row offsets and a row filter written as a file, and writes its result under the
run's ``_work/phase_b``; the driver reads the results back. On Ray with an ``s3://`` output those
files cross between the nodes through the store's ``OUT/_work`` (task files,
:class:`~corpusclean.executors.tasks.TaskFiles`): no node needs a folder another one sees. The same
tasks run whatever the runner, so the tables are the same.

Memory: the metadata (about 33 bytes a paragraph, numbers only), one band or one shingle partition at a time (in
each task's process), the candidate pairs, the reduced postings of all partitions, and the shingles
of candidate paragraphs only. Text is read again only when the final
tables are written, shard by shard (:func:`write_final_tables`).

A *part* is one phase-A shard (``new``) or an earlier output's ``fingerprints.parquet`` (not new: an
incremental run links new paragraphs to it, finds no pairs among its own paragraphs, and writes none
of its rows). Every link says its kind (``exact`` equal hash, ``near`` Jaccard ≥ threshold, else
``contained``), its Jaccard and both containments, and points from the canonically earlier paragraph
(``left``) to the later one.
"""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import polars as pl

from ..executors.tasks import SerialRunner, TaskFiles, TaskRunner, task_child, task_input, task_output
from ..extractors.outlet import slug
from ..frames import owned_strings
from ..schema import CLUSTER_COLUMNS, LINKS
from ..writers.parquet import write_table
from .clusters import assign_clusters, components, fill_singletons
from .containment import count_shared, least_shared, prefix_candidates, reduce_postings, verify_pairs
from .exact import CANONICAL_ORDER, exact_links
from .fingerprints import band_columns, list_to_arrays
from .lsh import candidate_pairs
from .minhash import jaccard_pairs
from .templates import EVIDENCE, template_rows

PARAGRAPH_SEPARATOR = "\n\n"
META_COLUMNS = ["paragraph_id", "doc_id", "para_idx", "is_title", "n_words", "exact_hash", "source_path",
                "record_offset", "outlet", "date"]
PAIRS = {"left": pl.UInt32, "right": pl.UInt32}
#: A paragraph's ids: not in phase B's per-paragraph ``meta``, read for the rows that need them (:func:`_ids`)
IDS = ["paragraph_id", "doc_id"]
#: The canonical order of ``meta`` rows, as one precomputed column (see :func:`_read_meta`).
RANK = ["_rank"]
#: Columns phase B adds to paragraphs besides the cluster columns.
EARLIER_COLUMN = {"earlier_ids": pl.List(pl.String)}


@dataclass(frozen=True)
class Part:
    """Where phase B reads one piece of the corpus: metadata rows and, row for row, fingerprints."""

    paragraphs: Path
    fingerprints: Path
    new: bool = True
    #: the object ``fingerprints`` is a local copy of (an ``--against`` output in the store): tasks on
    #: a cluster read it there instead of from a copy the driver uploads again
    source: str | None = None


@dataclass
class Linked:
    """The outcome of the pass: per-paragraph cluster columns, links, templates.

    ``meta`` holds ``row``, ``paragraph_id``, ``is_new``, the cluster columns and ``earlier_ids`` of
    the paragraphs in a cluster or repeating an earlier output, the only ones whose columns are not
    a singleton's (:func:`.clusters.fill_singletons`): what the final write places beside each shard.

    ``meta`` and ``templates`` carry each paragraph's global ``row`` (parts in order, then rows in
    order) and are sorted by it, so one part's rows are a slice found by binary search
    (:meth:`part_rows`) instead of a join against the whole corpus per shard.
    """

    meta: pl.DataFrame
    links: pl.DataFrame
    templates: pl.DataFrame  # paragraph_id, row and evidence of new paragraphs removed as templates
    counts: dict[str, int]
    outlets: pl.DataFrame  # outlet -> _outlet: one spelling per outlet (see outlet_spellings)
    offsets: list[int] = field(default_factory=list)  # first global row of each part

    def part_rows(self, table: pl.DataFrame, part: int, rows: tuple[int, int] | None = None) -> pl.DataFrame:
        """The rows of ``table`` (``meta`` or ``templates``: sorted by ``row``) that belong to ``part``
        (to its rows ``start:stop`` with ``rows``)."""
        first = self.offsets[part]
        end = self.offsets[part + 1] if part + 1 < len(self.offsets) else None
        if rows is not None:
            first, end = first + rows[0], first + rows[1]
        rows = table["row"]
        start = rows.search_sorted(first, side="left")
        stop = rows.search_sorted(end, side="left") if end is not None else table.height
        return table.slice(start, stop - start)

    def is_template(self, paragraph_ids: pl.Series, part: int) -> pl.Series:
        """Whether each of ``paragraph_ids`` (paragraphs of ``part``) was removed as a template."""
        return paragraph_ids.is_in(self.part_rows(self.templates, part)["paragraph_id"].implode()).alias("is_template")


#: The canonical order's columns that are the same for every paragraph of a document.
DOCUMENT_ORDER = [column for column in CANONICAL_ORDER if column != "para_idx"]


def _document_keys(parts: list[Part]) -> pl.DataFrame:
    """Per part and document (``_part``, ``doc_id``), ``_key``: the document's place in the canonical
    order, equal for equal (date, source_path, record_offset) (an earlier output's copy of a page),
    and ``_doc``: a dense number of the ``doc_id`` (equal ids, equal numbers), which stands for the
    id in every comparison of phase B.

    Read one row a document, so that the strings of the order (a path and a date a paragraph, about
    90 bytes) are never held for every paragraph: with them, reading the metadata of allsides-dev
    grown 3x (900k paragraphs) peaked 80 MiB higher (582 against 502 MiB)."""
    documents = pl.concat([
        pl.scan_parquet(part.paragraphs).select("doc_id", *DOCUMENT_ORDER)
        .unique("doc_id", keep="first", maintain_order=True).with_columns(pl.lit(index, pl.UInt32).alias("_part"))
        for index, part in enumerate(parts)]).collect()
    return (documents.sort(DOCUMENT_ORDER, nulls_last=True, maintain_order=True)
            .select("_part", "doc_id", pl.struct(DOCUMENT_ORDER).rle_id().alias("_key"),
                    pl.col("doc_id").rank("dense").cast(pl.UInt32).alias("_doc")))


def part_lengths(parts: list[Part]) -> list[int]:
    """The paragraphs of each part: its fingerprints' row count, from the Parquet footer."""
    return [pl.scan_parquet(part.fingerprints).select(pl.len()).collect().item() for part in parts]


def _read_meta(parts: list[Part]) -> pl.DataFrame:
    """Every paragraph's row of :data:`META_COLUMNS` but its ids and the document order's strings
    (``_doc`` and ``_rank`` stand for them), ``outlet`` as a ``Categorical``, in global row order.

    The ids were what a paragraph's metadata cost most: of its 103 bytes on allsides-dev grown 7x,
    41 for ``paragraph_id`` and 17 for ``doc_id`` as string views with their buffers, 16 for the
    outlet's view (4 as a ``Categorical``); now 32. The steps read the ids for the rows they link
    (:func:`_ids`), a few percent of the corpus."""
    if not parts:
        return pl.DataFrame()
    keys = _document_keys(parts).lazy()
    frames = []
    for index, part in enumerate(parts):
        scan = pl.scan_parquet(part.paragraphs)
        has_flag = "is_template" in scan.collect_schema().names()
        frames.append(scan.select(
            *(column for column in META_COLUMNS if column not in DOCUMENT_ORDER),
            (pl.col("is_template") if has_flag else pl.lit(False)).alias("_earlier_template"),
            pl.lit(part.new).alias("is_new"),
        ).join(keys.filter(pl.col("_part") == index).drop("_part"), on="doc_id", how="left", maintain_order="left")
                      .drop(*IDS).with_columns(pl.col("outlet").cast(pl.Categorical)).collect())
    meta = pl.concat(frames, how="vertical_relaxed").with_row_index("row")
    # the canonical order (CANONICAL_ORDER, nulls last), an earlier output's copy of a page (the same
    # bytes at the same place: the same ids) first
    in_order = meta.select(pl.arg_sort_by(["_key", "para_idx", "is_new"], nulls_last=True,
                                          maintain_order=True))[:, 0].to_numpy()
    ranks = np.empty(meta.height, dtype=np.uint32)
    ranks[in_order] = np.arange(meta.height, dtype=np.uint32)
    # _rank stands for the canonical order from here on (para_idx stays: it orders a page's
    # paragraphs for the template step)
    return meta.with_columns(pl.Series("_rank", ranks)).drop("_key")


def _ids(parts: list[Part], offsets: list[int], rows: np.ndarray | pl.Series) -> pl.DataFrame:
    """``row``, ``paragraph_id`` and ``doc_id`` of the global ``rows`` (each once, in row order), read
    from the parts' paragraph files: phase B does not hold the ids of every paragraph (see
    :func:`_read_meta`)."""
    wanted = np.unique(np.asarray(rows, dtype=np.int64))
    ends = [*offsets[1:], np.iinfo(np.int64).max]
    # only the parts holding one of the rows are read
    holding = [(part.paragraphs, first) for part, first, end in zip(parts, offsets, ends)
               if np.any((wanted >= first) & (wanted < end))]
    if not holding:
        return pl.DataFrame(schema={"row": pl.UInt32, **dict.fromkeys(IDS, pl.String)})
    selected = pl.Series(wanted, dtype=pl.UInt32).implode()
    paths, firsts = zip(*holding)
    return owned_strings(_collect_by_part(list(paths), list(firsts), IDS,
                                          lambda scan: scan.filter(pl.col("row").is_in(selected))))


def _with_ids(frame: pl.DataFrame, parts: list[Part], offsets: list[int]) -> pl.DataFrame:
    """``frame`` (rows of ``meta``, in row order) with the ids of its rows."""
    ids = _ids(parts, offsets, frame["row"])
    return frame.join(ids, on="row", how="left", maintain_order="left")


def _scan_fingerprints(parts: list[Part], offsets: list[int], columns: list[str]) -> pl.LazyFrame:
    """The fingerprint columns of all parts, with the global ``row`` of each."""
    return _scan_paths([part.fingerprints for part in parts], offsets, columns)


def _scan_paths(paths: list[str | Path], offsets: list[int], columns: list[str]) -> pl.LazyFrame:
    """:func:`_scan_fingerprints` of the parts' fingerprint files ``paths`` (what a task is given)."""
    return pl.concat([pl.scan_parquet(path).select(columns).with_row_index("row", offset=int(offset))
                      for path, offset in zip(paths, offsets)])


def _collect_by_part(paths: list[str | Path], offsets: list[int], columns: list[str],
                     query: Callable[[pl.LazyFrame], pl.LazyFrame]) -> pl.DataFrame:
    """``query`` over ``columns`` of each part's file in ``paths`` (with the global ``row``, from the
    part's first row in ``offsets``), collected one part at a time, in part order. Collected at once,
    the scans of all parts were decoded side by side:
    counting the shingles of allsides-dev grown 7x (2.1M paragraphs, 7 parts) took 665 MiB above
    the process, against 111 one part at a time, and gathering 60k paragraphs' shingles 700 against
    107 (5 ms samples of RSS)."""
    return pl.concat([query(_scan_paths([path], [offset], columns)).collect() for path, offset in zip(paths, offsets)])


def _gather_shingles(parts: list[Part], offsets: list[int], rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shingle arrays of ``rows`` only, and each global row's position in them (-1 if not gathered)."""
    wanted = pl.Series("row", np.unique(rows).astype(np.uint32)).implode()
    gathered = _collect_by_part([part.fingerprints for part in parts], offsets, ["shingles"],
                                lambda scan: scan.filter(pl.col("row").is_in(wanted)))
    position = np.full(int(rows.max()) + 1 if rows.size else 0, -1, dtype=np.int64)
    position[gathered["row"].to_numpy()] = np.arange(gathered.height)
    shingle_offsets, hashes = list_to_arrays(gathered["shingles"])
    return shingle_offsets, hashes, position


def _measure(parts: list[Part], offsets: list[int], pairs: pl.DataFrame) -> pl.DataFrame:
    """Exact Jaccard and both containments of row ``pairs``, from the gathered shingles."""
    if pairs.is_empty():
        return pairs.with_columns(*(pl.lit(None, dtype=pl.Float64).alias(c)
                                    for c in ("jaccard", "containment_lr", "containment_rl")),
                                  pl.lit(None, dtype=pl.Int64).alias("shared"))
    left, right = pairs["left"].to_numpy(), pairs["right"].to_numpy()
    shingle_offsets, hashes, position = _gather_shingles(parts, offsets, np.concatenate([left, right]))
    jaccard, contain_lr, contain_rl = jaccard_pairs(shingle_offsets, hashes, position[left], position[right])
    sizes = np.diff(shingle_offsets)
    shared = np.rint(contain_lr * sizes[position[left]]).astype(np.int64)
    return pairs.with_columns(pl.Series("jaccard", jaccard), pl.Series("containment_lr", contain_lr),
                              pl.Series("containment_rl", contain_rl), pl.Series("shared", shared))


def _worth_linking(pairs: pl.DataFrame, meta: pl.DataFrame, exclude: np.ndarray | None = None,
                   same_document: bool = False) -> pl.DataFrame:
    """Keep pairs of different documents (or any, with ``same_document``), both long enough, at least
    one new (``_searched``: see :func:`link_corpus`), neither ``exclude``d."""
    if pairs.is_empty():
        return pairs
    left, right = pairs["left"].to_numpy(), pairs["right"].to_numpy()
    doc = meta["_doc"].to_numpy()
    eligible = meta["_eligible"].to_numpy()
    new = meta["_searched"].to_numpy()
    keep = eligible[left] & eligible[right] & (new[left] | new[right])
    if not same_document:
        keep &= doc[left] != doc[right]
    if exclude is not None:
        keep &= ~(exclude[left] | exclude[right])
    return pairs.filter(pl.Series(keep))


def _near_pairs(parts: list[Part], offsets: list[int], meta: pl.DataFrame, dedup: dict[str, Any],
                runner: TaskRunner | None = None, work: Path | None = None,
                tally: dict[str, int] | None = None) -> pl.DataFrame:
    """LSH candidates band by band (only buckets holding a new paragraph), verified by exact Jaccard.

    Only representatives of exact-duplicate groups are banded (see :func:`link_corpus`). Pairs inside
    one document are kept: they are no link, but they put a near twin in its cluster, and when a
    representative's near copy stands in its own document, the copy is linked to the
    representative's exact copies elsewhere (:func:`_through_copies`).

    Each band is a task on ``runner`` (:func:`near_band_task`), which reads its band column from the
    parts itself and writes its candidate pairs under ``work`` (through the store, with the runner's
    :class:`~corpusclean.executors.tasks.TaskStore`); here they are read back, merged and verified.
    """
    with _task_folder(work, "near", runner) as files:
        rows = files.path("rows.parquet")
        write_table(meta.filter(pl.col("_eligible") & pl.col("_representative")).select(
            pl.col("row").cast(pl.UInt32), pl.col("_searched").alias("is_new")), rows)
        fingerprints, rows_ref = [files.share(part.fingerprints, part.source) for part in parts], files.share(rows)
        tasks = [{"fingerprints": fingerprints, "offsets": [int(o) for o in offsets],
                  "band": band, "column": column, "rows": rows_ref, "all_new": bool(meta["_searched"].all()),
                  "max_bucket_size": int(dedup["max_bucket_size"]), "out": files.out(f"band-{band:03d}.parquet")}
                 for band, column in enumerate(band_columns(dedup))]
        done = (runner or SerialRunner()).map(near_band_task, tasks)
        paths = [files.fetch(result["path"]) for result in done]
        _tally(tally, paths)
        # pairs repeat across bands: keep one copy (sorted, so that nothing below sees task order)
        found = (pl.scan_parquet(paths, schema=PAIRS).unique().sort("left", "right")
                 .collect() if done else pl.DataFrame(schema=PAIRS))
    candidates = _worth_linking(found, meta, same_document=True)
    measured = _measure(parts, offsets, candidates)
    return measured.filter(pl.col("jaccard") >= dedup["near_threshold"])


def near_band_task(task: dict[str, Any]) -> dict[str, Any]:
    """One band of :func:`_near_pairs`: the candidate pairs of band ``task["band"]``, written to
    ``task["out"]``.

    ``task`` (plain values, see :mod:`corpusclean.executors.tasks`): ``fingerprints`` (the parts'
    Parquet files) and ``offsets`` (their first global rows), ``column`` (the band's column), ``rows``
    (a Parquet file of the rows to band, ``row`` and ``is_new``), ``all_new`` (else only buckets
    holding a new row count), ``max_bucket_size``. Files are task files (local paths, or objects of
    the store fetched into the node's cache: :func:`~corpusclean.executors.tasks.task_input`), and
    ``out`` a path or a URI (:func:`~corpusclean.executors.tasks.task_output`). Returns the band, its
    pair count and ``out``.
    """
    band = int(task["band"])
    rows = pl.scan_parquet(task_input(task["rows"]))
    frame = _scan_paths([task_input(ref) for ref in task["fingerprints"]], task["offsets"], [task["column"]]).select(
        "row", pl.lit(band, dtype=pl.UInt16).alias("band"), pl.col(task["column"]).alias("band_hash"))
    frame = frame.join(rows.select("row"), on="row")
    if not task["all_new"]:
        touched = frame.join(rows.filter(pl.col("is_new")).select("row"), on="row").select("band_hash").unique()
        frame = frame.join(touched, on="band_hash")
    pairs = candidate_pairs(frame.collect(), max_bucket_size=task["max_bucket_size"])
    with task_output(task["out"]) as path:
        write_table(pairs, path)
    return {"band": band, "pairs": pairs.height, "path": task["out"]}


def _through_copies(near: pl.DataFrame, meta: pl.DataFrame) -> pl.DataFrame:
    """Cross-document pairs for near pairs inside one document, through the exact copies of either end.

    A near pair (a, b) in one document, where a has exact copies in other documents, gives the pair
    (first such copy of a, b): its measures are those of (a, b), since the copy's shingles are a's.
    Without it, b (near a copy that another outlet printed) was linked to nothing: only one copy of
    each exact group enters the near search.
    """
    doc = meta["_doc"].to_numpy()
    same = near.filter(pl.Series(doc[near["left"].to_numpy()] == doc[near["right"].to_numpy()]))
    if same.is_empty():
        return near.clear()
    copies = meta.filter(pl.col("_eligible")).select("row", "exact_hash", "_doc", *RANK)
    # each end, seen from the other: (end, other end, containment of end in other, the reverse)
    ends = pl.concat([
        same.select(pl.col("left").alias("_end"), pl.col("right").alias("_other"), "jaccard", "shared",
                    pl.col("containment_lr").alias("_c_end"), pl.col("containment_rl").alias("_c_other")),
        same.select(pl.col("right").alias("_end"), pl.col("left").alias("_other"), "jaccard", "shared",
                    pl.col("containment_rl").alias("_c_end"), pl.col("containment_lr").alias("_c_other")),
    ]).join(meta.select(pl.col("row").alias("_end"), "exact_hash", "_doc"), on="_end")
    found = (ends.join(copies.rename({"row": "_copy", "_doc": "_copy_doc"}), on="exact_hash")
             .filter(pl.col("_copy_doc") != pl.col("_doc"))
             .sort(*RANK).group_by("_end", "_other", maintain_order=True).first())
    swap = pl.col("_copy") > pl.col("_other")
    return found.select(
        pl.min_horizontal("_copy", "_other").cast(pl.UInt32).alias("left"),
        pl.max_horizontal("_copy", "_other").cast(pl.UInt32).alias("right"), "jaccard",
        pl.when(swap).then(pl.col("_c_other")).otherwise(pl.col("_c_end")).alias("containment_lr"),
        pl.when(swap).then(pl.col("_c_end")).otherwise(pl.col("_c_other")).alias("containment_rl"),
        "shared",
    ).select(near.columns).cast(near.schema)


def _exact_pairs(meta: pl.DataFrame, dedup: dict[str, Any], parts: list[Part], offsets: list[int]) -> pl.DataFrame:
    # exact_links over the paragraphs with a copy, the only ones it links, with their ids
    eligible = pl.col("n_words") >= dedup["min_words"]
    copied = meta.filter(eligible & (eligible.sum().over("exact_hash") > 1)).select(
        "row", "exact_hash", "n_words", *RANK)
    copied = _with_ids(copied, parts, offsets)
    links = exact_links(copied, min_words=dedup["min_words"], order=RANK)
    rows = copied.select("paragraph_id", "row")
    pairs = (links.join(rows.rename({"paragraph_id": "left_id", "row": "left"}), on="left_id")
             .join(rows.rename({"paragraph_id": "right_id", "row": "right"}), on="right_id")
             .select(pl.min_horizontal("left", "right").alias("left"), pl.max_horizontal("left", "right").alias("right")))
    pairs = _worth_linking(pairs, meta)
    return pairs.with_columns(pl.lit(1.0).alias("jaccard"), pl.lit(1.0).alias("containment_lr"),
                              pl.lit(1.0).alias("containment_rl"), pl.lit(None, dtype=pl.Int64).alias("shared"))


def _contained_pairs(parts: list[Part], offsets: list[int], meta: pl.DataFrame, dedup: dict[str, Any],
                     exclude: np.ndarray, method: str = "prefix", stats: dict | None = None,
                     runner: TaskRunner | None = None, work: Path | None = None,
                     tally: dict[str, int] | None = None) -> pl.DataFrame:
    """Shared-shingle candidates among representatives, one hash partition at a time, then verified.

    ``method="prefix"`` (the default) finds the candidates by prefix filtering, ``"exhaustive"`` by
    the full self-join (:func:`.containment.count_shared`, the reference); the verified pairs and
    their measures are the same (:mod:`.containment`). ``stats`` receives the prefix stages' counts.

    Prefix: each hash partition is a task on ``runner`` (:func:`postings_task`) that reads the
    partition's postings from the parts itself, reduces them and writes the reduced postings and its
    rows' ``frequent`` counts under ``work``; here the partitions' files are read back in partition
    order and their ``frequent`` counts summed. Memory (prefix): one hash partition of exploded rows
    at a time per task (8 bytes a row, plus 16 for the rows whose hash may repeat), then, here, the
    reduced postings of all partitions (hashes held by 2..``max_posting`` usable paragraphs: 4 bytes
    a row, 8 while the prefix index is built); no join rows are materialized
    (:func:`.containment.prefix_candidates`). The exhaustive reference runs here, partition by
    partition.
    """
    usable = meta.filter(~pl.Series(exclude) & pl.col("_eligible") & pl.col("_representative")).select(
        "row", "_doc", pl.col("_searched").alias("is_new"))
    mod = dedup["containment_sample_mod"]
    lengths = _shingle_counts(parts, offsets, mod)
    total = lengths["size"].sum()
    partitions = max(1, -(-int(total or 0) // dedup["partition_shingles"]))
    only_new = not bool(meta["_searched"].all())
    least = least_shared(dedup["min_shared_shingles"], mod)
    if method == "exhaustive":
        counts = [count_shared(_partition_postings(_scan_fingerprints(parts, offsets, ["shingles"]), usable.lazy(),
                                                   mod, partitions, partition), dedup["max_posting"], only_new=only_new)
                  for partition in range(partitions)]
        shared = (pl.concat(counts).group_by("left", "right").agg(pl.col("shared").sum())
                  if counts else pl.DataFrame(schema={**PAIRS, "shared": pl.UInt32}))
        pairs = shared.filter(pl.col("shared") >= least).select("left", "right")
    elif method == "prefix":
        frequent = np.zeros(meta.height, dtype=np.int64)
        reduced = []
        with _task_folder(work, "contained", runner) as files:
            rows = files.path("rows.parquet")
            write_table(usable.select(pl.col("row").cast(pl.UInt32), "is_new"), rows)
            fingerprints, rows_ref = [files.share(part.fingerprints, part.source) for part in parts], files.share(rows)
            tasks = [{"fingerprints": fingerprints, "offsets": [int(o) for o in offsets],
                      "rows": rows_ref, "mod": int(mod), "partitions": partitions,
                      "partition": partition, "max_posting": int(dedup["max_posting"]), "only_new": only_new,
                      "out": files.out(f"partition-{partition:05d}")}
                     for partition in range(partitions)]
            done = (runner or SerialRunner()).map(postings_task, tasks)
            written = [{name: files.fetch(result[name]) for name in ("posting_rows", "df", "frequent")}
                       for result in done]
            _tally(tally, [paths[name] for paths in written for name in ("posting_rows", "df", "frequent")], len(done))
            for paths in written:
                counted = pl.read_parquet(paths["frequent"])
                frequent[counted["row"].to_numpy()] += counted["frequent"].to_numpy()
                reduced.append((pl.read_parquet(paths["posting_rows"])["row"].to_numpy(),
                                pl.read_parquet(paths["df"])["df"].to_numpy()))
                del counted
        rows = _containment_rows(usable, lengths, frequent)
        pairs = prefix_candidates(reduced, rows, least=least, min_shared=dedup["min_shared_shingles"],
                                  min_containment=dedup["min_containment"], only_new=only_new,
                                  stats=stats).select("left", "right")
        del reduced, frequent, rows
    else:
        raise ValueError(f"method must be 'prefix' or 'exhaustive', got {method!r}")
    candidates = _worth_linking(pairs, meta, exclude)
    if stats is not None:
        stats["candidates"] = candidates.height
    measured = _measure(parts, offsets, candidates)
    return verify_pairs(measured, dedup["min_containment"], dedup["min_shared_shingles"])


def _partition_postings(shingles: pl.LazyFrame, usable: pl.LazyFrame, mod: int, partitions: int,
                        partition: int) -> pl.LazyFrame:
    """The (sampled) postings ``row``, ``hash`` of the ``usable`` rows in one hash partition."""
    # in row order (as scanned): postings_task numbers the rows in one pass
    hashes = (shingles.join(usable, on="row", maintain_order="left").explode("shingles").rename({"shingles": "hash"})
              .drop_nulls("hash"))
    if mod > 1:
        hashes = hashes.filter(pl.col("hash") % mod == 0)
    if partitions > 1:
        hashes = hashes.filter((pl.col("hash") // mod) % partitions == partition)
    return hashes


def postings_task(task: dict[str, Any]) -> dict[str, Any]:
    """One hash partition of :func:`_contained_pairs` (prefix): its reduced postings, written under
    ``task["out"]`` (a folder): ``posting_rows.parquet`` (``row``), ``df.parquet`` (``df``), both
    :func:`.containment.reduce_postings`'s, and ``frequent.parquet`` (``row``, ``frequent``: the
    rows' hashes of this partition held by more than ``max_posting`` rows, nonzero counts only).

    ``task`` (plain values, see :mod:`corpusclean.executors.tasks`): ``fingerprints``, ``offsets``,
    ``rows`` (a Parquet file of the usable rows, ``row`` and ``is_new``), ``mod``, ``partitions``,
    ``partition``, ``max_posting``, ``only_new``; task files as in :func:`near_band_task`
    (``out`` a folder's path or URI). Returns counts and the three files' names. Memory: the
    partition's postings and arrays of its rows, none of the corpus's size.
    """
    usable = pl.scan_parquet(task_input(task["rows"]))
    postings = _partition_postings(_scan_paths([task_input(ref) for ref in task["fingerprints"]], task["offsets"],
                                               ["shingles"]),
                                   usable.select("row"), int(task["mod"]), int(task["partitions"]),
                                   int(task["partition"])).select("row", "hash").collect()
    row, hash_ = postings["row"].to_numpy(), postings["hash"].to_numpy()
    n_postings = postings.height
    del postings
    # the partition's rows numbered 0..k-1 (k ≤ its postings), so that the arrays indexed by row
    # below are the partition's size, not the corpus's (9 bytes a paragraph of the corpus per task)
    present, local = _dense_ids(row)
    del row
    new = None
    if task["only_new"]:
        flags = usable.join(pl.LazyFrame({"row": present}, schema={"row": pl.UInt32}), on="row",
                            how="right", maintain_order="right").select(pl.col("is_new").fill_null(False)).collect()
        new = flags["is_new"].to_numpy()
        del flags
    frequent = np.zeros(present.shape[0], dtype=np.int64)
    posting_rows, df = reduce_postings(local, hash_, int(task["max_posting"]), frequent, new=new)
    del local, hash_
    posting_rows = present[posting_rows]
    held_at = np.flatnonzero(frequent)
    held, frequent = present[held_at], frequent[held_at]
    paths = {name: task_child(task["out"], f"{name}.parquet") for name in ("posting_rows", "df", "frequent")}
    tables = {"posting_rows": pl.DataFrame({"row": posting_rows}, schema={"row": pl.UInt32}),
              "df": pl.DataFrame({"df": df}, schema={"df": pl.UInt32}),
              "frequent": pl.DataFrame({"row": held.astype(np.uint32), "frequent": frequent},
                                       schema={"row": pl.UInt32, "frequent": pl.Int64})}
    for name, table in tables.items():
        with task_output(paths[name]) as path:
            write_table(table, path)
    del tables
    return {"partition": int(task["partition"]), "postings": n_postings, "reduced": int(posting_rows.shape[0]),
            "hashes": int(df.shape[0]), "frequent_rows": int(held.shape[0]),
            **{name: str(path) for name, path in paths.items()}}


def _dense_ids(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(present, local)``: the distinct ``rows`` in order (``uint32``) and each row's index among
    them, so that ``present[local] == rows``. One pass when ``rows`` is sorted (a partition's
    postings come in row order), else a sort.

    >>> present, local = _dense_ids(np.array([3, 3, 8, 9, 9]))
    >>> present.tolist(), local.tolist()
    ([3, 8, 9], [0, 0, 1, 2, 2])
    """
    rows = np.asarray(rows)
    if rows.shape[0] and not np.all(rows[1:] >= rows[:-1]):
        present, local = np.unique(rows, return_inverse=True)
        return present.astype(np.uint32), local.astype(np.uint32)
    starts = np.ones(rows.shape[0], dtype=bool)
    starts[1:] = rows[1:] != rows[:-1]
    local = (np.cumsum(starts) - 1).astype(np.uint32)
    return rows[starts].astype(np.uint32), local


def _tally(tally: dict[str, int] | None, paths: list[str], tasks: int | None = None) -> None:
    """Add a step's task count and the bytes its tasks wrote for the driver to read back (the
    shuffle: what would cross the network on a cluster) to ``tally``."""
    if tally is not None:
        tally["phase_b_tasks"] = tally.get("phase_b_tasks", 0) + (len(paths) if tasks is None else tasks)
        tally["phase_b_task_bytes"] = tally.get("phase_b_task_bytes", 0) + sum(Path(p).stat().st_size for p in paths)


@contextmanager
def _task_folder(work: Path | None, name: str, runner: TaskRunner | None = None) -> Iterator[TaskFiles]:
    """The task files of one step (:class:`~corpusclean.executors.tasks.TaskFiles`): the local folder
    ``work/name`` (emptied first, removed after), or a temporary folder without ``work``, which the
    tasks' workers see (this machine's processes, or a cluster's nodes on shared storage); with the
    runner's store (Ray, an ``s3://`` output), also ``OUT/_work/phase_b/name`` in the store, emptied
    first and kept until the run ends (``--keep-work`` keeps it)."""
    store = getattr(runner, "store", None)

    def files(folder: Path) -> TaskFiles:
        found = TaskFiles(folder, store, name)
        if found.prefix is not None:
            from .. import storage

            storage.delete_prefix(found.prefix)  # a killed run's files
        return found

    if work is None:
        with tempfile.TemporaryDirectory(prefix=f"corpusclean-{name}-") as folder:
            yield files(Path(folder))
        return
    folder = Path(work) / name
    shutil.rmtree(folder, ignore_errors=True)  # a killed run's files
    folder.mkdir(parents=True)
    try:
        yield files(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def warm_up() -> None:
    """Load what phase B's tasks run (polars, the compiled numba kernels), for a pool worker's start."""
    frequent = np.zeros(3, dtype=np.int64)
    reduce_postings(np.array([0, 0, 1, 1, 2, 2]), np.array([7, 9, 9, 5, 9, 5]), 2, frequent)
    candidate_pairs(pl.DataFrame({"row": [0, 1], "band": [0, 0], "band_hash": [7, 7]},
                                 schema={"row": pl.UInt32, "band": pl.UInt16, "band_hash": pl.UInt64}))


def _shingle_counts(parts: list[Part], offsets: list[int], mod: int) -> pl.DataFrame:
    """Per global row: ``size`` (shingles) and ``sampled`` (those ``≡ 0 mod mod``)."""
    shingles = pl.col("shingles")
    sampled = shingles.list.len() if mod == 1 else shingles.list.eval((pl.element() % mod == 0).sum()).list.first()
    return _collect_by_part([part.fingerprints for part in parts], offsets, ["shingles"], lambda scan: scan.select(
        "row", shingles.list.len().fill_null(0).cast(pl.Int64).alias("size"),
        sampled.fill_null(0).cast(pl.Int64).alias("sampled")))


def _containment_rows(usable: pl.DataFrame, lengths: pl.DataFrame, frequent: np.ndarray) -> pl.DataFrame:
    """The per-paragraph columns of :func:`.containment.prefix_candidates`: ``size`` and ``slack``
    (unsampled hashes plus ``frequent``, the hashes held by more than ``max_posting`` paragraphs)."""
    rows = usable.join(lengths, on="row", how="left", maintain_order="left")
    size = rows["size"].fill_null(0).to_numpy()
    slack = size - rows["sampled"].fill_null(0).to_numpy() + frequent[rows["row"].to_numpy()]
    return pl.DataFrame({"row": rows["row"].cast(pl.UInt32), "_doc": rows["_doc"].cast(pl.UInt32),
                         "is_new": rows["is_new"], "size": size.astype(np.int64), "slack": slack.astype(np.int64)})


def _to_links(pairs: pl.DataFrame, meta: pl.DataFrame, near_threshold: float, parts: list[Part],
              offsets: list[int]) -> pl.DataFrame:
    """Row pairs to link rows, oriented from the canonically earlier paragraph, with their kind."""
    if pairs.is_empty():
        return pl.DataFrame(schema=LINKS)
    ends = pl.concat([pairs["left"], pairs["right"]]).unique().sort()
    info = _with_ids(meta.select("row", "exact_hash", "_rank").filter(pl.col("row").is_in(ends.implode())), parts, offsets)
    joined = (pairs.join(info.rename(lambda c: c + "_l"), left_on="left", right_on="row_l")
              .join(info.rename(lambda c: c + "_r"), left_on="right", right_on="row_r"))
    flip = pl.col("_rank_l") > pl.col("_rank_r")

    def pick(first: str, second: str) -> pl.Expr:
        return pl.when(flip).then(pl.col(second)).otherwise(pl.col(first))

    kind = (pl.when(pl.col("exact_hash_l") == pl.col("exact_hash_r")).then(pl.lit("exact"))
            .when(pl.col("jaccard") >= near_threshold).then(pl.lit("near")).otherwise(pl.lit("contained")))
    return joined.select(
        pick("paragraph_id_l", "paragraph_id_r").alias("left_id"),
        pick("paragraph_id_r", "paragraph_id_l").alias("right_id"),
        pick("doc_id_l", "doc_id_r").alias("left_doc_id"),
        pick("doc_id_r", "doc_id_l").alias("right_doc_id"),
        kind.alias("kind"),
        pl.col("jaccard"),
        pick("containment_lr", "containment_rl").alias("containment_left"),
        pick("containment_rl", "containment_lr").alias("containment_right"),
    ).cast(LINKS)


def link_corpus(parts: list[Part], dedup: dict[str, Any],
                on_step: Callable[[str], None] | None = None, *, runner: TaskRunner | None = None,
                work: Path | None = None) -> Linked:
    """Steps 1-5 of the module docstring over ``parts``.

    ``runner`` runs the partitions of steps 2 and 4 (the near search's bands, the contained search's
    hash partitions; default: in this process, one after the other), which read the parts and write
    their results under ``work`` (default: a temporary folder; with the runner's task store, an
    ``s3://`` output's ``_work``, through the store). The tables do not depend on the runner.
    """
    step = on_step or (lambda name: None)
    meta = _read_meta(parts)
    if meta.is_empty():
        empty = pl.DataFrame(schema={**{c: pl.String for c in META_COLUMNS}, **CLUSTER_COLUMNS, **EARLIER_COLUMN})
        return Linked(empty.with_columns(pl.lit(None, dtype=pl.UInt32).alias("row")), pl.DataFrame(schema=LINKS),
                      pl.DataFrame(schema={"paragraph_id": pl.String, "row": pl.UInt32, **EVIDENCE}), {},
                      pl.DataFrame(schema={"outlet": pl.String, "_outlet": pl.String}), [0] * len(parts))
    outlets = outlet_spellings(meta)
    # row i of meta must stay global row i: the steps below index numpy arrays by row
    meta = (meta.join(outlets.with_columns(pl.col("outlet").cast(pl.Categorical)), on="outlet", how="left",
                      maintain_order="left").with_columns(pl.col("_outlet").cast(pl.Categorical).alias("outlet")).drop("_outlet"))
    meta = meta.with_columns((pl.col("n_words") >= dedup["min_words"]).alias("_eligible"))
    # The pairs searched are those with a new end, where an earlier output's paragraph counts as new
    # when its page comes again with the same bytes at the same place (a new copy with its ids, so
    # its _doc and para_idx, and its exact hash). As the exact group's representative (the
    # earlier copy comes first) it is the copy that enters the searches, and its pairs with other
    # earlier paragraphs were otherwise never searched: raw/ run again --against its own output lost
    # its 3 contained links and a reprint. A link row is a pair of ids, so the link found is the one
    # the new copy has.
    incremental = not bool(meta["is_new"].all())  # an earlier output (--against) is among the parts
    meta = meta.with_columns(pl.col("is_new").any().over("_doc", "para_idx", "exact_hash").alias("_searched")
                             if incremental else pl.col("is_new").alias("_searched"))
    # One representative per group of exact duplicates enters the near and contained searches: exact
    # links already join the group, and k copies would otherwise make k² candidate pairs in every
    # bucket and posting list they share (1.5M pairs at 50 MB of text, 935k of them between identical
    # paragraphs, before this). One for the group, earlier outputs' copies included, so that an
    # incremental run counts postings as the joint run does: with one per side, it found 206 links
    # the joint run has not on allsides-dev cut in two halves, 9 with one per group
    # (benchmarks/incremental.py).
    meta = meta.with_columns(
        (pl.col("_rank") == pl.col("_rank").min().over("exact_hash")).alias("_representative"))
    offsets = list(np.cumsum([0] + part_lengths(parts)[:-1]))
    earlier_templates = meta["_earlier_template"].to_numpy()

    # earlier templates take part in exact and near linking, so new copies of them are found
    step("exact")
    exact = _exact_pairs(meta, dedup, parts, offsets)
    step("near")
    tally: dict[str, int] = {}
    near = _near_pairs(parts, offsets, meta, dedup, runner=runner, work=work, tally=tally)
    similar = pl.concat([exact, near, _through_copies(near, meta)]).unique(["left", "right"], keep="first")
    del exact  # near is kept for its count

    step("templates")
    templates = _templates(meta, near, dedup)
    is_template = np.zeros(meta.height, dtype=bool)
    is_template[templates["row"].to_numpy()] = True
    is_template |= earlier_templates

    step("contained")
    contained = _contained_pairs(parts, offsets, meta, dedup, is_template, runner=runner, work=work, tally=tally)
    kept_similar = _worth_linking(similar, meta, is_template)
    columns = ["left", "right", "jaccard", "containment_lr", "containment_rl"]
    pairs = pl.concat([kept_similar.select(columns), contained.select(columns)]).unique(["left", "right"], keep="first")
    # A page an earlier output holds too (same bytes, same place) has the same ids there, so two row
    # pairs can be one link: the new copy of P and the earlier one each paired with Q. One row each.
    links = (_to_links(pairs, meta, dedup["near_threshold"], parts, offsets).sort(list(LINKS))
             .unique(["left_id", "right_id"], keep="first", maintain_order=True))

    step("clusters")
    counts = {"candidates_near": near.height, "candidates_contained": contained.height, **tally}
    new_templates = _with_ids(meta.select("row", "is_new").join(templates, on="row", maintain_order="left")
                              .filter(pl.col("is_new")), parts, offsets).select("paragraph_id", "row", *EVIDENCE)
    # with an earlier output, the ids of every paragraph that may repeat one of it
    everyone = (_with_ids(meta.filter(~pl.col("is_new") | pl.col("_eligible")).select("row", "is_new", "_eligible"),
                          parts, offsets) if incremental else None)
    earlier = _earlier_ids(links, everyone)
    near_kept = _worth_linking(near, meta, is_template, same_document=True)
    # the cluster step sees the paragraphs that can be in a cluster (whole exact groups of linkable
    # paragraphs: two or more, or one with a near link) and those repeating an earlier output; the
    # others are singletons, which the write fills in
    kept = meta.select("row", "outlet", "is_new", "exact_hash", *RANK,
                       (pl.col("_eligible") & ~pl.Series(is_template)).alias("_linkable"))
    near_hashes = meta["exact_hash"].gather(pl.concat([near_kept["left"], near_kept["right"]]).unique()).implode()
    linkable = pl.col("_linkable")
    member = linkable & ((linkable.sum().over("exact_hash") > 1) | pl.col("exact_hash").is_in(near_hashes))
    if not earlier.is_empty():
        repeating = everyone.filter(pl.col("paragraph_id").is_in(earlier["paragraph_id"].implode()))["row"]
        member = member | pl.col("row").is_in(repeating.implode())
    kept = _with_ids(kept.filter(member), parts, offsets)
    del everyone
    # The cluster step and the final write come next; what is not named above is not needed again.
    del meta, contained, similar, kept_similar, pairs, templates

    def measure(left: np.ndarray, right: np.ndarray) -> np.ndarray:
        rows = pl.DataFrame({"left": left, "right": right}, schema=PAIRS)
        return _measure(parts, offsets, rows)["jaccard"].to_numpy()

    clustered = assign_clusters(kept, near_kept, measure, threshold=dedup["near_threshold"])
    del kept, near, near_kept
    if earlier.is_empty():  # no --against, or nothing repeats it: no join over every paragraph
        clustered = clustered.with_columns(pl.lit(None, dtype=pl.List(pl.String)).alias("earlier_ids"))
    else:
        clustered = clustered.join(earlier, on="paragraph_id", how="left", maintain_order="left")
    # what the final write needs, and no more: this frame is held to the end, so only the paragraphs
    # in a cluster or repeating an earlier output (2.3% of allsides-dev grown 3x) are in it (a null
    # earlier_ids repeats nothing); the others' columns are a singleton's, filled in by the write
    clustered = fill_singletons(clustered.filter(
        pl.col("cluster_id").is_not_null() | (pl.col("earlier_ids").list.len() > 0))).select(
        "row", "paragraph_id", "is_new", *CLUSTER_COLUMNS, *EARLIER_COLUMN)
    # held to the end of the run: their strings are copied out of the per-paragraph frames they were
    # cut from (frames.py), which would stay alive otherwise (53 MiB behind the 20k rows of meta at 3x)
    return Linked(owned_strings(_by_row(clustered)), owned_strings(links), owned_strings(_by_row(new_templates)),
                  counts, owned_strings(outlets), [int(offset) for offset in offsets])


def _by_row(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` sorted by ``row`` (for :meth:`Linked.part_rows`); the frames here are built in row
    order, so this is a check, and a copy only if that ever changes."""
    return frame if frame["row"].is_sorted() else frame.sort("row")


def _templates(meta: pl.DataFrame, near: pl.DataFrame, dedup: dict[str, Any]) -> pl.DataFrame:
    """The ``meta`` rows that are templates, with their evidence (see :mod:`.templates`).

    Passage groups are components of equal exact hashes (short lines included) and ``near`` links.
    A function of its own so that its frames are freed before the contained step, the peak of
    phase B's memory.
    """
    has_words = pl.col("n_words") > 0
    first_copy = meta.filter(has_words).select(
        "row", pl.col("row").sort_by("_rank").first().over("exact_hash").alias("_first"))
    left = np.concatenate([first_copy["row"].to_numpy(), near["left"].to_numpy()])
    right = np.concatenate([first_copy["_first"].to_numpy(), near["right"].to_numpy()])
    groups = components(meta.height, left, right)
    del first_copy, left, right
    # Only the documents holding a group that template_rows could judge matter (it drops the others
    # first): a group of at least min_docs paragraphs with words (titles counted, as it counts them).
    # Cut here, before the per-paragraph frames are built over every paragraph.
    words = meta["n_words"].to_numpy() > 0
    repeated = np.bincount(groups[words], minlength=len(groups)) >= dedup["template_min_docs"]
    doc = meta["_doc"].to_numpy()
    judged_rows = np.isin(doc, np.unique(doc[words & repeated[groups]]))
    subset = meta.filter(pl.Series(judged_rows)).with_columns(pl.Series("_group", groups[judged_rows]))
    del doc, words, repeated
    # a page crawled several times is one page: count pages by their content, not their ids. The
    # key is a dense id of the page's hash sequence: the list itself, joined to every paragraph,
    # was a List(UInt64) column of ~30 hashes a row (317 MB of 891k rows at 3x allsides-dev)
    page_keys = subset.group_by("_doc").agg(pl.col("exact_hash").sort_by("para_idx").alias("_page")).select(
        "_doc", pl.col("_page").rank("dense").alias("_page"))
    judged = subset.select("row", "_doc", "para_idx", "is_title", "n_words", "outlet", "_group").join(page_keys, on="_doc")
    return template_rows(judged, min_docs=dedup["template_min_docs"],
                         min_context_share=dedup["template_min_context_share"],
                         min_docs_per_outlet=dedup["template_min_docs_per_outlet"])


def outlet_spellings(meta: pl.DataFrame) -> pl.DataFrame:
    """One spelling per outlet: names equal once slugged ("the-lantern", "The Lantern") take the one
    most paragraphs carry (ties: the first in sort order). Columns ``outlet`` → ``_outlet``."""
    counted = (meta.group_by("outlet").agg(pl.len().alias("n")).with_columns(pl.col("outlet").cast(pl.String))
               .with_columns(pl.col("outlet").map_elements(slug, return_dtype=pl.String).alias("_slug")))
    chosen = counted.sort(["_slug", "n", "outlet"], descending=[False, True, False]).group_by(
        "_slug", maintain_order=True).agg(pl.col("outlet").first().alias("_outlet"))
    return counted.join(chosen, on="_slug").select("outlet", "_outlet")


def _earlier_ids(links: pl.DataFrame, meta: pl.DataFrame | None) -> pl.DataFrame:
    """For each new paragraph, the ids of earlier-output paragraphs it is directly linked to.

    ``meta``: ``paragraph_id``, ``is_new`` and ``_eligible`` of the earlier paragraphs and the new
    ones that may repeat them; ``None`` without an earlier output.

    A page an earlier output holds as well (the same bytes at the same place) has the same ids there
    (:func:`corpusclean.readers.records.make_doc_id`): each of its paragraphs repeats the earlier one
    of its own id, which no link names (a link joins two ids); counted, as links are, for paragraphs
    long enough to link (``dedup.min_words``)."""
    old = meta.filter(~pl.col("is_new")).select("paragraph_id") if meta is not None else None
    if old is None or old.is_empty():
        return pl.DataFrame(schema={"paragraph_id": pl.String, "earlier_ids": pl.List(pl.String)})
    sides = pl.concat([
        links.select(pl.col("right_id").alias("paragraph_id"), pl.col("left_id").alias("other")),
        links.select(pl.col("left_id").alias("paragraph_id"), pl.col("right_id").alias("other")),
        meta.filter(pl.col("is_new") & pl.col("_eligible")).select("paragraph_id", pl.col("paragraph_id").alias("other")),
    ])
    return (sides.join(old.rename({"paragraph_id": "other"}), on="other")
            .group_by("paragraph_id").agg(pl.col("other").unique().sort().alias("earlier_ids")))


def rebuild_documents(documents: pl.DataFrame, paragraphs: pl.DataFrame, removed: pl.DataFrame
                      ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Document text, paragraph offsets and counts from the paragraphs that remain."""
    lengths = pl.col("text").str.len_chars()
    # phase-A shards are written in this order already: then the sort, a gather of every column
    # (the text included), is skipped; the order is the key's, which is unique, either way
    order = paragraphs.select(pl.arg_sort_by("source_path", "record_offset", "para_idx"))[:, 0]
    if not order.equals(pl.int_range(paragraphs.height, dtype=order.dtype, eager=True).alias(order.name)):
        paragraphs = paragraphs[order]
    paragraphs = paragraphs.with_columns(
        (lengths + len(PARAGRAPH_SEPARATOR)).cum_sum().over("doc_id").alias("_end_sep")
    ).with_columns(
        (pl.col("_end_sep") - lengths - len(PARAGRAPH_SEPARATOR)).cast(pl.Int32).alias("char_start"),
        (pl.col("_end_sep") - len(PARAGRAPH_SEPARATOR)).cast(pl.Int32).alias("char_end"),
    ).drop("_end_sep")
    texts = paragraphs.group_by("doc_id").agg(
        pl.col("text").sort_by("para_idx").str.join(PARAGRAPH_SEPARATOR).alias("_text"),
        pl.len().cast(pl.Int32).alias("_n"))
    removed_counts = removed.group_by("doc_id").agg(pl.len().cast(pl.Int32).alias("_removed"))
    documents = (documents.join(texts, on="doc_id", how="left").join(removed_counts, on="doc_id", how="left")
                 .with_columns(pl.col("_text").fill_null("").alias("text"),
                               pl.col("_n").fill_null(0).alias("n_paragraphs"),
                               pl.col("_removed").fill_null(0).alias("n_removed"))
                 .with_columns(pl.col("text").str.len_chars().cast(pl.Int32).alias("n_chars"))
                 .drop("_text", "_n", "_removed"))
    return documents, paragraphs


def finalize_shard(tables: dict[str, pl.DataFrame], linked: Linked, part: int,
                   rows: tuple[int, int] | None = None) -> dict[str, pl.DataFrame]:
    """The final tables of shard ``part``: templates removed, cluster columns joined, documents rebuilt.

    ``rows``: ``tables`` are a slice of whole documents of the shard, whose paragraphs are the
    shard's paragraph rows ``start:stop`` (``removed`` holding those documents' rows only); the
    final write cuts a large shard so (:func:`corpusclean.writers.final.write_final`).

    Memory: the final write holds one slice's tables while the previous slice's are being written,
    so every copy made here adds to the peak of phase B (a slice is up to 25k paragraphs; a shard,
    a third of the corpus at 3x allsides-dev). Hence no joins that gather all of a table's columns
    where a column can be mapped or a slice of ``linked`` lines up row for row, and no second sort.
    """
    old, new = linked.outlets["outlet"], linked.outlets["_outlet"]
    tables = {name: table.with_columns(pl.col("outlet").replace(old, new)) if "outlet" in table.columns else table
              for name, table in tables.items()}
    paragraphs = tables["paragraphs"]
    start, stop = rows if rows is not None else (0, paragraphs.height)
    columns = [*CLUSTER_COLUMNS, *EARLIER_COLUMN]
    held = linked.part_rows(linked.meta, part, (start, stop))  # the slice's paragraphs that are no singleton
    at = held["row"].cast(pl.Int64) - (linked.offsets[part] + start)
    part_templates = linked.part_rows(linked.templates, part)
    # a phase-A shard's paragraphs are its rows of ``linked`` in order: the cluster columns are
    # placed beside them, not joined (a join gathers every column of the shard, text included)
    aligned = stop - start == paragraphs.height and paragraphs["paragraph_id"].gather(at).equals(held["paragraph_id"])
    if aligned:
        template_at = part_templates["row"].to_numpy().astype(np.int64) - linked.offsets[part] - start
        flags = np.zeros(paragraphs.height, dtype=bool)
        flags[template_at[(template_at >= 0) & (template_at < paragraphs.height)]] = True
        is_template = pl.Series("is_template", flags)
        placed = pl.DataFrame({"_at": at}).hstack(held.select(columns))
        beside = (pl.DataFrame({"_at": np.arange(paragraphs.height, dtype=np.int64)})
                  .join(placed, on="_at", how="left", maintain_order="left").drop("_at"))
    else:
        is_template = linked.is_template(paragraphs["paragraph_id"], part)
        held = linked.part_rows(linked.meta, part).select("paragraph_id", *columns)
    evidence = part_templates.select("paragraph_id", *EVIDENCE)
    template_rows = paragraphs.filter(is_template).join(evidence, on="paragraph_id", how="left").select(
        "doc_id", "source_path", pl.col("source_units").list.first().cast(pl.Int32).alias("unit_idx"),
        pl.lit(0, dtype=pl.Int32).alias("char_start"), pl.col("text").str.len_chars().cast(pl.Int32).alias("char_end"),
        "text", pl.lit("template").alias("reason"), pl.lit("template").alias("stage"), "outlet", *EVIDENCE)
    rule_rows = tables["removed"].with_columns(*(pl.lit(None, dtype=t).alias(c) for c, t in EVIDENCE.items()))
    removed = pl.concat([rule_rows, template_rows.cast(rule_rows.schema)]).sort(
        "source_path", "doc_id", "unit_idx", "char_start", "reason", nulls_last=False)
    if aligned:
        kept = paragraphs.hstack(beside).filter(~is_template)
    else:
        kept = paragraphs.filter(~is_template).join(held, on="paragraph_id", how="left")
    kept = fill_singletons(kept)
    # rebuild_documents returns the paragraphs sorted by source_path, record_offset, para_idx
    documents, kept = rebuild_documents(tables["documents"], kept, removed)
    return {"documents": documents.sort("source_path", "record_offset"), "paragraphs": kept, "removed": removed}
