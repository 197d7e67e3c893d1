"""Phase B: the corpus-wide pass over phase-A tables.

Steps, each in its own module:

1. shingle every kept paragraph and compute MinHash signatures (``shingles``, ``minhash``);
2. ``exact`` links (equal xxh64 of the normalized text) and ``near`` links (LSH candidates verified by
   exact Jaccard ≥ ``near_threshold``, ``lsh``), between different documents;
3. same-outlet ``templates`` over the exact and near links: removed, reason ``template``;
4. ``contained`` links among what is left (``containment``): quotes re-wrapped in longer paragraphs;
5. ``clusters``: connected components of all links, one canonical paragraph each;
6. documents rebuilt from their remaining paragraphs (text, offsets, counts).

Every link says its kind (``exact`` equal hash, ``near`` Jaccard ≥ threshold, else ``contained``),
its Jaccard and both containments, and points from the canonically earlier paragraph (``left``) to the
later one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from ..schema import LINKS
from .clusters import assign_clusters
from .containment import PAIR_SCHEMA, containment_pairs
from .exact import CANONICAL_ORDER, exact_links
from .lsh import near_duplicate_pairs
from .minhash import signatures
from .shingles import shingle_hashes
from .templates import template_paragraphs

PARAGRAPH_SEPARATOR = "\n\n"


@dataclass
class PhaseB:
    """Final tables after the corpus pass."""

    documents: pl.DataFrame
    paragraphs: pl.DataFrame
    removed: pl.DataFrame
    links: pl.DataFrame
    signatures: np.ndarray


def _pairs_to_links(pairs: pl.DataFrame, paragraphs: pl.DataFrame) -> pl.DataFrame:
    """Index pairs to link rows oriented from the canonically earlier paragraph."""
    if pairs.is_empty():
        return pl.DataFrame(schema=LINKS)
    info = paragraphs.select(
        pl.col("paragraph_id"), pl.col("doc_id"), pl.col("exact_hash"), pl.col("_rank")
    ).with_row_index("_i")
    joined = (pairs.join(info.rename(lambda c: c + "_l"), left_on="left", right_on="_i_l")
              .join(info.rename(lambda c: c + "_r"), left_on="right", right_on="_i_r"))
    flip = pl.col("_rank_l") > pl.col("_rank_r")

    def pick(left: str, right: str) -> pl.Expr:
        return pl.when(flip).then(pl.col(right)).otherwise(pl.col(left))

    return joined.select(
        pick("paragraph_id_l", "paragraph_id_r").alias("left_id"),
        pick("paragraph_id_r", "paragraph_id_l").alias("right_id"),
        pick("doc_id_l", "doc_id_r").alias("left_doc_id"),
        pick("doc_id_r", "doc_id_l").alias("right_doc_id"),
        pl.lit("", dtype=pl.String).alias("kind"),
        pl.col("jaccard"),
        pick("containment_lr", "containment_rl").alias("containment_left"),
        pick("containment_rl", "containment_lr").alias("containment_right"),
        (pl.col("exact_hash_l") == pl.col("exact_hash_r")).alias("_same_hash"),
    )


def _classify(links: pl.DataFrame, near_threshold: float) -> pl.DataFrame:
    return links.with_columns(
        pl.when(pl.col("_same_hash")).then(pl.lit("exact"))
        .when(pl.col("jaccard") >= near_threshold).then(pl.lit("near"))
        .otherwise(pl.lit("contained")).alias("kind")
    ).drop("_same_hash")


def rebuild_documents(documents: pl.DataFrame, paragraphs: pl.DataFrame, removed: pl.DataFrame
                      ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Document text, paragraph offsets and counts from the paragraphs that remain."""
    lengths = pl.col("text").str.len_chars()
    paragraphs = paragraphs.sort("doc_id", "para_idx").with_columns(
        (lengths + len(PARAGRAPH_SEPARATOR)).cum_sum().over("doc_id").alias("_end_sep")
    ).with_columns(
        (pl.col("_end_sep") - lengths - len(PARAGRAPH_SEPARATOR)).cast(pl.Int32).alias("char_start"),
        (pl.col("_end_sep") - len(PARAGRAPH_SEPARATOR)).cast(pl.Int32).alias("char_end"),
    ).drop("_end_sep")
    texts = paragraphs.group_by("doc_id").agg(
        pl.col("text").str.join(PARAGRAPH_SEPARATOR).alias("_text"), pl.len().cast(pl.Int32).alias("_n"))
    removed_counts = removed.group_by("doc_id").agg(pl.len().cast(pl.Int32).alias("_removed"))
    documents = (documents.join(texts, on="doc_id", how="left").join(removed_counts, on="doc_id", how="left")
                 .with_columns(pl.col("_text").fill_null("").alias("text"),
                               pl.col("_n").fill_null(0).alias("n_paragraphs"),
                               pl.col("_removed").fill_null(0).alias("n_removed"))
                 .with_columns(pl.col("text").str.len_chars().cast(pl.Int32).alias("n_chars"))
                 .drop("_text", "_n", "_removed"))
    return documents, paragraphs


