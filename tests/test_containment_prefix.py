"""Prefix-filtered containment candidates (corpusclean.dedup.containment) equal the exhaustive method's.

Both methods run side by side, in memory (``containment_pairs(method=...)``) and through phase B's
``_contained_pairs`` on Parquet parts (hash partitions, ``containment_sample_mod``, an incremental run
with old and new parts), on generated paragraphs with planted quotes and heavy common phrases, on
hand-made sets at the thresholds, and on real news text when ``../shared/allsides-dev`` is present.
"""

from __future__ import annotations

import gzip
import itertools
import json

import numpy as np
import polars as pl
import pytest

from corpusclean.dedup import phase_b
from corpusclean.dedup.containment import containment_pairs, least_for_containment
from corpusclean.dedup.fingerprints import shingle_list
from corpusclean.dedup.shingles import shingle_hashes
from corpusclean.text.normalize import normalize
from tests.conftest import SHARED

ALLSIDES = SHARED / "allsides-dev" / "allsides-dev.jsonl.gz"


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort("left", "right")


def _both(offsets, hashes, groups, **kwargs) -> pl.DataFrame:
    """Both methods' pairs, asserted equal (pairs and measures); the pairs."""
    exhaustive = _sorted(containment_pairs(offsets, hashes, groups, method="exhaustive", **kwargs))
    prefix = _sorted(containment_pairs(offsets, hashes, groups, method="prefix", **kwargs))
    assert prefix.equals(exhaustive), (kwargs, prefix.height, exhaustive.height)
    return prefix


def _csr(sets: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(sets) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(set(s)) for s in sets])
    if not sets:
        return offsets, np.zeros(0, dtype=np.uint64)
    hashes = np.concatenate([np.array(sorted(set(s)), dtype=np.uint64) for s in sets])
    return offsets, hashes


# --- the float bound -------------------------------------------------------------------------------


@pytest.mark.parametrize("c", [0.0, 0.1, 1 / 3, 0.45, 0.5, 0.7, 0.9999, 1.0, 1.2, -0.5])
def test_least_for_containment_is_the_least_k_by_the_float_test(c):
    sizes = np.arange(0, 400)
    got = least_for_containment(sizes, c)
    for n, k in zip(sizes.tolist(), got.tolist()):
        if n == 0:
            assert k == 0
            continue
        want = next((j for j in range(n + 1) if j / n >= c), n + 1)
        assert k == want, (n, c, k, want)


# --- generated paragraphs --------------------------------------------------------------------------


def _generated(seed: int, n_docs: int = 150) -> tuple[list[str], np.ndarray]:
    """Paragraphs of random words, with quotes of other documents' paragraphs planted (whole, cut,
    re-wrapped, lightly edited) and common phrases in many paragraphs (some in more than
    ``max_posting``), so that pairs sit on both sides of every threshold."""
    rng = np.random.default_rng(seed)
    vocabulary = [f"w{i}" for i in range(3000)]
    phrases = [" ".join(rng.choice(vocabulary, size=int(rng.integers(5, 9)))) for _ in range(40)]
    texts, docs = [], []
    for doc in range(n_docs):
        for _ in range(int(rng.integers(2, 7))):
            words = list(rng.choice(vocabulary, size=int(rng.integers(1, 70))))
            for _ in range(int(rng.poisson(1.5))):  # common phrases: heavy df, some over max_posting
                phrase = phrases[min(int(rng.zipf(1.6)) - 1, len(phrases) - 1)]
                at = int(rng.integers(0, len(words) + 1))
                words[at:at] = phrase.split()
            if texts and rng.random() < 0.35:  # a quote of an earlier paragraph
                source = texts[int(rng.integers(0, len(texts)))].split()
                start = int(rng.integers(0, max(1, len(source) - 5)))
                quote = source[start:start + int(rng.integers(3, 40))]
                if rng.random() < 0.3 and len(quote) > 6:  # an edit inside the quote
                    quote[int(rng.integers(0, len(quote)))] = str(rng.choice(vocabulary))
                at = int(rng.integers(0, len(words) + 1))
                words[at:at] = quote
            texts.append(" ".join(words))
            docs.append(doc)
    return texts, np.array(docs)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_generated_paragraphs_with_quotes_and_common_phrases(seed):
    texts, docs = _generated(seed)
    offsets, hashes = shingle_hashes(texts, n=5)
    found = 0
    for min_containment, min_shared, max_posting in itertools.product([0.45, 0.8, 0.2], [8, 3, 12], [64, 6]):
        pairs = _both(offsets, hashes, docs, min_containment=min_containment, min_shared=min_shared,
                      max_posting=max_posting)
        found += pairs.height
    assert found > 100  # the cases are not vacuous


