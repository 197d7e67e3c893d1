"""Reprints: which documents share text with which, one row per pair, from clusters and links.

**What counts as shared.** A paragraph of document A and one of document B (A ≠ B) are *shared* when

* a link joins them (``links.parquet``: ``exact``, ``near`` or ``contained``, always across documents), or
* one is the canonical paragraph of the other's cluster (an exact or near copy of it; ``kind`` is
  ``exact`` when the member's ``similarity`` is 1.0, else ``near``).

Both are oriented from the canonically earlier paragraph (earliest date, undated last, then source
path, record offset, paragraph index: :data:`corpusclean.dedup.exact.CANONICAL_ORDER`) to the later one;
between two documents that order is the documents' own (date, source path, record offset), so every
pair has one direction: ``earlier_*`` is the source, ``later_*`` the reprint. ``ordered_by`` says what
decided it: ``date`` (two different dates), ``same_date`` or ``undated`` (then the path order did).

**Bound.** A cluster of n copies in n documents would give n(n-1)/2 document pairs if every two
members were paired. Only its star is used (each member with its canonical: n-1 pairs), plus the
links, which phase B already bounds (exact links are stars too, near and contained links are verified
candidate pairs). So the paragraph pairs are at most ``links + paragraphs`` and the table has at most
that many rows. Two reprints of one source (siblings) are a pair here only when a link joins them
directly; otherwise each is paired with the source, and siblings are found by joining the table on
``earlier_doc_id``. :func:`sibling_pairs` counts the member-member paragraph pairs so left out.

**Shares.** ``earlier_shared_paragraphs`` / ``later_shared_paragraphs`` count each side's distinct
paragraphs in the pair's shared paragraph pairs; ``earlier_share`` / ``later_share`` are their
characters over all the document's paragraph characters (a ``contained`` link counts its whole
paragraph). ``exact_pairs``, ``near_pairs``, ``contained_pairs`` count the paragraph pairs by kind
(a pair that is both a link and a cluster star counts once, by its link's kind).

Example: document ``b`` repeats ``a``'s first paragraph exactly and quotes its second.

    >>> import datetime as dt
    >>> paragraphs = pl.DataFrame({
    ...     "paragraph_id": ["a-0", "a-1", "b-0", "b-1"], "doc_id": ["a", "a", "b", "b"],
    ...     "chars": [100, 100, 100, 300], "canonical_id": ["a-0", "a-1", "a-0", "b-1"],
    ...     "canonical_doc_id": ["a", "a", "a", "b"], "similarity": [1.0, None, 1.0, None]})
    >>> links = pl.DataFrame({"left_id": ["a-1"], "right_id": ["b-1"], "left_doc_id": ["a"],
    ...                       "right_doc_id": ["b"], "kind": ["contained"]})
    >>> documents = pl.DataFrame({"doc_id": ["a", "b"], "outlet": ["Wire", "Tribune"], "chars": [200, 400],
    ...                           "date": [dt.date(2026, 3, 14), dt.date(2026, 3, 17)]})
    >>> reprints(paragraphs, links, documents).select(
    ...     "earlier_doc_id", "later_doc_id", "later_shared_paragraphs", "later_share", "kinds", "lag_days").rows()
    [('a', 'b', 2, 1.0, 'contained,exact', 3)]
"""

from __future__ import annotations

import polars as pl

from ..schema import REPRINTS

#: Kinds of a shared paragraph pair, strongest first (a pair found twice keeps the first).
KINDS = ["exact", "near", "contained"]


def shared_paragraph_pairs(paragraphs: pl.DataFrame, links: pl.DataFrame) -> pl.DataFrame:
    """The shared paragraph pairs of the module docstring: ``earlier_id``, ``later_id``,
    ``earlier_doc_id``, ``later_doc_id``, ``kind``; one row per pair of paragraphs.

    ``paragraphs`` needs ``paragraph_id``, ``doc_id``, ``canonical_id``, ``canonical_doc_id`` and
    ``similarity`` (the cluster columns of ``paragraphs.parquet``); ``links`` the columns of
    ``links.parquet`` named above.
    """
    linked = links.select(pl.col("left_id").alias("earlier_id"), pl.col("right_id").alias("later_id"),
                          pl.col("left_doc_id").alias("earlier_doc_id"), pl.col("right_doc_id").alias("later_doc_id"),
                          pl.col("kind").cast(pl.String))
    star = paragraphs.filter((pl.col("canonical_id") != pl.col("paragraph_id"))
                             & (pl.col("canonical_doc_id") != pl.col("doc_id"))).select(
        pl.col("canonical_id").alias("earlier_id"), pl.col("paragraph_id").alias("later_id"),
        pl.col("canonical_doc_id").alias("earlier_doc_id"), pl.col("doc_id").alias("later_doc_id"),
        pl.when(pl.col("similarity") >= 1.0).then(pl.lit("exact")).otherwise(pl.lit("near")).alias("kind"))
    pairs = pl.concat([linked, star])
    strength = pl.col("kind").replace_strict(KINDS, list(range(len(KINDS))), return_dtype=pl.Int8)
    return (pairs.sort(strength, "earlier_id", "later_id")
            .unique(["earlier_id", "later_id"], keep="first", maintain_order=True)
            .sort("earlier_doc_id", "later_doc_id", "earlier_id", "later_id"))


