"""Clusters: copies of one passage, each cluster with one canonical paragraph.

A cluster is what a reader would call "the same text": exact copies (equal ``exact_hash``, in any
document, the same document included) and near copies (a verified ``near`` link, Jaccard ≥ θ). It is
built in two steps:

1. **Exact groups.** Paragraphs with equal ``exact_hash`` are one group, represented by its first
   member in canonical order (earliest date, then source path, record offset, paragraph index).
2. **Near merges, checked against the canonical copy.** Connected components of the representatives
   under ``near`` links (scipy csgraph, linear in nodes + edges) propose clusters. Components chain:
   A ~ B and B ~ C do not make A ~ C. So each member is kept only if its own Jaccard with the
   component's canonical (its first member) is ≥ θ; the members that fail are split off and clustered
   again among themselves, up to ``max_rounds`` times (then each is a cluster of its exact group).

Bound: Jaccard distance ``d = 1 - J`` is a metric, so two members ``a, b`` of one cluster with
canonical ``c`` satisfy ``d(a, b) ≤ d(a, c) + d(c, b) ≤ 2(1 - θ)``, i.e. ``J(a, b) ≥ 2θ - 1``
(0.6 at θ = 0.8) for every pair, at every cluster size. Before this check, clusters were components
over all links, containment included, and one real corpus made a cluster of 2,448 paragraphs glued
by quote chains (X, X+Y, Y) in which only 48-56 % of same-cluster pairs were similar at all.

``contained`` links (a quote inside a longer paragraph) never merge clusters: they stay links
between the quote's cluster and the source's, with the shared passage's offsets (``spans.py``).

Cluster ids are the xxh64 of the canonical paragraph id, so they do not depend on input order.
``similarity`` is each member's Jaccard with the canonical (1.0 for the canonical and its exact
copies), null for paragraphs in no cluster.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import polars as pl
import xxhash
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..schema import CLUSTER_COLUMNS

#: ``measure(left_rows, right_rows)`` → exact Jaccard of each pair of rows.
Measure = Callable[[np.ndarray, np.ndarray], np.ndarray]


def components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Connected-component label of each of ``n`` nodes under the undirected edges ``left[i]-right[i]``.

    >>> components(4, np.array([0]), np.array([2])).tolist()
    [0, 1, 0, 2]
    """
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (np.asarray(left, dtype=np.int64),
                                                            np.asarray(right, dtype=np.int64))), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _checked_merges(ranks: np.ndarray, left: np.ndarray, right: np.ndarray, jaccard: np.ndarray,
                    measure: Measure, rows: np.ndarray, threshold: float, max_rounds: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Step 2 over ``len(ranks)`` representatives (compact indices; ``rows`` their global rows).

    Returns each representative's canonical (a compact index) and its Jaccard with it.
    """
    n = len(ranks)
    left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
    canonical = np.arange(n)
    similarity = np.ones(n)
    # measured pairs, keyed both ways as a * n + b and sorted, for a vectorized lookup
    known_keys = np.concatenate([left * n + right, right * n + left]).astype(np.int64)
    order = np.argsort(known_keys, kind="stable")
    known_keys, known_values = known_keys[order], np.concatenate([jaccard, jaccard])[order]
    active = np.zeros(n, dtype=bool)
    active[left] = True
    active[right] = True
    for _ in range(max_rounds):
        keep = active[left] & active[right]
        if not keep.any():
            break
        labels = components(n, left[keep], right[keep])
        nodes = np.flatnonzero(active)
        # the first member of each component in canonical order is its canonical copy
        by_rank = nodes[np.argsort(ranks[nodes], kind="stable")]
        head_of_label = np.full(n, -1, dtype=np.int64)
        unique_labels, first_index = np.unique(labels[by_rank], return_index=True)
        head_of_label[unique_labels] = by_rank[first_index]
        heads = head_of_label[labels[nodes]]
        others, other_heads = nodes[heads != nodes], heads[heads != nodes]
        keys = others.astype(np.int64) * n + other_heads
        found = np.searchsorted(known_keys, keys).clip(max=max(len(known_keys) - 1, 0))
        sims = np.full(len(others), np.nan)
        if len(known_keys):
            hit = known_keys[found] == keys
            sims[hit] = known_values[found[hit]]
        unknown = np.isnan(sims)
        if unknown.any():
            sims[unknown] = measure(rows[other_heads[unknown]], rows[others[unknown]])
        joins = sims >= threshold
        canonical[others[joins]] = other_heads[joins]
        similarity[others[joins]] = sims[joins]
        # what joined (and every head) is settled; the rest is clustered again among itself
        active[nodes] = False
        active[others[~joins]] = True
    return canonical, similarity


def assign_clusters(paragraphs: pl.DataFrame, near: pl.DataFrame, measure: Measure | None = None,
                    threshold: float = 0.8, max_rounds: int = 4) -> pl.DataFrame:
    """Add the cluster columns of :data:`corpusclean.schema.CLUSTER_COLUMNS` to ``paragraphs``.

    ``paragraphs`` has ``row`` (a unique integer), ``paragraph_id``, ``doc_id``, ``outlet``,
    ``exact_hash``, ``_rank`` (the canonical order) and ``_linkable`` (whether the paragraph may be in
    a cluster at all: long enough, not a template); ``near`` has ``left``, ``right`` (rows) and
    ``jaccard``. ``measure`` computes the Jaccard of row pairs that no near link measured (needed
    only when a component has members without a direct link to its canonical).

    Singletons get ``cluster_id`` null, size 1, and are their own canonical.

    Example: ``b`` is near ``a`` and ``c``, but ``a`` and ``c`` are not alike (a chain); ``d`` is an
    exact copy of ``a`` in the same document.

        >>> p = pl.DataFrame({"row": [0, 1, 2, 3, 4], "paragraph_id": ["a-1", "b-1", "c-1", "a-2", "e-1"],
        ...                   "doc_id": ["a", "b", "c", "a", "e"], "outlet": ["A", "B", "C", "A", ""],
        ...                   "exact_hash": [1, 2, 3, 1, 5], "_rank": [0, 1, 2, 3, 4], "_linkable": True})
        >>> near = pl.DataFrame({"left": [0, 1], "right": [1, 2], "jaccard": [0.9, 0.85]})
        >>> out = assign_clusters(p, near, measure=lambda l, r: np.full(len(l), 0.5))
        >>> out.select("paragraph_id", "cluster_size", "canonical_id", "similarity").rows()
        [('a-1', 3, 'a-1', 1.0), ('b-1', 3, 'a-1', 0.9), ('c-1', 1, 'c-1', None), ('a-2', 3, 'a-1', 1.0), ('e-1', 1, 'e-1', None)]
    """
    if paragraphs.is_empty():
        return paragraphs.with_columns(*(pl.lit(None, dtype=t).alias(c) for c, t in CLUSTER_COLUMNS.items()))
    linkable = paragraphs.filter(pl.col("_linkable")).select("row", "exact_hash", "_rank")
    # step 1: every linkable paragraph points at its exact group's representative
    grouped = linkable.with_columns(
        pl.col("row").sort_by("_rank").first().over("exact_hash").alias("_rep"),
        pl.len().over("exact_hash").alias("_copies"))
    rep_of = grouped.select("row", "_rep")
    edges = (near.select("left", "right", "jaccard")
             .join(rep_of.rename({"row": "left", "_rep": "_l"}), on="left")
             .join(rep_of.rename({"row": "right", "_rep": "_r"}), on="right")
             .filter(pl.col("_l") != pl.col("_r")))
    in_graph = pl.concat([edges["_l"], edges["_r"]]).unique()
    reps = (grouped.filter((pl.col("_copies") > 1) | pl.col("row").is_in(in_graph.implode()))
            .filter(pl.col("row") == pl.col("_rep")).select("row", "_rank").sort("_rank")
            .with_row_index("_node"))
    node_of = reps.select("row", "_node")
    edges = (edges.join(node_of.rename({"row": "_l", "_node": "_nl"}), on="_l")
             .join(node_of.rename({"row": "_r", "_node": "_nr"}), on="_r")
             .group_by("_nl", "_nr").agg(pl.col("jaccard").max()))
    unmeasured: Measure = measure or (lambda left, right: np.zeros(len(left)))
    canonical, similarity = _checked_merges(
        reps["_rank"].to_numpy(), edges["_nl"].to_numpy(), edges["_nr"].to_numpy(), edges["jaccard"].to_numpy(),
        unmeasured, reps["row"].to_numpy(), threshold, max_rounds)
    rep_rows = reps["row"].to_numpy()
    settled = pl.DataFrame({"_rep": rep_rows, "_canonical_row": rep_rows[canonical], "_similarity": similarity},
                           schema_overrides={"_rep": grouped.schema["_rep"], "_canonical_row": grouped.schema["_rep"]})
    members = (grouped.join(settled, on="_rep").select("row", "_canonical_row", "_similarity")
               .join(paragraphs.select("row", "paragraph_id", "doc_id", "outlet"), on="row"))
    canonical_info = members.filter(pl.col("row") == pl.col("_canonical_row")).select(
        pl.col("row").alias("_canonical_row"), pl.col("paragraph_id").alias("canonical_id"),
        pl.col("doc_id").alias("canonical_doc_id"))
    members = members.join(canonical_info, on="_canonical_row").with_columns(
        pl.len().over("_canonical_row").cast(pl.Int32).alias("cluster_size"),
        pl.col("outlet").filter(pl.col("outlet") != "").n_unique().over("_canonical_row").cast(pl.Int32)
        .alias("cluster_outlets"))
    members = members.filter(pl.col("cluster_size") > 1)
    canonical_ids = members["canonical_id"].unique().sort().to_list()
    cluster_ids = pl.DataFrame({"canonical_id": canonical_ids,
                                "cluster_id": [xxhash.xxh64_hexdigest(pid.encode()) for pid in canonical_ids]},
                               schema={"canonical_id": pl.String, "cluster_id": pl.String})
    clustered = members.join(cluster_ids, on="canonical_id").select(
        # by row, not id: a page an earlier output holds too (same bytes, same place) has the same ids there
        "row", "cluster_id", "cluster_size", (pl.col("row") == pl.col("_canonical_row")).alias("is_canonical"),
        "canonical_id", "canonical_doc_id", pl.col("_similarity").alias("similarity"), "cluster_outlets")
    return fill_singletons(paragraphs.join(clustered, on="row", how="left", maintain_order="left")).select(
        *paragraphs.columns, *CLUSTER_COLUMNS)


def fill_singletons(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame``'s cluster columns (:data:`~corpusclean.schema.CLUSTER_COLUMNS`, null where a left join
    found no cluster) filled in as a paragraph in no cluster has them: ``cluster_id`` and
    ``similarity`` null, size 1, its own canonical (``paragraph_id``, ``doc_id``), one outlet unless
    its ``outlet`` is empty. ``earlier_ids``, if there, an empty list.

    The one definition of a singleton's columns: :func:`assign_clusters` fills its paragraphs with it,
    phase B the ``earlier_ids`` of the paragraphs it holds, and the final write its paragraphs outside
    every cluster, which phase B does not hold row by row.

        >>> f = pl.DataFrame({"paragraph_id": ["a-1"], "doc_id": ["a"], "outlet": [""]}).with_columns(
        ...     *(pl.lit(None, dtype=t).alias(c) for c, t in CLUSTER_COLUMNS.items()))
        >>> fill_singletons(f).select("cluster_size", "canonical_id", "cluster_outlets").rows()
        [(1, 'a-1', 0)]
    """
    filled = frame.with_columns(
        pl.col("cluster_size").fill_null(1),
        pl.col("is_canonical").fill_null(True),
        pl.col("canonical_id").fill_null(pl.col("paragraph_id")),
        pl.col("canonical_doc_id").fill_null(pl.col("doc_id")),
        # a cluster's rows always have their count, so a null is a singleton's
        pl.col("cluster_outlets").fill_null((pl.col("outlet") != "").fill_null(False).cast(pl.Int32)),
    ).cast(CLUSTER_COLUMNS)
    if "earlier_ids" in filled.columns:
        filled = filled.with_columns(pl.col("earlier_ids").fill_null(pl.lit([], dtype=pl.List(pl.String))))
    return filled