@pytest.mark.parametrize("sample_mod", [2, 3, 4])
def test_generated_paragraphs_sampled(sample_mod):
    texts, docs = _generated(7)
    offsets, hashes = shingle_hashes(texts, n=5)
    for min_shared, max_posting in [(8, 64), (4, 5), (16, 64)]:
        _both(offsets, hashes, docs, min_containment=0.45, min_shared=min_shared, max_posting=max_posting,
              sample_mod=sample_mod)


def test_random_integer_sets_against_every_threshold():
    rng = np.random.default_rng(11)
    for case in range(60):
        n_texts = int(rng.integers(2, 60))
        universe = int(rng.integers(5, 400))
        sets = [list(rng.integers(0, universe, size=int(rng.integers(0, 40)))) for _ in range(n_texts)]
        offsets, hashes = _csr(sets)
        groups = rng.integers(0, max(2, n_texts // 2), size=n_texts)
        is_new = rng.random(n_texts) < 0.5 if case % 3 == 0 else None
        _both(offsets, hashes, groups, min_containment=float(rng.choice([0.0, 0.3, 0.45, 0.6, 1.0])),
              min_shared=int(rng.integers(1, 12)), max_posting=int(rng.integers(2, 12)),
              sample_mod=int(rng.choice([1, 1, 2, 3])), is_new=is_new)


# --- edge cases ------------------------------------------------------------------------------------


def test_tiny_sets():
    # texts of one to three shingles, empty texts, a pair of identical single shingles
    sets = [[1], [1], [1, 2], [1, 2, 3], [], [2, 3], [3], [], [1, 2, 3]]
    offsets, hashes = _csr(sets)
    groups = np.arange(len(sets))
    for min_shared in (1, 2, 3, 4):
        pairs = _both(offsets, hashes, groups, min_containment=0.5, min_shared=min_shared, max_posting=64)
        assert min_shared > 3 or pairs.height > 0
    assert _both(*_csr([[], []]), np.array([0, 1]), min_shared=1).is_empty()
    assert _both(*_csr([]), np.zeros(0, dtype=np.int64), min_shared=1).is_empty()


def test_sets_exactly_at_the_required_overlap():
    """Overlaps at and one below ``min_shared``, and reduced overlaps at and one below ``least`` when
    the rest of the overlap sits in hashes over ``max_posting`` (found only through the slack)."""
    common = list(range(1000, 1010))  # ten hashes in every text below: df > max_posting
    filler = [list(range(5000 + 100 * i, 5000 + 100 * i + 40)) for i in range(20)]
    base = list(range(100, 120))
    sets = [
        base[:8],                                   # 0: 8 hashes
        base[:8] + filler[0],                       # 1: holds all of 0: overlap 8 = min_shared
        base[:7] + filler[1],                       # 2: overlap 7 with 0 and 1: one short
        base[10:14] + common + filler[2][:2],       # 3: 4 rare + 10 frequent shared with 4
        base[10:14] + common + filler[3],           # 4: reduced overlap with 3 = 4 = least
        base[15:18] + common + filler[4][:2],       # 5: 3 rare + 10 frequent shared with 6
        base[15:18] + common + filler[5],           # 6: reduced overlap 3 < least: not a candidate
    ] + [common + filler[6 + i][:3] for i in range(8)]  # enough holders to make `common` frequent
    offsets, hashes = _csr(sets)
    groups = np.arange(len(sets))
    pairs = _both(offsets, hashes, groups, min_containment=0.45, min_shared=8, max_posting=8)
    found = set(pairs.select("left", "right").rows())
    assert {(0, 1), (3, 4)} <= found
    assert (0, 2) not in found and (1, 2) not in found and (5, 6) not in found
    for min_shared in (7, 9, 14, 15):
        _both(offsets, hashes, groups, min_containment=0.45, min_shared=min_shared, max_posting=8)


def test_only_new_pairs_nothing_among_earlier_texts():
    texts, docs = _generated(3, n_docs=80)
    offsets, hashes = shingle_hashes(texts, n=5)
    rng = np.random.default_rng(3)
    is_new = rng.random(len(texts)) < 0.3
    pairs = _both(offsets, hashes, docs, min_containment=0.45, min_shared=4, max_posting=64, is_new=is_new)
    assert pairs.height > 0
    assert (is_new[pairs["left"].to_numpy()] | is_new[pairs["right"].to_numpy()]).all()


# --- phase B: Parquet parts, partitions, sampling, incremental -------------------------------------


def _phase_b_inputs(tmp_path, texts: list[str], docs: np.ndarray, new_from: int = 0):
    """Two parts (rows before ``new_from`` old when it is > 0) and the ``meta`` phase B builds."""
    offsets, hashes = shingle_hashes(texts, n=5)
    shingles = shingle_list(offsets, hashes)
    cut = new_from if new_from > 0 else len(texts) // 2
    parts = []
    for k, (start, stop) in enumerate([(0, cut), (cut, len(texts))]):
        path = tmp_path / f"fingerprints-{k}.parquet"
        pl.DataFrame({"shingles": shingles[start:stop]}).write_parquet(path)
        parts.append(phase_b.Part(paragraphs=path, fingerprints=path, new=not (new_from > 0 and k == 0)))
    is_new = np.arange(len(texts)) >= new_from
    words = np.array([len(t.split()) for t in texts])
    meta = pl.DataFrame({"row": np.arange(len(texts), dtype=np.uint32), "_doc": docs.astype(np.uint32),
                         "is_new": is_new, "_searched": is_new, "_eligible": words >= 3,  # no page comes again
                         "_representative": np.ones(len(texts), dtype=bool)})
    return parts, [0, cut], meta


def _phase_b_both(parts, part_offsets, meta, exclude, **dedup) -> pl.DataFrame:
    config = {"max_posting": 64, "partition_shingles": 20_000_000, "containment_sample_mod": 1,
              "min_shared_shingles": 8, "min_containment": 0.45, **dedup}
    exhaustive = _sorted(phase_b._contained_pairs(parts, part_offsets, meta, config, exclude, method="exhaustive"))
    prefix = _sorted(phase_b._contained_pairs(parts, part_offsets, meta, config, exclude, method="prefix"))
    assert prefix.equals(exhaustive), (dedup, prefix.height, exhaustive.height)
    return prefix


@pytest.mark.parametrize("dedup", [
    {},
    {"partition_shingles": 3000},                                  # several hash partitions
    {"containment_sample_mod": 2, "min_shared_shingles": 8},
    {"containment_sample_mod": 3, "partition_shingles": 2000},
    {"max_posting": 5, "min_shared_shingles": 5, "min_containment": 0.3},
])
def test_phase_b_contained_pairs(tmp_path, dedup):
    texts, docs = _generated(5, n_docs=120)
    parts, part_offsets, meta = _phase_b_inputs(tmp_path, texts, docs)
    rng = np.random.default_rng(5)
    exclude = rng.random(len(texts)) < 0.05  # templates
    meta = meta.with_columns(pl.Series("_representative", rng.random(len(texts)) < 0.95))
    pairs = _phase_b_both(parts, part_offsets, meta, exclude, **dedup)
    assert dedup or pairs.height > 20


@pytest.mark.parametrize("partition_shingles", [20_000_000, 2500])
def test_phase_b_incremental(tmp_path, partition_shingles):
    texts, docs = _generated(9, n_docs=120)
    parts, part_offsets, meta = _phase_b_inputs(tmp_path, texts, docs, new_from=len(texts) * 2 // 3)
    pairs = _phase_b_both(parts, part_offsets, meta, np.zeros(len(texts), dtype=bool),
                          partition_shingles=partition_shingles, min_shared_shingles=5)
    new = meta["is_new"].to_numpy()
    assert pairs.height > 0
    assert (new[pairs["left"].to_numpy()] | new[pairs["right"].to_numpy()]).all()


# --- real text -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def allsides_paragraphs() -> tuple[list[str], np.ndarray]:
    """Normalized paragraphs (lines) of the first 2,500 allsides-dev articles, as phase A keys them."""
    if not ALLSIDES.is_file():
        pytest.skip("../shared/allsides-dev is absent")
    texts, docs = [], []
    with gzip.open(ALLSIDES, "rt", encoding="utf-8") as handle:
        for doc, line in enumerate(itertools.islice(handle, 2500)):
            for paragraph in (json.loads(line).get("text") or "").split("\n"):
                paragraph = normalize(paragraph)
                if len(paragraph.split()) >= 3:
                    texts.append(paragraph)
                    docs.append(doc)
    return texts, np.array(docs)


def test_real_text_in_memory(allsides_paragraphs):
    texts, docs = allsides_paragraphs
    offsets, hashes = shingle_hashes(texts, n=5)
    pairs = _both(offsets, hashes, docs, min_containment=0.45, min_shared=8, max_posting=64)
    assert pairs.height > 200
    _both(offsets, hashes, docs, min_containment=0.45, min_shared=8, max_posting=16)
    _both(offsets, hashes, docs, min_containment=0.3, min_shared=5, max_posting=64, sample_mod=2)


def test_real_text_phase_b(tmp_path, allsides_paragraphs):
    texts, docs = allsides_paragraphs
    parts, part_offsets, meta = _phase_b_inputs(tmp_path, texts, docs, new_from=len(texts) // 2)
    exclude = np.zeros(len(texts), dtype=bool)
    assert _phase_b_both(parts, part_offsets, meta, exclude, partition_shingles=400_000).height > 50
    parts, part_offsets, meta = _phase_b_inputs(tmp_path, texts, docs)
    assert _phase_b_both(parts, part_offsets, meta, exclude).height > 200
