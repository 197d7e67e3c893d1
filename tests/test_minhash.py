"""Shingle hashing and MinHash signatures against their references: ``shingles`` + xxhash, datasketch."""

from __future__ import annotations


import datasketch
import numpy as np
import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import load_benchmark_module
from corpusclean.dedup.minhash import jaccard_exact, jaccard_pairs, permutations, signatures
from corpusclean.dedup import shingles as shingles_module
from corpusclean.dedup.shingles import _xxh32, shingle_hashes, shingles, tokenize


def _load_generator():
    return load_benchmark_module("synthetic_paragraphs")


EDGE_TEXTS = [
    "",
    "!!! ... ???",
    "one",
    "two words",
    "Straße GROSS ﬁne ǅemal",  # casefold changes lengths
    "東京都の天気は晴れ、気温は二十度です。",  # no spaces: character 5-grams
    "東京 都",  # too short for character mode
    "tab\tseparated\x1cwords\u3000ideographic space and more words",
    "x\u0301y caf\u00e9 na\u0308ive",  # combining marks split \w+ tokens
    "same same same same same same same same",  # repeated shingle
    "a lone \ud800 surrogate is encoded with surrogatepass",
]


@pytest.fixture(scope="module")
def paragraphs() -> list[str]:
    return _load_generator().make_corpus(2500, seed=11).texts + EDGE_TEXTS


def _reference_hashes(text: str, n: int = 5) -> np.ndarray:
    return np.array(sorted({xxhash.xxh32_intdigest(s.encode("utf-8", "surrogatepass")) for s in shingles(text, n)}),
                    dtype=np.uint64)


def test_shingle_definition():
    assert tokenize("Hello, World_2!") == ["hello", "world_2"]
    assert shingles("a b c d e f", 5) == ["a b c d e", "b c d e f"]
    assert shingles("A, b; C", 5) == ["a b c"]
    assert shingles("", 5) == [] and shingles("...", 5) == []
    assert shingles("東京都の天気", 3) == ["東京都", "京都の", "都の天", "の天気"]
    # One space per 20 characters or more keeps word shingles.
    assert shingles("ab " * 10, 5) == ["ab ab ab ab ab"] * 6
    # A Latin line of long handles has few spaces but is no spaceless script: word shingles, in
    # both implementations (as characters, such lines were linked as "contained" reuse on real news).
    handles = "Follow @politicaltickerFollow @DanaBashCNN"
    assert shingles(handles, 5) == ["follow politicaltickerfollow danabashcnn"]
    assert shingle_hashes([handles], 5)[1].tolist() == _reference_hashes(handles).tolist()


def test_shingle_hashes_match_reference(paragraphs):
    offsets, hashes = shingle_hashes(paragraphs)
    assert offsets.dtype == np.int64 and hashes.dtype == np.uint64
    assert offsets.shape == (len(paragraphs) + 1,)
    for i, text in enumerate(paragraphs):
        assert np.array_equal(hashes[offsets[i] : offsets[i + 1]], _reference_hashes(text)), text[:60]


def test_shingle_hashes_batches_like_one_call(paragraphs, monkeypatch):
    whole = shingle_hashes(paragraphs)
    monkeypatch.setattr(shingles_module, "_BATCH_BYTES", 5000)  # ~8 paragraphs per kernel call
    batched = shingle_hashes(paragraphs)
    assert np.array_equal(whole[0], batched[0]) and np.array_equal(whole[1], batched[1])
    assert shingle_hashes([])[0].tolist() == [0] and shingle_hashes([])[1].size == 0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(st.characters(codec="utf-8"), max_size=60), max_size=8), st.integers(1, 6))
def test_shingle_hashes_match_reference_on_any_unicode(texts, n):
    offsets, hashes = shingle_hashes(texts, n)
    for i, text in enumerate(texts):
        assert np.array_equal(hashes[offsets[i] : offsets[i + 1]], _reference_hashes(text, n))


def test_character_table_cache_is_the_built_table(tmp_path, monkeypatch):
    cache = tmp_path / "__pycache__" / "classes.npy"
    monkeypatch.setattr(shingles_module, "_char_classes_cache", lambda: cache)
    built = shingles_module._build_char_classes()
    shingles_module._char_classes.cache_clear()
    try:
        assert np.array_equal(shingles_module._char_classes(), built) and cache.is_file()  # built, then saved
        shingles_module._char_classes.cache_clear()
        assert np.array_equal(shingles_module._char_classes(), built)  # read back
        cache.write_bytes(b"torn")  # a bad file is rebuilt, not trusted
        shingles_module._char_classes.cache_clear()
        assert np.array_equal(shingles_module._char_classes(), built)
        assert np.array_equal(np.load(cache), built)
    finally:
        shingles_module._char_classes.cache_clear()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=80))
def test_xxh32_kernel_matches_xxhash(data):
    buf = np.frombuffer(b"pad" + data, dtype=np.uint8)
    assert int(_xxh32(buf, 3, buf.shape[0])) == xxhash.xxh32_intdigest(data)


@pytest.mark.parametrize("scheme", ["affine32", "legacy"])
@pytest.mark.parametrize("num_perm", [64, 128])
def test_permutations_match_datasketch(scheme, num_perm):
    a, b = permutations(num_perm, seed=7, scheme=scheme)
    theirs = datasketch.MinHash(num_perm, seed=7, scheme=scheme).permutations
    assert np.array_equal(a, theirs[0]) and np.array_equal(b, theirs[1])