def run_phase_b(documents: pl.DataFrame, paragraphs: pl.DataFrame, removed: pl.DataFrame,
                dedup: dict[str, Any]) -> PhaseB:
    """Link, de-template and cluster the paragraphs of phase A (see the module docstring)."""
    order = ["source_path", "record_offset", "para_idx"]
    paragraphs = paragraphs.sort(order)
    ranks = paragraphs.select("paragraph_id").join(
        paragraphs.sort(CANONICAL_ORDER, nulls_last=True).select("paragraph_id").with_row_index("_rank"),
        on="paragraph_id", how="left", maintain_order="left")["_rank"]
    paragraphs = paragraphs.with_columns(ranks)
    offsets, hashes = shingle_hashes(paragraphs["text"].to_list(), n=dedup["shingle_size"])
    sigs = signatures(offsets, hashes, num_perm=dedup["num_perm"], seed=dedup["minhash_seed"])
    doc_index = paragraphs["doc_id"].rank("dense").to_numpy()
    eligible = paragraphs["n_words"].to_numpy() >= dedup["min_words"]

    # exact and near pairs (different documents, both paragraphs long enough)
    exact = exact_links(paragraphs, min_words=dedup["min_words"])
    exact = exact.filter(pl.col("left_doc_id") != pl.col("right_doc_id"))
    near = near_duplicate_pairs(offsets, hashes, sigs, dedup["near_threshold"])
    near = near.filter(pl.Series(doc_index[near["left"].to_numpy()] != doc_index[near["right"].to_numpy()])
                       & pl.Series(eligible[near["left"].to_numpy()] & eligible[near["right"].to_numpy()]))
    near_links = _classify(_pairs_to_links(near, paragraphs), dedup["near_threshold"])
    similar = pl.concat([exact.select(list(LINKS)), near_links.select(list(LINKS))]).unique(["left_id", "right_id"], keep="first")

    # same-outlet templates leave the corpus before anything is clustered
    templates = set(template_paragraphs(paragraphs.filter(~pl.col("is_title")), similar, dedup["template_min_docs"]))
    is_template = paragraphs["paragraph_id"].is_in(list(templates)).to_numpy()
    template_rows = paragraphs.filter(pl.Series(is_template)).select(
        "doc_id", "source_path", pl.col("para_idx").cast(pl.Int32).alias("unit_idx"),
        pl.lit(0, dtype=pl.Int32).alias("char_start"), pl.col("text").str.len_chars().cast(pl.Int32).alias("char_end"),
        "text", pl.lit("template").alias("reason"), pl.lit("template").alias("stage"), "outlet")
    removed = pl.concat([removed, template_rows.cast(removed.schema)])

    # quotes re-wrapped in longer paragraphs, among what is left
    contained = containment_pairs(offsets, hashes, doc_index, min_containment=dedup["min_containment"],
                                  min_shared=dedup["min_shared_shingles"], max_posting=dedup["max_posting"],
                                  sample_mod=dedup["containment_sample_mod"])
    pairs = pl.concat([near.select(list(PAIR_SCHEMA)), contained]).unique(["left", "right"], keep="first")
    keep = ~(is_template[pairs["left"].to_numpy()] | is_template[pairs["right"].to_numpy()])
    links = _classify(_pairs_to_links(pairs.filter(pl.Series(keep)), paragraphs), dedup["near_threshold"])
    exact = exact.filter(~pl.col("left_id").is_in(list(templates)) & ~pl.col("right_id").is_in(list(templates)))
    links = (pl.concat([exact.select(list(LINKS)), links.select(list(LINKS))])
             .unique(["left_id", "right_id"], keep="first").sort("left_id", "right_id"))

    kept = paragraphs.filter(pl.Series(~is_template)).drop("_rank")
    kept_sigs = sigs[~is_template]
    documents, kept = rebuild_documents(documents, kept, removed)
    clustered = assign_clusters(kept, links).sort(order)
    return PhaseB(documents.sort("source_path", "record_offset"), clustered,
                  removed.sort("source_path", "doc_id", "unit_idx", "char_start", "reason", nulls_last=False),
                  links, kept_sigs)
