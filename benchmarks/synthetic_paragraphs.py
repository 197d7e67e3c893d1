"""Synthetic "news" paragraphs with planted near-duplicate pairs of known word-5-gram Jaccard.

Random paragraphs are 40-120 words drawn i.i.d. from a Zipf-like distribution over a vocabulary of
random lowercase words, rendered with sentence capitals, commas and full stops (cosmetics that the
``\\w+`` tokenizer and casefolding remove, so they never change a shingle). A fraction of the
corpus are *copies*: each copy takes a distinct base paragraph and applies random word
substitutions, insertions and deletions until the exact Jaccard of their word-5-gram sets falls to
a target drawn uniformly from ``jaccard_range`` (the last edit may overshoot a little below the
range; about one pair in ten keeps the tokens: Jaccard 1.0, differing in punctuation and case).

Why the planted pairs are the only similar pairs: two independent paragraphs share a 5-gram only
when five i.i.d. Zipf draws coincide; with a 50,000-word vocabulary and exponent 1.1 the most
likely 5-gram has probability ~1e-5 per position, so a random pair's Jaccard is ~0 (at most a
shingle or two out of ~150). Every base is used once, so no two copies are related either. The LSH
benchmark checks this claim on a sample with an exact inverted-index search.

Example:
    >>> corpus = make_corpus(1000, seed=3)
    >>> len(corpus.texts), corpus.pairs.shape[1]
    (1000, 2)
"""

from __future__ import annotations

import argparse
import string
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SyntheticCorpus:
    texts: list[str]
    # (k, 2) int64, each row (left, right) with left < right: a planted near-duplicate pair.
    pairs: np.ndarray
    # (k,) float64: exact word-5-gram Jaccard of each planted pair.
    pair_jaccard: np.ndarray


def _vocabulary(rng: np.random.Generator, size: int) -> np.ndarray:
    letters = np.array(list(string.ascii_lowercase))
    words: set[str] = set()
    while len(words) < size:
        lengths = rng.integers(2, 11, size=size)
        chars = letters[rng.integers(0, 26, size=int(lengths.sum()))]
        ends = np.cumsum(lengths)
        flat = "".join(chars)
        starts = ends - lengths
        words.update(flat[s:e] for s, e in zip(starts.tolist(), ends.tolist()))
    vocab = np.array(sorted(words)[:size], dtype=object)
    rng.shuffle(vocab)
    return vocab


def _shingle_set(ids: list[int], n: int) -> set[tuple[int, ...]]:
    if len(ids) < n:
        return {tuple(ids)} if ids else set()
    return {tuple(ids[i : i + n]) for i in range(len(ids) - n + 1)}


def _jaccard(a: set, b: set) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def _render(words: np.ndarray, rng: np.random.Generator) -> str:
    # Cosmetics only: capitals and punctuation vanish under casefold + \w+ tokenization.
    words = words.copy()
    count = len(words)
    stops = np.flatnonzero(rng.random(count) < 1 / 18)
    commas = np.flatnonzero(rng.random(count) < 1 / 12)
    words[0] = words[0].capitalize()
    for i in commas.tolist():
        words[i] = words[i] + ","
    for i in stops.tolist():
        words[i] = words[i].rstrip(",") + "."
        if i + 1 < count:
            words[i + 1] = words[i + 1].capitalize()
    words[-1] = words[-1].rstrip(",.") + "."
    return " ".join(words.tolist())


def _edit_until(
    ids: list[int], target: float, n: int, rng: np.random.Generator, draw
) -> tuple[list[int], float]:
    base = _shingle_set(ids, n)
    copy = list(ids)
    jac = 1.0
    while jac > target:
        kind = rng.integers(0, 3)
        pos = int(rng.integers(0, len(copy)))
        if kind == 0:
            copy[pos] = draw()
        elif kind == 1:
            copy.insert(pos, draw())
        elif len(copy) > n + 1:
            del copy[pos]
        jac = _jaccard(base, _shingle_set(copy, n))
    return copy, jac