def reprints(paragraphs: pl.DataFrame, links: pl.DataFrame, documents: pl.DataFrame) -> pl.DataFrame:
    """One row per pair of documents sharing text (:data:`corpusclean.schema.REPRINTS`), sorted by
    ``earlier_doc_id``, ``later_doc_id``.

    ``paragraphs``: the columns of :func:`shared_paragraph_pairs` and ``chars`` (the paragraph's
    length); it may hold only the paragraphs that can be in a pair (cluster members, link ends, and
    earlier outputs' paragraphs with ``canonical_id`` = ``paragraph_id``). ``documents``: ``doc_id``,
    ``outlet``, ``date`` (``pl.Date`` or ISO text), ``chars`` (all its paragraphs' characters) and,
    optionally, ``in_output`` (false for earlier outputs' documents; true when absent).
    """
    pairs = shared_paragraph_pairs(paragraphs, links)
    if pairs.is_empty():
        return pl.DataFrame(schema=REPRINTS)
    docs = documents.select("doc_id", "outlet", _as_date("date"), pl.col("chars").alias("_doc_chars"),
                            pl.col("in_output") if "in_output" in documents.columns else pl.lit(True).alias("in_output"))
    chars = paragraphs.select("paragraph_id", pl.col("chars").cast(pl.Int64)).unique("paragraph_id")

    def side(end: str) -> pl.DataFrame:
        """Per document pair, the distinct paragraphs of one side and their characters."""
        return (pairs.select("earlier_doc_id", "later_doc_id", pl.col(f"{end}_id").alias("paragraph_id")).unique()
                .join(chars, on="paragraph_id", how="left")
                .group_by("earlier_doc_id", "later_doc_id")
                .agg(pl.len().cast(pl.Int32).alias(f"{end}_shared_paragraphs"),
                     pl.col("chars").sum().alias(f"_{end}_chars")))

    kinds = pairs.group_by("earlier_doc_id", "later_doc_id").agg(
        *((pl.col("kind") == kind).sum().cast(pl.Int32).alias(f"{kind}_pairs") for kind in KINDS))
    kinds = kinds.with_columns(pl.concat_list(
        *(pl.when(pl.col(f"{kind}_pairs") > 0).then(pl.lit(kind)) for kind in sorted(KINDS))
    ).list.drop_nulls().list.join(",").alias("kinds"))
    keys = ["earlier_doc_id", "later_doc_id"]
    rows = kinds.join(side("earlier"), on=keys).join(side("later"), on=keys)
    for end in ("earlier", "later"):
        rows = (rows.join(docs.rename({c: f"{end}_{c}" for c in ("doc_id", "outlet", "date", "in_output")}),
                          on=f"{end}_doc_id", how="left")
                .with_columns((pl.col(f"_{end}_chars") / pl.col("_doc_chars")).alias(f"{end}_share"))
                .drop("_doc_chars"))
    dated = pl.col("earlier_date").is_not_null() & pl.col("later_date").is_not_null()
    rows = rows.with_columns(
        pl.when(~dated).then(pl.lit("undated"))
        .when(pl.col("earlier_date") == pl.col("later_date")).then(pl.lit("same_date"))
        .otherwise(pl.lit("date")).alias("ordered_by"),
        (pl.col("later_date") - pl.col("earlier_date")).dt.total_days().cast(pl.Int32).alias("lag_days"),
        (pl.col("earlier_outlet") == pl.col("later_outlet")).alias("same_outlet"),
        pl.col("earlier_in_output").fill_null(False), pl.col("later_in_output").fill_null(False),
    )
    return rows.select(list(REPRINTS)).cast(REPRINTS).sort(keys)


def sibling_pairs(paragraphs: pl.DataFrame) -> int:
    """Paragraph pairs of two non-canonical members of one cluster in different documents, which
    the table leaves out (the bound above): per cluster, k(k-1)/2 over its k non-canonical members,
    less the pairs inside one document. Counted, never built."""
    members = paragraphs.filter(pl.col("canonical_id") != pl.col("paragraph_id"))
    if members.is_empty():
        return 0
    per_cluster = members.group_by("canonical_id").agg(pl.len().cast(pl.Int64).alias("k"))
    per_doc = members.group_by("canonical_id", "doc_id").agg(pl.len().cast(pl.Int64).alias("k"))
    pairs = lambda frame: int(frame.select((pl.col("k") * (pl.col("k") - 1) // 2).sum()).item())  # noqa: E731
    return pairs(per_cluster) - pairs(per_doc)


def _as_date(column: str) -> pl.Expr:
    """``column`` as ``pl.Date`` whether it is stored as a date or as ISO text (earlier outputs)."""
    return pl.col(column).cast(pl.String).str.to_date("%Y-%m-%d", strict=False).alias(column)

