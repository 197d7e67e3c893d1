"""Containment reuse: paragraphs of one document quoted inside paragraphs of another.

A quote re-wrapped in a longer paragraph ("…," the president said, adding that …) shares most of
*its* shingles with the longer paragraph but few of the longer one's, so its Jaccard is low (0.17 in
the seeds) while its containment ``|A ∩ B| / min(|A|, |B|)`` is high (≥ 0.54 there). MinHash LSH
estimates Jaccard and would need a threshold so low that every pair became a candidate, so this module
finds such pairs through shared shingles instead:

1. explode every paragraph into ``(shingle_hash, paragraph)`` rows, optionally keeping only hashes
   ``≡ 0 (mod sample_mod)`` (a content-defined sample: two copies of a passage keep the same hashes);
2. drop hashes held by more than ``max_posting`` paragraphs: a phrase in hundreds of paragraphs is
   boilerplate or a cliché, and its posting list would cost ``O(k²)`` pairs;
3. self-join the rows on the hash (a polars hash join, no all-pairs loop), keep pairs of different
   documents, count shared hashes per pair;
4. verify each pair sharing enough sampled hashes by exact set intersection of the full shingle sets
   (``minhash.jaccard_pairs``) and keep it when ``|A ∩ B| ≥ min_shared`` and containment of the smaller
   in the larger ``≥ min_containment``.

Recall: with ``sample_mod = 1`` (the default) every shared shingle is seen, so every pair over both
thresholds is found unless its shared shingles all sit in dropped posting lists. With ``sample_mod = m``
a pair sharing ``k`` shingles is missed with probability about ``(1 - 1/m)^k`` (hashes are uniform), e.g.
0.075 for ``m = 4``, ``k = 9``; the cost falls to about ``1/m``. Precision is exact: every pair is
verified on the full sets (up to 32-bit shingle-hash collisions).

Example:
    >>> from corpusclean.dedup.shingles import shingle_hashes
    >>> quote = "we have sandbagged this town for the last time and tonight we decided"
    >>> texts = [quote, f'"{quote}," the mayor told reporters on tuesday, adding more words here', "unrelated"]
    >>> offsets, hashes = shingle_hashes(texts, n=5)
    >>> containment_pairs(offsets, hashes, np.array([0, 1, 2]), min_shared=3).select("left", "right").rows()
    [(0, 1)]
"""

from __future__ import annotations

import numpy as np
import polars as pl

from .minhash import jaccard_pairs

PAIR_SCHEMA = {"left": pl.UInt32, "right": pl.UInt32, "jaccard": pl.Float64,
               "containment_lr": pl.Float64, "containment_rl": pl.Float64}


def count_shared(postings: pl.LazyFrame, max_posting: int, only_new: bool = False) -> pl.DataFrame:
    """Shared-hash counts of text pairs from ``postings`` rows ``(row, hash, _doc, is_new)``.

    Hashes held by one text or by more than ``max_posting`` are dropped (step 2); with ``only_new``,
    so are hashes no new text holds (an incremental run pairs nothing among earlier texts). Pairs are
    ``left < right`` of different ``_doc``; ``shared`` counts the hashes they share in ``postings``.
    """
    held = pl.len().over("hash")
    postings = postings.filter((held >= 2) & (held <= max_posting))
    if only_new:
        postings = postings.filter(pl.col("is_new").any().over("hash"))
    postings = postings.select(pl.col("row").cast(pl.UInt32), "hash", "_doc")
    return (postings.join(postings, on="hash", suffix="_r")
            .filter((pl.col("row") < pl.col("row_r")) & (pl.col("_doc") != pl.col("_doc_r")))
            .group_by("row", "row_r").agg(pl.len().cast(pl.UInt32).alias("shared"))
            .select(pl.col("row").alias("left"), pl.col("row_r").alias("right"), "shared")
            .collect())


def verify_pairs(measured: pl.DataFrame, min_containment: float, min_shared: int) -> pl.DataFrame:
    """Keep measured pairs (exact ``shared``, containments) over both thresholds (step 4)."""
    larger = pl.max_horizontal("containment_lr", "containment_rl")
    return measured.filter((pl.col("shared") >= min_shared) & (larger >= min_containment)).select(list(PAIR_SCHEMA))


def containment_pairs(offsets: np.ndarray, hashes: np.ndarray, groups: np.ndarray, *,
                      min_containment: float = 0.5, min_shared: int = 8, max_posting: int = 64,
                      sample_mod: int = 1) -> pl.DataFrame:
    """Verified pairs ``left < right`` of texts in different ``groups`` (documents) with high containment.

    The in-memory form of the steps above, for texts whose shingle arrays fit in memory (phase B runs
    the same :func:`count_shared` and :func:`verify_pairs` one hash partition at a time).

    Args:
        offsets, hashes: per-text sorted unique shingle hashes (``shingles.shingle_hashes``).
        groups: the document of each text; pairs inside one document are not reported.
        min_containment: least ``|A ∩ B| / min(|A|, |B|)``.
        min_shared: least ``|A ∩ B|`` in shingles (5-word shingles: 8 is about a 12-word passage).
        max_posting: hashes held by more texts than this are ignored (boilerplate).
        sample_mod: keep hashes divisible by this (1 keeps all; see the module docstring).

    Returns:
        Columns of :data:`PAIR_SCHEMA`; ``containment_lr = |L ∩ R| / |L|``.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    hashes = np.asarray(hashes, dtype=np.uint64)
    sizes = np.diff(offsets)
    text = np.repeat(np.arange(sizes.shape[0], dtype=np.uint32), sizes)
    postings = pl.DataFrame({"row": text, "hash": hashes, "_doc": np.asarray(groups)[text]}).lazy()
    if sample_mod > 1:
        postings = postings.filter(pl.col("hash") % sample_mod == 0)
    shared = count_shared(postings, max_posting)
    # only pairs whose sampled overlap could reach min_shared are worth an exact check
    candidates = shared.filter(pl.col("shared") >= max(1, int(min_shared / sample_mod * 0.5)))
    if candidates.is_empty():
        return pl.DataFrame(schema=PAIR_SCHEMA)
    candidates = candidates.sort("left", "right")
    left, right = candidates["left"].to_numpy(), candidates["right"].to_numpy()
    jaccard, contain_lr, contain_rl = jaccard_pairs(offsets, hashes, left, right)
    measured = pl.DataFrame({"left": left, "right": right, "jaccard": jaccard, "containment_lr": contain_lr,
                             "containment_rl": contain_rl,
                             "shared": np.rint(contain_lr * sizes[left]).astype(np.int64)})
    return verify_pairs(measured, min_containment, min_shared).cast(PAIR_SCHEMA)