def make_corpus(
    n_paragraphs: int,
    *,
    planted_fraction: float = 0.05,
    jaccard_range: tuple[float, float] = (0.3, 1.0),
    exact_fraction: float = 0.1,
    vocab_size: int = 50_000,
    zipf_exponent: float = 1.1,
    min_words: int = 40,
    max_words: int = 120,
    n: int = 5,
    seed: int = 20240601,
) -> SyntheticCorpus:
    """Build ``n_paragraphs`` texts, ``round(n_paragraphs * planted_fraction)`` of them planted copies.

    Deterministic for a given argument tuple (numpy ``default_rng(seed)`` only).
    """
    rng = np.random.default_rng(seed)
    vocab = _vocabulary(rng, vocab_size)
    ranks = np.arange(1, vocab_size + 1, dtype=np.float64)
    cdf = np.cumsum(ranks**-zipf_exponent)
    cdf /= cdf[-1]

    def draw_ids(size: int) -> np.ndarray:
        return np.minimum(np.searchsorted(cdf, rng.random(size)), vocab_size - 1)

    n_copies = int(round(n_paragraphs * planted_fraction))
    n_base = n_paragraphs - n_copies
    lengths = rng.integers(min_words, max_words + 1, size=n_base)
    ends = np.cumsum(lengths)
    all_ids = draw_ids(int(ends[-1]))
    starts = ends - lengths

    texts: list[str] = [""] * n_paragraphs
    for i, (s, e) in enumerate(zip(starts.tolist(), ends.tolist())):
        texts[i] = _render(vocab[all_ids[s:e]], rng)

    bases = rng.choice(n_base, size=n_copies, replace=False)
    targets = rng.uniform(jaccard_range[0], jaccard_range[1], size=n_copies)
    targets[rng.random(n_copies) < exact_fraction] = 1.0
    spare = iter(draw_ids(64 * n_copies + 64).tolist())

    def draw() -> int:
        return next(spare)

    jac = np.empty(n_copies, dtype=np.float64)
    for j, (base, target) in enumerate(zip(bases.tolist(), targets.tolist())):
        ids = all_ids[starts[base] : ends[base]].tolist()
        edited, jac[j] = _edit_until(ids, target, n, rng, draw)
        texts[n_base + j] = _render(vocab[np.asarray(edited)], rng)

    # Shuffle so that copies are not all at the end and pairs are not adjacent.
    order = rng.permutation(n_paragraphs)
    position = np.empty(n_paragraphs, dtype=np.int64)
    position[order] = np.arange(n_paragraphs)
    texts = [texts[i] for i in order.tolist()]
    left = position[bases]
    right = position[n_base + np.arange(n_copies)]
    pairs = np.stack([np.minimum(left, right), np.maximum(left, right)], axis=1)
    return SyntheticCorpus(texts=texts, pairs=pairs, pair_jaccard=jac)


def make_corpus_bytes(megabytes: float, *, seed: int = 20240601, **kwargs) -> SyntheticCorpus:
    """A corpus of about ``megabytes`` MB of UTF-8 text (paragraphs average ~656 bytes)."""
    return make_corpus(max(1, int(megabytes * 1e6 / 656)), seed=seed, **kwargs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--paragraphs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args()
    corpus = make_corpus(args.paragraphs, seed=args.seed)
    size = sum(len(t.encode()) for t in corpus.texts)
    print(f"{len(corpus.texts)} paragraphs, {size / 1e6:.1f} MB, {len(corpus.pairs)} planted pairs")
    hist, edges = np.histogram(corpus.pair_jaccard, bins=np.linspace(0.0, 1.0, 11))
    for count, lo in zip(hist.tolist(), edges[:-1].tolist()):
        print(f"  jaccard {lo:.1f}-{lo + 0.1:.1f}: {count}")
    print(corpus.texts[0][:300])


if __name__ == "__main__":
    main()
