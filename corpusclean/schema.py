"""Column schemas of the output tables: one place that names every column and its type.

``documents`` one row per input page, ``paragraphs`` one per kept paragraph, ``removed`` one per
stripped span, ``links`` one per verified pair of paragraphs, ``errors`` one per input that failed.
"""

from __future__ import annotations

import itertools
import json
from typing import Any, Iterable

import numpy as np
import polars as pl
import pyarrow as pa

DOCUMENTS: dict[str, pl.DataType] = {
    "doc_id": pl.String, "source_path": pl.String, "record_offset": pl.Int64, "source_hash": pl.String,
    "format": pl.String, "container": pl.String, "encoding": pl.String, "encoding_evidence": pl.String,
    "outlet": pl.String, "outlet_source": pl.String, "url": pl.String, "title": pl.String,
    "date": pl.String, "author": pl.String, "sitename": pl.String, "text": pl.String,
    "n_paragraphs": pl.Int32, "n_removed": pl.Int32, "n_chars": pl.Int32, "config_hash": pl.String,
}

PARAGRAPHS: dict[str, pl.DataType] = {
    "paragraph_id": pl.String, "doc_id": pl.String, "para_idx": pl.Int32, "is_title": pl.Boolean,
    "text": pl.String, "char_start": pl.Int32, "char_end": pl.Int32, "source_units": pl.List(pl.Int32),
    "n_words": pl.Int32, "exact_hash": pl.UInt64, "source_path": pl.String, "record_offset": pl.Int64,
    "outlet": pl.String, "date": pl.String, "config_hash": pl.String,
}

# Columns phase B adds to paragraphs.
CLUSTER_COLUMNS: dict[str, pl.DataType] = {
    "cluster_id": pl.String, "cluster_size": pl.Int32, "is_canonical": pl.Boolean,
    "canonical_id": pl.String, "canonical_doc_id": pl.String, "similarity": pl.Float64,
    "cluster_outlets": pl.Int32,
}

# The tables as phase B writes them: ``date`` a Parquet date (phase A keeps the ISO text, which sorts
# the same); ``earlier_ids`` names paragraphs of earlier outputs (``--against``) this one repeats.
FINAL_DOCUMENTS: dict[str, pl.DataType] = {**DOCUMENTS, "date": pl.Date}
FINAL_PARAGRAPHS: dict[str, pl.DataType] = {**PARAGRAPHS, "date": pl.Date, **CLUSTER_COLUMNS,
                                            "earlier_ids": pl.List(pl.String)}

# ``unit_idx`` is the line of the extracted text the span was on (the units of
# :mod:`corpusclean.text.segment`), null for spans cut before segmentation (a date prefix);
# ``char_start``/``char_end`` are offsets in that line.
REMOVED: dict[str, pl.DataType] = {
    "doc_id": pl.String, "source_path": pl.String, "unit_idx": pl.Int32, "char_start": pl.Int32,
    "char_end": pl.Int32, "text": pl.String, "reason": pl.String, "stage": pl.String, "outlet": pl.String,
}

# Removed spans as phase B writes them: a ``template`` removal keeps its evidence (pages holding the
# passage, distinct contexts around it, outlets printing it; see :mod:`corpusclean.dedup.templates`),
# null for rule removals.
TEMPLATE_EVIDENCE: dict[str, pl.DataType] = {
    "evidence_docs": pl.Int32, "evidence_contexts": pl.Int32, "evidence_outlets": pl.Int32,
}
FINAL_REMOVED: dict[str, pl.DataType] = {**REMOVED, **TEMPLATE_EVIDENCE}
# Integer columns of the final tables that hold nulls: pandas reads them as its nullable integers
# (see :func:`pandas_metadata`), not as floats.
NULLABLE_INTEGERS = {"removed": ["unit_idx", *TEMPLATE_EVIDENCE],
                     "links": ["left_start", "left_end", "right_start", "right_end"], "reprints": ["lag_days"]}

LINKS: dict[str, pl.DataType] = {
    "left_id": pl.String, "right_id": pl.String, "left_doc_id": pl.String, "right_doc_id": pl.String,
    "kind": pl.String, "jaccard": pl.Float64, "containment_left": pl.Float64, "containment_right": pl.Float64,
}

# Links as the final write stores them: a ``contained`` link gets the character span of the shared
# passage in each paragraph's ``text`` (end exclusive; :mod:`corpusclean.dedup.spans`), null for
# ``exact`` and ``near`` links, whose whole paragraphs are the passage. Kept apart from ``LINKS``,
# which phase B casts its link frames to before the text is read.
FINAL_LINKS: dict[str, pl.DataType] = {
    **LINKS, "left_start": pl.Int32, "left_end": pl.Int32, "right_start": pl.Int32, "right_end": pl.Int32,
}

