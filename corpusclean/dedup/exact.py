"""Exact duplicate paragraphs: paragraphs with equal xxh64 of the match key of their text.

``exact_hash`` is computed in phase A (``corpusclean.clean``) from
:func:`~corpusclean.text.normalize.match_key` of the stored text, so a paragraph with typographic
quotes, dashes or ``½`` and its ASCII twin (``"``, ``-``, ``1⁄2``) hash alike.

A group of equal hashes becomes a star of ``exact`` links from its first member in canonical order
(earliest date, then source path, record offset, paragraph index) to each other member. Paragraphs of
fewer than ``min_words`` words ("Yes.", "Advertisement") are left out: they repeat by chance, not
because a story travelled. xxh64 collisions are negligible: for n distinct paragraphs the chance of any
collision is about n²/2⁶⁵, under 3·10⁻⁸ for a billion.
"""

from __future__ import annotations

import polars as pl

from ..schema import LINKS

#: Canonical order of paragraphs; earliest date first, undated last, then a stable tie-break.
CANONICAL_ORDER = ["date", "source_path", "record_offset", "para_idx"]


def canonical_sort(paragraphs: pl.DataFrame, order: list[str] = CANONICAL_ORDER) -> pl.DataFrame:
    """``paragraphs`` in canonical order. ``order`` may name a precomputed rank column instead: phase B
    ranks the corpus once and then drops the four columns, which it would otherwise hold to the end."""
    return paragraphs.sort(order, nulls_last=True)


def exact_links(paragraphs: pl.DataFrame, min_words: int = 3, order: list[str] = CANONICAL_ORDER) -> pl.DataFrame:
    """Links of kind ``exact`` between paragraphs sharing ``exact_hash`` (see the module docstring).

    Example:
        >>> p = pl.DataFrame({"paragraph_id": ["a-0", "b-0"], "doc_id": ["a", "b"], "exact_hash": [7, 7],
        ...                   "n_words": [5, 5], "date": [None, "2020-01-01"], "source_path": ["a", "b"],
        ...                   "record_offset": [0, 0], "para_idx": [0, 0]})
        >>> exact_links(p).select("left_id", "right_id", "kind").rows()
        [('b-0', 'a-0', 'exact')]
    """
    eligible = canonical_sort(paragraphs.filter(pl.col("n_words") >= min_words), order)
    grouped = (
        eligible.select("paragraph_id", "doc_id", "exact_hash")
        .with_columns(
            pl.col("paragraph_id").first().over("exact_hash").alias("left_id"),
            pl.col("doc_id").first().over("exact_hash").alias("left_doc_id"),
        )
        .filter(pl.col("paragraph_id") != pl.col("left_id"))
    )
    return grouped.select(
        "left_id",
        pl.col("paragraph_id").alias("right_id"),
        "left_doc_id",
        pl.col("doc_id").alias("right_doc_id"),
        pl.lit("exact").alias("kind"),
        pl.lit(1.0).alias("jaccard"),
        pl.lit(1.0).alias("containment_left"),
        pl.lit(1.0).alias("containment_right"),
    ).cast(LINKS).sort("left_id", "right_id")
