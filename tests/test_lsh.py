"""Banding LSH: parameters, bucketing, and recall/precision against brute-force exact Jaccard."""

from __future__ import annotations


import numpy as np
import polars as pl
import pytest

from corpusclean.dedup.lsh import (
    band_hashes,
    candidate_pairs,
    candidate_probability,
    near_duplicate_pairs,
    optimal_bands,
)
from tests.conftest import load_benchmark_module
from corpusclean.dedup.minhash import jaccard_pairs, signatures
from corpusclean.dedup.shingles import shingle_hashes


def _load_generator():
    return load_benchmark_module("synthetic_paragraphs")


def test_optimal_bands_reuses_datasketch_search():
    assert optimal_bands(0.8, 128, 0.5, 0.5) == (9, 13)  # datasketch MinHashLSH's own choice
    b, r = optimal_bands(0.8, 128)
    assert b * r <= 128
    # Recall-tilted defaults: a pair at the threshold is a candidate far more often than 0.5/0.5's 0.40.
    assert candidate_probability(0.8, b, r) > 0.85 > candidate_probability(0.8, 9, 13)


def test_band_hashes_equal_bands_collide_and_frame_shape():
    sig = np.array([[1, 2, 3, 4, 5], [1, 2, 9, 9, 5], [7, 7, 3, 4, 5]], dtype=np.uint32)
    frame = band_hashes(sig, b=2, r=2)
    assert frame.schema == pl.Schema({"row": pl.UInt32, "band": pl.UInt16, "band_hash": pl.UInt64})
    assert frame.height == 6
    by_band = {band: dict(zip(g["row"], g["band_hash"])) for (band,), g in frame.group_by("band")}
    assert by_band[0][0] == by_band[0][1] != by_band[0][2]
    assert by_band[1][0] == by_band[1][2] != by_band[1][1]
    # A row selection bands only those rows, labelled with their indices, with the same hashes.
    subset = band_hashes(sig, b=2, r=2, rows=np.array([2, 0]))
    assert subset["row"].to_list() == [2, 0, 2, 0]
    assert subset.filter(pl.col("band") == 1)["band_hash"].to_list() == [by_band[1][2], by_band[1][0]]
    with pytest.raises(ValueError):
        band_hashes(sig, b=3, r=2)


def test_candidate_pairs_dedups_across_bands_and_stars_huge_buckets():
    rows = [0, 1, 2, 0, 1, 3, 4, 5, 6, 7]
    bands = [0, 0, 0, 1, 1, 2, 2, 2, 2, 2]
    hashes = [9, 9, 9, 4, 4, 1, 1, 1, 1, 1]
    frame = pl.DataFrame(
        {"row": rows, "band": bands, "band_hash": hashes},
        schema={"row": pl.UInt32, "band": pl.UInt16, "band_hash": pl.UInt64},
    )
    assert candidate_pairs(frame).rows() == [
        (0, 1), (0, 2), (1, 2), (3, 4), (3, 5), (3, 6), (3, 7), (4, 5), (4, 6), (4, 7), (5, 6), (5, 7), (6, 7),
    ]
    # Bucket {3..7} has 5 > 4 members: only its hub (row 3) is paired; the small buckets are untouched.
    starred = candidate_pairs(frame, max_bucket_size=4).rows()
    assert starred == [(0, 1), (0, 2), (1, 2), (3, 4), (3, 5), (3, 6), (3, 7)]


@pytest.fixture(scope="module")
def corpus():
    # A third of the texts are planted copies so that ~100 pairs sit above the threshold.
    generated = _load_generator().make_corpus(2400, planted_fraction=0.3, seed=5)
    offsets, hashes = shingle_hashes(generated.texts)
    return generated, offsets, hashes, signatures(offsets, hashes, num_perm=128, seed=1)


@pytest.fixture(scope="module")
def all_pairs_jaccard(corpus):
    """Brute force: exact Jaccard of all 2.9 M pairs (one linear merge each)."""
    _, offsets, hashes, _ = corpus
    left, right = np.triu_indices(offsets.shape[0] - 1, k=1)
    return left, right, jaccard_pairs(offsets, hashes, left, right)[0]


def _truth(all_pairs_jaccard, threshold):
    left, right, jaccard = all_pairs_jaccard
    keep = jaccard >= threshold
    return set(zip(left[keep].tolist(), right[keep].tolist()))


@pytest.mark.parametrize("threshold", [0.7, 0.8])
def test_recall_and_precision_against_brute_force(corpus, all_pairs_jaccard, threshold):
    generated, offsets, hashes, sig = corpus
    truth = _truth(all_pairs_jaccard, threshold)
    all_jaccard = all_pairs_jaccard[2]
    assert len(truth) >= 80
    # The generator's claim: only planted pairs are similar.
    planted = set(map(tuple, generated.pairs.tolist()))
    assert truth <= planted
    assert np.sort(all_jaccard)[-len(planted) - 1] < 0.1

    found = near_duplicate_pairs(offsets, hashes, sig, threshold)
    assert found.columns == ["left", "right", "jaccard", "containment_lr", "containment_rl"]
    pairs = set(found.select("left", "right").rows())
    assert pairs <= truth  # precision 1.0: verification is exact
    assert (found["jaccard"] >= threshold).all()
    recall = len(pairs & truth) / len(truth)
    b, r = optimal_bands(threshold, 128)
    # Expected recall over these pairs is ~0.97-0.99; 0.9 leaves room for MinHash variance.
    assert recall >= 0.9, (recall, b, r)


def test_datasketch_default_weights_recall_less(corpus, all_pairs_jaccard):
    _, offsets, hashes, sig = corpus
    truth = _truth(all_pairs_jaccard, 0.8)
    ours = set(near_duplicate_pairs(offsets, hashes, sig, 0.8).select("left", "right").rows())
    balanced = set(
        near_duplicate_pairs(offsets, hashes, sig, 0.8, bands=optimal_bands(0.8, 128, 0.5, 0.5))
        .select("left", "right")
        .rows()
    )
    assert len(ours & truth) >= len(balanced & truth)


def test_empty_texts_are_never_paired():
    texts = ["", "...", "", "one two three four five six", "one two three four five six"]
    offsets, hashes = shingle_hashes(texts)
    found = near_duplicate_pairs(offsets, hashes, signatures(offsets, hashes), 0.5)
    assert found.select("left", "right").rows() == [(3, 4)]
    assert found.schema["left"] == pl.UInt32 and found.schema["jaccard"] == pl.Float64


def test_no_candidates_gives_empty_typed_frame():
    for texts in ([], ["alpha beta gamma delta epsilon", "zeta eta theta iota kappa"]):
        offsets, hashes = shingle_hashes(texts)
        found = near_duplicate_pairs(offsets, hashes, signatures(offsets, hashes), 0.8)
        assert found.height == 0 and found.schema["left"] == pl.UInt32


def test_exact_duplicates_beyond_bucket_cap_stay_connected():
    texts = ["breaking news the minister said on tuesday that taxes will rise"] * 30 + ["unrelated words here"]
    offsets, hashes = shingle_hashes(texts)
    found = near_duplicate_pairs(offsets, hashes, signatures(offsets, hashes), 0.8, max_bucket_size=10)
    assert found.select("left", "right").rows() == [(0, i) for i in range(1, 30)]
