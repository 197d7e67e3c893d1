"""Fingerprints: what phase B needs of a paragraph, computed in phase A beside the text.

Per kept paragraph, from the match key of its text (:func:`~corpusclean.text.normalize.match_key`:
NFKC, quotes and dashes folded, so ``½`` and ``1⁄2``, ``“quoted”`` and ``"quoted"`` shingle alike;
the key is recomputed here from the stored text, a pure function of it): its sorted unique shingle
hashes (``shingles``, for exact Jaccard and containment)
and the hashes of its MinHash signature's LSH bands (``band_00`` … one uint64 column per band, so phase
B can read one band at a time). The signature itself (``num_perm`` uint32 values) is computed and
banded here but not stored: phase B and ``--against`` use only the bands, and storing it made
``fingerprints.parquet`` 37 % larger (44 of 120 MiB for 50 MB of text, benchmarks/crawl.py). Computing them in
the phase-A workers spreads the work over all cores and lets phase B run on these columns alone,
never on the corpus text; the stored signatures and band hashes are also what an incremental run
(``--against``) links new paragraphs against.

Example:
    >>> import polars as pl
    >>> p = pl.DataFrame({"paragraph_id": ["a-0"], "text": ["one two three four five six"]})
    >>> table = fingerprint_table(p, {"shingle_size": 5, "num_perm": 16, "minhash_seed": 1, "near_threshold": 0.8})
    >>> table.columns[:3], table["shingles"].list.len().item()
    (['paragraph_id', 'shingles', 'band_00'], 2)
"""

from __future__ import annotations

import unicodedata
from typing import Any

import numpy as np
import polars as pl

from ..schema import list_series
from ..text.normalize import match_key
from .lsh import band_hashes, optimal_bands
from .minhash import signatures
from .shingles import shingle_hashes


def band_params(dedup: dict[str, Any]) -> tuple[int, int]:
    """``(b, r)`` of the LSH for the ``[dedup]`` config (datasketch's search, weighted to recall)."""
    return optimal_bands(dedup["near_threshold"], dedup["num_perm"])


def band_names(b: int) -> list[str]:
    """The names of ``b`` band-hash columns."""
    return [f"band_{k:02d}" for k in range(b)]


def band_columns(dedup: dict[str, Any]) -> list[str]:
    return band_names(band_params(dedup)[0])


def shingle_list(offsets: np.ndarray, hashes: np.ndarray) -> pl.Series:
    """Per-text hash arrays as one polars ``List(UInt32)`` column, without a Python loop."""
    return list_series(offsets, hashes.astype(np.uint32)).alias("shingles")


def list_to_arrays(column: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """A ``List(UInt32)`` column back to ``(offsets int64, hashes uint64)`` for the numba kernels."""
    lengths = column.list.len().fill_null(0).to_numpy().astype(np.int64)
    offsets = np.zeros(lengths.shape[0] + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    hashes = column.explode().drop_nulls().to_numpy().astype(np.uint64)
    return offsets, hashes


def shingle_text(text: str) -> str:
    """What to shingle for a stored ``text``: its match key, or the text itself where the two have
    the same shingles: printable (no control, zero-width or odd space), already NFKC, and spaced
    (word shingles: the key only maps quotes and dashes, which are no word characters). That is
    most non-ASCII prose (curly quotes, dashes), for 2 µs instead of the key's 15-30 µs.

    >>> shingle_text("“It’s” — done"), shingle_text("½ m²")
    ('“It’s” — done', '1⁄2 m2')
    """
    if (not text.isascii() and text.isprintable() and text.count(" ") * 20 >= len(text)
            and unicodedata.is_normalized("NFKC", text)):
        return text
    return match_key(text)


def fingerprint_table(paragraphs: pl.DataFrame, dedup: dict[str, Any],
                      bands: tuple[int, int] | None = None) -> pl.DataFrame:
    """Fingerprints of ``paragraphs`` (columns ``paragraph_id``, ``text``), row for row; ``bands`` is
    :func:`band_params` of ``dedup``, when the caller has it already. Shingles are those of each
    text's match key."""
    offsets, hashes = shingle_hashes([shingle_text(text) for text in paragraphs["text"].to_list()],
                                     n=dedup["shingle_size"])
    sigs = signatures(offsets, hashes, num_perm=dedup["num_perm"], seed=dedup["minhash_seed"])
    b, r = bands or band_params(dedup)
    n = sigs.shape[0]
    hashed = band_hashes(sigs, b, r)["band_hash"].to_numpy().reshape(b, n) if n else np.empty((b, 0), np.uint64)
    columns = {"paragraph_id": paragraphs["paragraph_id"], "shingles": shingle_list(offsets, hashes)}
    columns.update({name: pl.Series(name, hashed[k], dtype=pl.UInt64) for k, name in enumerate(band_names(b))})
    return pl.DataFrame(columns)
