"""Clusters: connected components of verified links, each with one canonical paragraph.

The link graph (paragraphs as nodes, ``exact``/``near``/``contained`` links as edges) is split into
connected components with ``scipy.sparse.csgraph.connected_components`` (linear in nodes + edges). The
canonical paragraph of a component is its first in canonical order (earliest date, then source path,
record offset, paragraph index), so cluster ids (xxh64 of the canonical paragraph id) do not depend on
input order. ``similarity`` is the Jaccard of a member's direct link to the canonical copy (1.0 for the
canonical itself and exact copies) and null when the two are related only through other members, or
when the paragraph is in no cluster.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import xxhash
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..schema import CLUSTER_COLUMNS
from .exact import CANONICAL_ORDER, canonical_sort


def components(paragraph_ids: pl.Series, links: pl.DataFrame) -> np.ndarray:
    """Connected-component label of each of ``paragraph_ids`` in the undirected graph of ``links``
    (columns ``left_id``, ``right_id``); components are numbered in order of their first member."""
    nodes = pl.DataFrame({"paragraph_id": paragraph_ids}).with_row_index("_node")
    edges = (links.select("left_id", "right_id")
             .join(nodes.rename({"paragraph_id": "left_id", "_node": "_l"}), on="left_id")
             .join(nodes.rename({"paragraph_id": "right_id", "_node": "_r"}), on="right_id"))
    n = nodes.height
    graph = coo_matrix((np.ones(edges.height, dtype=np.int8),
                        (edges["_l"].to_numpy().astype(np.int64), edges["_r"].to_numpy().astype(np.int64))),
                       shape=(n, n))
    return connected_components(graph, directed=False)[1]


def linked_paragraphs(paragraphs: pl.DataFrame, links: pl.DataFrame) -> pl.DataFrame:
    """The rows of ``paragraphs`` that are an end of some link (columns ``left_id``, ``right_id``)."""
    touched = pl.concat([links["left_id"], links["right_id"]]).unique()
    return paragraphs.filter(pl.col("paragraph_id").is_in(touched.implode()))


def assign_clusters(paragraphs: pl.DataFrame, links: pl.DataFrame, order: list[str] = CANONICAL_ORDER) -> pl.DataFrame:
    """Add the cluster columns of :data:`corpusclean.schema.CLUSTER_COLUMNS` to ``paragraphs``.

    Singletons get ``cluster_id`` null, size 1, and are their own canonical. Components are computed
    on the paragraphs some link touches only; the others get the singleton values by expression, so
    the corpus-wide frame is copied once, by the final join (at 1M paragraphs the sort, windows and
    string joins over every row took about 0.5 GB more).
    ``order`` names the columns of the canonical order (see :func:`~corpusclean.dedup.exact.canonical_sort`).

    Example:
        >>> p = pl.DataFrame({"paragraph_id": ["a-1", "b-1", "c-1"], "doc_id": ["a", "b", "c"],
        ...                   "outlet": ["A", "B", ""], "date": ["2026-01-02", "2026-01-01", None],
        ...                   "source_path": ["a", "b", "c"], "record_offset": [0, 0, 0], "para_idx": [1, 1, 1]})
        >>> links = pl.DataFrame({"left_id": ["b-1"], "right_id": ["a-1"], "jaccard": [0.9]})
        >>> assign_clusters(p, links).select("paragraph_id", "cluster_size", "canonical_id", "similarity").rows()
        [('a-1', 2, 'b-1', 0.9), ('b-1', 2, 'b-1', 1.0), ('c-1', 1, 'c-1', None)]
    """
    if paragraphs.is_empty():
        return paragraphs.with_columns(*(pl.lit(None, dtype=t).alias(c) for c, t in CLUSTER_COLUMNS.items()))
    members = linked_paragraphs(paragraphs, links).select("paragraph_id", "doc_id", "outlet", *order)
    ordered = canonical_sort(members, order)
    labels = components(ordered["paragraph_id"], links)
    # nodes are numbered in canonical order, so the smallest node of each component is its canonical
    ordered = ordered.with_columns(pl.Series("_component", labels))
    ordered = ordered.with_columns(
        pl.col("paragraph_id").first().over("_component").alias("canonical_id"),
        pl.col("doc_id").first().over("_component").alias("canonical_doc_id"),
        pl.len().over("_component").cast(pl.Int32).alias("cluster_size"),
        pl.col("outlet").filter(pl.col("outlet") != "").n_unique().over("_component").cast(pl.Int32)
        .alias("cluster_outlets"),
    )
    direct = pl.concat([
        links.select(pl.col("left_id").alias("canonical_id"), pl.col("right_id").alias("paragraph_id"), "jaccard"),
        links.select(pl.col("right_id").alias("canonical_id"), pl.col("left_id").alias("paragraph_id"), "jaccard"),
    ]).group_by("canonical_id", "paragraph_id").agg(pl.col("jaccard").max())
    ordered = ordered.join(direct, on=["canonical_id", "paragraph_id"], how="left")
    canonical_ids = ordered.filter(pl.col("cluster_size") > 1)["canonical_id"].unique().sort().to_list()
    cluster_ids = pl.DataFrame({"canonical_id": canonical_ids,
                                "cluster_id": [xxhash.xxh64_hexdigest(pid.encode()) for pid in canonical_ids]},
                               schema={"canonical_id": pl.String, "cluster_id": pl.String})
    is_canonical = pl.col("paragraph_id") == pl.col("canonical_id")
    clustered = ordered.join(cluster_ids, on="canonical_id", how="left").with_columns(
        is_canonical.alias("is_canonical"),
        pl.when(pl.col("cluster_size") == 1).then(None)
        .when(is_canonical).then(1.0).otherwise(pl.col("jaccard")).alias("similarity"),
    ).select("paragraph_id", *CLUSTER_COLUMNS)
    singleton = pl.col("cluster_size").is_null()
    return paragraphs.join(clustered, on="paragraph_id", how="left", maintain_order="left").with_columns(
        pl.col("cluster_size").fill_null(1),
        pl.col("is_canonical").fill_null(True),
        pl.col("canonical_id").fill_null(pl.col("paragraph_id")),
        pl.col("canonical_doc_id").fill_null(pl.col("doc_id")),
        pl.when(singleton).then((pl.col("outlet") != "").fill_null(False).cast(pl.Int32))
        .otherwise(pl.col("cluster_outlets"))
        .alias("cluster_outlets"),
    ).select(*paragraphs.columns, *CLUSTER_COLUMNS).cast(CLUSTER_COLUMNS)
