"""Frames kept to the end of a run own their strings (corpusclean/frames.py).

polars' strings are views into shared buffers, so a few rows filtered out of a large frame keep all
of its text alive; ``estimated_size`` does not show it. These tests measure the buffers themselves.
"""

from __future__ import annotations

import json

import numpy as np
import polars as pl

from corpusclean.dedup.phase_b import Part, link_corpus
from corpusclean.frames import owned_strings, string_buffer_bytes
from corpusclean.pipeline import _effective_config, run_extract
from tests.conftest import sample_corpus


def _own_bytes(frame: pl.DataFrame) -> int:
    """Bytes of the frame's own strings that a view cannot inline (longer than 12 bytes)."""
    lengths = [frame[name].str.len_bytes() for name, dtype in frame.schema.items() if dtype == pl.String]
    return sum(int(length.filter(length > 12).sum() or 0) for length in lengths)


def test_a_filtered_frame_keeps_the_large_one_s_text_and_a_copy_does_not():
    big = pl.DataFrame({"id": [f"{i:016x}-{i % 7:04d}" for i in range(50_000)],
                        "text": [None if i % 11 == 0 else f"the text of paragraph {i}, long enough" for i in range(50_000)],
                        "n": list(range(50_000))})
    few = big.filter(pl.col("n") % 1000 == 3)
    assert string_buffer_bytes(few) > 50 * _own_bytes(few)  # the whole of big's text
    owned = owned_strings(few)
    assert owned.equals(few) and owned.schema == few.schema  # values, nulls and types unchanged
    assert string_buffer_bytes(owned) <= _own_bytes(owned)
    assert owned["n"].to_list() == few["n"].to_list()
    empty = big.clear()
    assert owned_strings(empty).equals(empty)


def test_phase_b_s_result_holds_no_per_paragraph_text(tmp_path):
    """What phase B hands to the final write (held to the end of the run) owns its strings: before
    it did, its cluster rows held the id buffers of every paragraph of the corpus."""
    corpus = sample_corpus(tmp_path / "corpus")
    out = tmp_path / "out"
    record = run_extract([corpus], out, workers=1)
    dedup = _effective_config(record, None)[0]["dedup"]
    shards = out / "_work" / "shards"
    parts = [Part(shards / name / "paragraphs.parquet", shards / name / "fingerprints.parquet")
             for name in record["shards"]]
    linked = link_corpus(parts, dedup)
    assert linked.links.height > 0 and linked.meta.height > 0
    corpus_ids = sum(pl.scan_parquet(part.paragraphs).select(pl.col("paragraph_id").str.len_bytes().sum())
                     .collect().item() for part in parts)
    assert linked.meta.height < pl.concat([pl.read_parquet(p.paragraphs, columns=["paragraph_id"]) for p in parts]).height
    for name in ("meta", "links", "templates", "outlets"):
        frame = getattr(linked, name)
        assert string_buffer_bytes(frame) <= _own_bytes(frame), (name, json.dumps(
            {"buffers": string_buffer_bytes(frame), "own": _own_bytes(frame), "corpus_ids": corpus_ids}))


def test_phase_b_reads_no_ids_for_every_paragraph_and_finds_them_by_row(tmp_path):
    """The per-paragraph metadata holds numbers only (ids cost 58 of its 103 bytes a paragraph on
    allsides-dev grown 7x); :func:`_ids` reads the ids of the rows a step needs, from the parts."""
    from corpusclean.dedup.phase_b import _ids, _read_meta, part_lengths

    corpus = sample_corpus(tmp_path / "corpus")
    out = tmp_path / "out"
    config = tmp_path / "small-shards.toml"
    config.write_text("[run]\nshard_files = 3\n")  # several parts, so that rows cross part edges
    record = run_extract([corpus], out, config=config, workers=1)
    shards = out / "_work" / "shards"
    parts = [Part(shards / name / "paragraphs.parquet", shards / name / "fingerprints.parquet")
             for name in record["shards"]]
    meta = _read_meta(parts)
    assert pl.String not in meta.schema.dtypes() and string_buffer_bytes(meta) == 0
    everything = pl.concat([pl.read_parquet(part.paragraphs, columns=["paragraph_id", "doc_id"]) for part in parts])
    assert meta.height == everything.height == sum(part_lengths(parts)) and len(parts) > 1
    offsets = [0, *np.cumsum(part_lengths(parts))[:-1].tolist()]
    rows = np.array([meta.height - 1, 0, 5, 5, offsets[1], offsets[1] - 1])  # unsorted, repeated, part edges
    found = _ids(parts, offsets, rows)
    expected = sorted(set(rows.tolist()))
    assert found["row"].to_list() == expected
    assert found.select("paragraph_id", "doc_id").rows() == everything[expected].rows()
    assert _ids(parts, offsets, np.array([], dtype=np.int64)).is_empty()