# One row per pair of documents sharing text (:mod:`corpusclean.dedup.reprints`): ``earlier_*`` is the
# canonically earlier document (the source), ``later_*`` the reprint; ``*_share`` the fraction of each
# document's paragraph characters in the shared paragraphs; ``lag_days`` null when either is undated;
# ``*_in_output`` false for a document of an earlier output (``--against``).
REPRINTS: dict[str, pl.DataType] = {
    "earlier_doc_id": pl.String, "later_doc_id": pl.String, "earlier_outlet": pl.String, "later_outlet": pl.String,
    "earlier_date": pl.Date, "later_date": pl.Date, "earlier_shared_paragraphs": pl.Int32,
    "later_shared_paragraphs": pl.Int32, "earlier_share": pl.Float64, "later_share": pl.Float64,
    "exact_pairs": pl.Int32, "near_pairs": pl.Int32, "contained_pairs": pl.Int32, "kinds": pl.String,
    "ordered_by": pl.String, "lag_days": pl.Int32, "same_outlet": pl.Boolean,
    "earlier_in_output": pl.Boolean, "later_in_output": pl.Boolean,
}

ERRORS: dict[str, pl.DataType] = {
    "doc_id": pl.String, "source_path": pl.String, "record_offset": pl.Int64, "stage": pl.String,
    "error_type": pl.String, "message": pl.String,
}


def pandas_metadata(schema: dict[str, pl.DataType], nullable: Iterable[str]) -> dict[bytes, bytes]:
    """Arrow schema metadata that makes ``pandas.read_parquet`` read the integer columns ``nullable``
    of ``schema`` as pandas' nullable integers (``Int32``, ...), not as floats when they hold nulls,
    the way pandas itself records such a frame; polars, duckdb and datasets ignore it.

    Example:
        >>> json.loads(pandas_metadata({"a": pl.Int32, "b": pl.String}, ["a"])[b"pandas"])["columns"][0]["numpy_type"]
        'Int32'
    """
    columns = [{"name": name, "field_name": name, "pandas_type": str(schema[name]).lower(),
                "numpy_type": str(schema[name]), "metadata": None} for name in nullable if schema[name].is_integer()]
    return {b"pandas": json.dumps({"index_columns": [], "column_indexes": [], "columns": columns}).encode()}


def frame(rows: Iterable[dict[str, Any]], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Rows (dicts) to a DataFrame with exactly ``schema``'s columns, in its order, even when empty.

    Built column by column: polars builds a list column from Python lists one Series per row, which
    was three quarters of the time for phase A's paragraphs; :func:`int32_lists` does it from flat
    arrays instead.

    Example:
        >>> frame([{"a": 1, "b": [1, 2]}, {"a": 2, "b": []}], {"a": pl.Int64, "b": pl.List(pl.Int32)}).rows()
        [(1, [1, 2]), (2, [])]
    """
    rows = list(rows)
    if not rows:
        return pl.DataFrame(schema=schema)
    if isinstance(rows[0], (list, tuple)):
        return pl.DataFrame(rows, schema=schema, orient="row")
    columns = []
    for name, dtype in schema.items():
        values = [row[name] for row in rows]
        if dtype == pl.List(pl.Int32):
            columns.append(int32_lists(values).alias(name))
        else:
            columns.append(pl.Series(name, values, dtype=dtype))
    return pl.DataFrame(columns)


def int32_lists(values: list[list[int]]) -> pl.Series:
    """A ``List(Int32)`` Series from Python lists of ints (no nulls), through flat arrays."""
    lengths = np.fromiter((len(value) for value in values), dtype=np.int32, count=len(values))
    offsets = np.zeros(len(values) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.fromiter(itertools.chain.from_iterable(values), dtype=np.int32, count=int(offsets[-1]))
    return list_series(offsets, flat)


def list_series(offsets: np.ndarray, values: np.ndarray) -> pl.Series:
    """A polars list Series from CSR arrays: row ``i`` is ``values[offsets[i]:offsets[i + 1]]``.

    Built from raw buffers, not ``pa.array(ndarray)``, which imports pandas when it is installed
    (0.17 s in every phase-A worker). ``values`` keeps its numeric type.

    Example:
        >>> list_series(np.array([0, 1, 3]), np.array([5, 6, 7], dtype=np.uint32)).to_list()
        [[5], [6, 7]]
    """
    offsets = np.ascontiguousarray(offsets, dtype=np.int32)
    values = np.ascontiguousarray(values)
    value_type = pa.from_numpy_dtype(values.dtype)
    children = pa.Array.from_buffers(value_type, len(values), [None, pa.py_buffer(values)])
    array = pa.ListArray.from_buffers(pa.list_(value_type), len(offsets) - 1, [None, pa.py_buffer(offsets)],
                                      children=[children])
    return pl.Series(pl.from_arrow(array))