@pytest.mark.parametrize("scheme", ["affine32", "legacy"])
@pytest.mark.parametrize("num_perm,seed", [(64, 1), (64, 7), (128, 1), (128, 7)])
def test_signatures_bit_identical_to_datasketch(paragraphs, num_perm, seed, scheme):
    offsets, hashes = shingle_hashes(paragraphs)
    ours = signatures(offsets, hashes, num_perm=num_perm, seed=seed, scheme=scheme)
    assert ours.shape == (len(paragraphs), num_perm) and ours.dtype == np.uint32
    # One permutation table shared by every MinHash: datasketch then skips redrawing it per object.
    template = datasketch.MinHash(num_perm, seed=seed, scheme=scheme, hashfunc=xxhash.xxh32_intdigest)
    for i, text in enumerate(paragraphs):
        theirs = datasketch.MinHash(
            num_perm, seed=seed, scheme=scheme, hashfunc=xxhash.xxh32_intdigest, permutations=template.permutations
        )
        theirs.update_batch([s.encode("utf-8", "surrogatepass") for s in shingles(text)])
        assert np.array_equal(ours[i], theirs.hashvalues), (i, text[:60])


def test_default_call_matches_datasketch_default_constructor():
    # datasketch 2.0's MinHash(num_perm, seed, hashfunc) means scheme="affine32": our default too.
    offsets, hashes = shingle_hashes(["the quick brown fox jumps over the lazy dog"])
    theirs = datasketch.MinHash(128, seed=1, hashfunc=xxhash.xxh32_intdigest)
    theirs.update_batch([s.encode() for s in shingles("the quick brown fox jumps over the lazy dog")])
    assert np.array_equal(signatures(offsets, hashes)[0], theirs.hashvalues)


def test_empty_text_gets_datasketch_empty_signature():
    offsets, hashes = shingle_hashes(["", "a b c"])
    sig = signatures(offsets, hashes, num_perm=32)
    assert np.array_equal(sig[0], datasketch.MinHash(32).hashvalues)
    assert (sig[0] == 2**32 - 1).all() and not (sig[1] == 2**32 - 1).all()


hash_sets = st.lists(st.integers(0, 2**32 - 1), min_size=0, max_size=60)


@settings(max_examples=100, deadline=None)
@given(hash_sets, st.randoms(use_true_random=False), st.sampled_from(["affine32", "legacy"]))
def test_signature_ignores_order_and_duplicates(values, rnd, scheme):
    shuffled = values + values[: len(values) // 2]
    rnd.shuffle(shuffled)
    canonical = np.array(sorted(set(values)), dtype=np.uint64)
    noisy = np.array(shuffled, dtype=np.uint64)
    offsets = np.array([0, canonical.size, canonical.size + noisy.size])
    sig = signatures(offsets, np.concatenate([canonical, noisy]), num_perm=32, seed=3, scheme=scheme)
    assert np.array_equal(sig[0], sig[1])


@settings(max_examples=50, deadline=None)
@given(hash_sets, hash_sets)
def test_equal_sets_equal_signatures_and_jaccard_matches_sets(a_values, b_values):
    a = np.array(sorted(set(a_values)), dtype=np.uint64)
    b = np.array(sorted(set(b_values)), dtype=np.uint64)
    offsets = np.cumsum([0, a.size, b.size, a.size])
    hashes = np.concatenate([a, b, a])
    sig = signatures(offsets, hashes, num_perm=16)
    assert np.array_equal(sig[0], sig[2])
    union = set(a_values) | set(b_values)
    expected = len(set(a_values) & set(b_values)) / len(union) if union else 0.0
    jac, c_lr, c_rl = jaccard_pairs(offsets, hashes, np.array([0, 0]), np.array([1, 2]))
    assert jac[0] == pytest.approx(expected) and jaccard_exact(a, b) == pytest.approx(expected)
    assert jac[1] == (1.0 if a.size else 0.0)
    inter = len(set(a_values) & set(b_values))
    assert c_lr[0] == pytest.approx(inter / a.size if a.size else 0.0)
    assert c_rl[0] == pytest.approx(inter / b.size if b.size else 0.0)


def test_signature_estimates_jaccard_within_bound():
    # |J_hat - J| over many pairs: mean error should sit well under the 0.5/sqrt(P) worst-case std.
    rng = np.random.default_rng(5)
    base = rng.choice(2**32, size=(400, 200), replace=True).astype(np.uint64)
    keep = rng.integers(100, 200, size=400)
    parts, true_j = [], []
    for row, k in zip(base, keep):
        a, b = np.unique(row[:200]), np.unique(np.concatenate([row[200 - k :], rng.choice(2**32, 200 - k)]))
        parts += [a, b]
        true_j.append(jaccard_exact(a, np.sort(b)))
    parts = [np.sort(p) for p in parts]
    offsets = np.cumsum([0] + [p.size for p in parts])
    sig = signatures(offsets, np.concatenate(parts), num_perm=128)
    estimate = (sig[0::2] == sig[1::2]).mean(axis=1)
    assert np.abs(estimate - np.array(true_j)).mean() < 0.05


def test_signature_input_validation():
    with pytest.raises(ValueError):
        signatures(np.array([0, 2]), np.array([1], dtype=np.uint64))
    with pytest.raises(ValueError):
        signatures(np.array([0, 1]), np.array([2**40], dtype=np.uint64))
    with pytest.raises(ValueError):
        permutations(8, scheme="affine64")
