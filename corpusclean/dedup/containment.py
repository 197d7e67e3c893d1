"""Containment reuse: paragraphs of one document quoted inside paragraphs of another.

A quote re-wrapped in a longer paragraph ("…," the president said, adding that …) shares most of
*its* shingles with the longer paragraph but few of the longer one's, so its Jaccard is low (0.17 in
the seeds) while its containment ``|A ∩ B| / min(|A|, |B|)`` is high (≥ 0.54 there). MinHash LSH
estimates Jaccard and would need a threshold so low that every pair became a candidate, so this module
finds such pairs through shared shingles instead.

What is reported (the definition; both methods below compute exactly this set):

1. every paragraph is its set ``A`` of shingle hashes; optionally only hashes ``≡ 0 (mod sample_mod)``
   take part in the search (a content-defined sample: two copies of a passage keep the same hashes);
2. ``df(h)`` is the number of paragraphs holding the sampled hash ``h``; the *reduced set* ``A'`` keeps
   the sampled hashes with ``2 ≤ df(h) ≤ max_posting`` (a phrase in hundreds of paragraphs is
   boilerplate or a cliché, and its posting list would cost ``O(k²)`` pairs); with ``only_new``, also
   only hashes some new paragraph holds;
3. a pair of paragraphs of different documents (with ``only_new``, one of them new) is a
   *candidate* when ``|A' ∩ B'| ≥ least``;
4. a candidate is reported when its full sets share ``I = |A ∩ B| ≥ min_shared`` shingles and the
   containment of the smaller in the larger, ``I / min(|A|, |B|)``, is ``≥ min_containment``
   (exact set intersection: ``minhash.jaccard_pairs``).

Exhaustive method (:func:`count_shared`, the reference): self-join every posting row ``(h, A)`` of
``A'`` on ``h`` and count rows per pair. It pays ``Σ_h df(h)²/2`` join rows, most of them for pairs
that share one or two common phrases and are never candidates.

Prefix method (:func:`reduce_postings` then :func:`prefix_candidates`, the default), the exact
set-similarity-join prefix filter (Chaudhuri et al. 2006; All-Pairs, Bayardo et al. 2007; PPJoin, Xiao
et al. 2008), with thresholds derived from steps 3 and 4:

* Global order: ``h ≺ g`` iff ``(df(h), h) < (df(g), g)`` -- rarest first, a total order because
  ``df`` is a function of ``h``. Each ``A'`` is listed in this order.
* Lemma. Let ``O = A' ∩ B'`` with ``|O| ≥ T ≥ 1``, and let ``p_t(A')`` be the first ``|A'| - t + 1``
  elements of ``A'``. If ``1 ≤ t_A ≤ T`` and ``1 ≤ t_B ≤ T``, then
  ``min_≺ O ∈ p_{t_A}(A') ∩ p_{t_B}(B')``.
  Proof: the ``t_A - 1 < |O|`` elements of ``A'`` after its prefix cannot hold all of ``O``, so some
  ``o ∈ O`` lies in the prefix; the prefix is an initial segment of ``A'`` and ``min O ≼ o``, so
  ``min O`` lies in it too. Likewise for ``B'``. Hence joining prefix postings on the hash finds every
  pair with ``|O| ≥ T``, each set free to use its own ``t`` as long as it is at most ``T``.
* Required overlap. Let ``s_A = (|A| - |sampled A|) + |{h ∈ sampled A : df(h) > max_posting}|``, the
  hashes of ``A`` that another paragraph may share but ``A'`` lacks (a sampled hash with ``df = 1``
  is shared by nobody; with ``only_new``, a hash no new paragraph holds is shared by no pair holding
  a new paragraph, the only pairs reported then). So ``I ≤ |O| + min(s_A, s_B)``. Let ``X`` be the
  smaller of a reported pair by ``(|X|, row)`` and ``k(n)`` the least integer with
  ``float(k / n) ≥ min_containment`` (the very float comparison of step 4, so no rounding slack is
  lost or gained). A reported pair has ``I ≥ max(min_shared, k(|X|))`` and ``|O| ≥ least``, hence
  ``|O| ≥ t_small(X) = max(least, max(min_shared, k(|X|)) - s_X)`` and
  ``|O| ≥ t_large(Y) = max(least, min_shared - s_Y)``.
* So each paragraph has two prefixes: a short *small-role* one (``t_small``; for a 60-shingle
  paragraph with ``s = 0`` at the default 0.45, it drops its 26 most common hashes, and a paragraph
  that shares fewer than 27 hashes with anyone has none) and a longer *large-role* one
  (``t_large``, 8 at the defaults). By the lemma, every reported pair shares a hash between the
  small-role prefix of ``X`` and the large-role prefix of ``Y``, and the least such hash is
  ``min O``.
* Exactness. Pairs meeting that way are a superset of the reported pairs. For each, the exact
  ``|O|`` is counted (a merge of the two reduced sets, both sorted by ``≺``); a pair is kept when
  ``|O| ≥ least`` (the candidate test of step 3, verbatim) and ``|O| + min(s_X, s_Y) ≥
  max(min_shared, k(|X|))`` (an upper bound of ``I`` below what step 4 needs can only fail it). The
  survivors are therefore exactly the exhaustive candidates minus pairs step 4 rejects, and step 4
  runs unchanged on them: the reported pairs and their measures are identical.

As run (no join rows are materialized): :func:`reduce_postings`, per hash partition, finds the
hashes held 2..``max_posting`` times (a two-bitmap pre-filter, then a radix sort of the postings
that may repeat) and keeps their posting lists; :func:`prefix_candidates` numbers the paragraphs by
``(|A|, row)``, rewrites every reduced set as ranks in ``≺`` (hashes visited in ``≺`` order, each
posting appended to its paragraph: sorted without a sort), and probes All-Pairs style: from the
largest paragraph down, the small-role prefix of ``X`` is looked up in an inverted index of the
large-role prefixes inserted so far (all of larger ``(|Y|, row)``), then ``X``'s own large-role
prefix is inserted. ``Y`` is first met at ``min O`` when the pair can be reported, so a pair is
judged once, at its first meeting: PPJoin's positional filter ``|O| ≤ min(|X'| - i, |Y'| - j)``
(``i``, ``j`` the positions of the meeting hash) discards it, or ``|O|`` is 1 plus a merge of the two
suffixes. Memory: 4 bytes per reduced-set row (8 while it is built), 8 per large-role prefix row,
a few values per paragraph and per distinct hash.

Cost, measured (``benchmarks/containment_prefix.py``: phase B's step on allsides-dev, 11,092 real
news articles, 72 MB of text, 290,972 paragraphs, 10.4 M postings; 2-core box, best of 3):

===============================  ============  ============
                                 exhaustive    prefix
===============================  ============  ============
join rows                        2,045,998     74,137
distinct pairs out of the join   1,449,312     7,553
pairs measured (step 4)          33,632        5,788
pairs reported                   5,784         5,784
wall s / CPU s                   0.87 / 1.58   0.59 / 0.78
peak RSS growth                  759 MiB       346 MiB
===============================  ============  ============

The prefix filter is weakest when most paragraphs have near-copies (their sets are nearly equal, so
the prefixes are long): with every article three times (``--copies 3``, each copy with one word
deleted per paragraph: 217 MB, 31 M postings, 809,196 reported pairs) it measured 17.6 M index
postings met against 44.1 M join rows, 834 k distinct pairs against 8.3 M, 7.7 s wall / 9.1 s CPU /
691 MiB against 11.0 s / 19.2 s / 1,778 MiB; of the 7.7 s, 3.6 are this step (1.7 the probe, 1.0
the ranked sets), 1.4 finding ``df`` and 1.6 step 4, the last two common to both methods.

Recall (of reuse in general, not of the exhaustive method, which this matches exactly): with
``sample_mod = 1`` (the default) every shared shingle is seen, so every pair over both thresholds is
found unless too few of its shared shingles sit in posting lists of at most ``max_posting``
paragraphs. With ``sample_mod = m`` a pair sharing ``k`` shingles is missed with probability about
``(1 - 1/m)^k`` (hashes are uniform), e.g. 0.075 for ``m = 4``, ``k = 9``; the cost falls to about
``1/m``, but ``s_A`` then counts the unsampled hashes, so ``t`` falls to ``least`` and the prefix
filter saves little. Precision is exact: every pair is verified on the full sets (up to 32-bit
shingle-hash collisions).

Example:
    >>> from corpusclean.dedup.shingles import shingle_hashes
    >>> quote = "we have sandbagged this town for the last time and tonight we decided"
    >>> texts = [quote, f'"{quote}," the mayor told reporters on tuesday, adding more words here', "unrelated"]
    >>> offsets, hashes = shingle_hashes(texts, n=5)
    >>> containment_pairs(offsets, hashes, np.array([0, 1, 2]), min_shared=3).select("left", "right").rows()
    [(0, 1)]
"""

from __future__ import annotations

from typing import Literal

import numba as nb
import numpy as np
import polars as pl

from .minhash import jaccard_pairs

PAIR_SCHEMA = {"left": pl.UInt32, "right": pl.UInt32, "jaccard": pl.Float64,
               "containment_lr": pl.Float64, "containment_rl": pl.Float64}
#: Per-paragraph columns :func:`prefix_candidates` needs besides the reduced postings.
ROW_SCHEMA = {"row": pl.UInt32, "_doc": pl.UInt32, "is_new": pl.Boolean, "size": pl.Int64, "slack": pl.Int64}
Method = Literal["prefix", "exhaustive"]


def least_shared(min_shared: int, sample_mod: int) -> int:
    """The candidate threshold ``least`` of step 3: half the sampled share ``min_shared`` implies."""
    return max(1, int(min_shared / sample_mod * 0.5))


def count_shared(postings: pl.LazyFrame, max_posting: int, only_new: bool = False) -> pl.DataFrame:
    """Shared-hash counts of text pairs from ``postings`` rows ``(row, hash, _doc, is_new)``.

    The exhaustive method: hashes held by one text or by more than ``max_posting`` are dropped
    (step 2); with ``only_new``, so are hashes no new text holds (an incremental run pairs nothing
    among earlier texts). Pairs are ``left < right`` of different ``_doc``; ``shared`` counts the
    hashes they share in ``postings``.
    """
    held = pl.len().over("hash")
    postings = postings.filter((held >= 2) & (held <= max_posting))
    if only_new:
        postings = postings.filter(pl.col("is_new").any().over("hash"))
    postings = postings.select(pl.col("row").cast(pl.UInt32), "hash", "_doc")
    return (postings.join(postings, on="hash", suffix="_r")
            .filter((pl.col("row") < pl.col("row_r")) & (pl.col("_doc") != pl.col("_doc_r")))
            .group_by("row", "row_r").agg(pl.len().cast(pl.UInt32).alias("shared"))
            .select(pl.col("row").alias("left"), pl.col("row_r").alias("right"), "shared")
            .collect())


@nb.njit(cache=True)
def _radix16(keys, scratch, shift):
    """Stable counting sort of ``keys`` (uint64) on the 16 bits from ``shift``, into ``scratch``."""
    count = np.zeros(65537, dtype=np.int64)
    for i in range(keys.shape[0]):
        count[((keys[i] >> shift) & 0xFFFF) + 1] += 1
    for b in range(65536):
        count[b + 1] += count[b]
    for i in range(keys.shape[0]):
        b = (keys[i] >> shift) & 0xFFFF
        scratch[count[b]] = keys[i]
        count[b] += 1


@nb.njit(cache=True)
def _repeated_postings(hashes, rows, bits):
    """``hash·2³² + row`` of the postings whose hash may be held twice, sorted by hash.

    Two bitmaps of ``2^bits`` slots (the top ``bits`` of the hash; shingle hashes are uniform) mark
    slots seen once and twice; a posting is kept when its slot was seen twice. Every hash held by two
    or more rows is kept whole; a hash held once is kept only when another hash shares its slot (it
    is then a run of one, dropped by :func:`_scan_runs`). Then a two-pass 16-bit radix sort of what
    is kept (a tenth to a quarter of the postings in real text)."""
    shift = 32 - bits
    once = np.zeros(max(1, (1 << bits) >> 3), dtype=np.uint8)
    twice = np.zeros(max(1, (1 << bits) >> 3), dtype=np.uint8)
    for i in range(hashes.shape[0]):
        slot = hashes[i] >> shift
        bit = np.uint8(1 << (slot & 7))
        if once[slot >> 3] & bit:
            twice[slot >> 3] |= bit
        else:
            once[slot >> 3] |= bit
    kept = 0
    for i in range(hashes.shape[0]):
        slot = hashes[i] >> shift
        kept += (twice[slot >> 3] >> (slot & 7)) & 1
    keys = np.empty(kept, dtype=np.uint64)
    k = 0
    for i in range(hashes.shape[0]):
        slot = hashes[i] >> shift
        if (twice[slot >> 3] >> (slot & 7)) & 1:
            keys[k] = (np.uint64(hashes[i]) << np.uint64(32)) | np.uint64(rows[i])
            k += 1
    scratch = np.empty_like(keys)
    for shift_bits in (32, 48):  # the hash bits; the order of rows within a run does not matter
        _radix16(keys, scratch, shift_bits)
        keys, scratch = scratch, keys
    return keys


@nb.njit(cache=True)
def _scan_runs(keys, max_posting, new, only_new, frequent, out_row, out_df, write):
    """One scan of the runs of equal hashes in sorted ``keys`` (``hash·2³² + row``): returns how
    many runs of length ``2..max_posting`` (with ``only_new``, holding a row flagged in ``new``)
    there are and how many rows they hold; with ``write``, stores their rows run after run and
    their lengths ``df``, and adds 1 to ``frequent[row]`` for each row of a longer run."""
    n = keys.shape[0]
    low = np.uint64(0xFFFFFFFF)
    shift = np.uint64(32)
    runs = 0
    kept = 0
    i = 0
    while i < n:
        h = keys[i] >> shift
        j = i + 1
        while j < n and keys[j] >> shift == h:
            j += 1
        df = j - i
        if 2 <= df <= max_posting:
            keep = not only_new
            for q in range(i, j):
                keep = keep or new[keys[q] & low]
            if keep:
                if write:
                    for q in range(i, j):
                        out_row[kept + q - i] = keys[q] & low
                    out_df[runs] = df
                kept += df
                runs += 1
        elif write and df > max_posting:
            for q in range(i, j):
                frequent[keys[q] & low] += 1
        i = j
    return runs, kept


@nb.njit(cache=True)
def _reduce_runs(keys, max_posting, new, only_new, frequent):
    """The reduced postings of sorted ``keys`` (see :func:`_scan_runs`): count, allocate, fill."""
    none = np.empty(0, dtype=np.uint32)
    runs, kept = _scan_runs(keys, max_posting, new, only_new, frequent, none, none, False)
    out_row = np.empty(kept, dtype=np.uint32)
    out_df = np.empty(runs, dtype=np.uint32)
    _scan_runs(keys, max_posting, new, only_new, frequent, out_row, out_df, True)
    return out_row, out_df


def reduce_postings(rows: np.ndarray, hashes: np.ndarray, max_posting: int, frequent: np.ndarray,
                    new: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The reduced sets (step 2) of the posting rows ``(rows[i], hashes[i])``, as posting lists.

    The rows must hold every (sampled) posting of each of their hashes, e.g. one hash partition of
    the corpus, so that ``df`` is global. Returns ``(posting_rows, df)``, both ``uint32``: for each
    hash held by ``2..max_posting`` rows, in hash order, its ``df`` and its rows (``posting_rows``
    holds the lists one after another). Adds to ``frequent[row]`` (int64, indexed by row) the
    row's hashes with ``df > max_posting`` (part of ``s_A``). With ``new`` (bool, indexed by row),
    hashes no new row holds are left out (``only_new``). The hash values themselves are not kept:
    only their order serves (as the tie-break of the global order).

    Speed and memory (:func:`_repeated_postings`): two bitmaps of ``2^bits`` slots, ``bits`` = 2 +
    log2 of the postings (2 x 8 MiB for allsides-dev's 10.4 M postings), then a radix sort of the
    postings whose hash may repeat (2.8 M there, 16 bytes each) and one scan of the runs.

    >>> frequent = np.zeros(3, dtype=np.int64)
    >>> rows, df = reduce_postings(np.array([0, 0, 1, 1, 2, 2]), np.array([7, 9, 9, 5, 9, 5]), 2, frequent)
    >>> rows.tolist(), df.tolist(), frequent.tolist()  # 5 held twice; 9 three times (> 2); 7 once
    ([1, 2], [2], [1, 1, 1])
    """
    keys = np.ascontiguousarray(hashes, dtype=np.uint32)
    values = np.ascontiguousarray(rows, dtype=np.uint32)
    if keys.shape != values.shape:
        raise ValueError("rows and hashes must have the same shape")
    bits = int(min(30, max(16, np.ceil(np.log2(max(keys.shape[0], 1))) + 2)))
    ordered = _repeated_postings(keys, values, bits)
    del keys, values
    flags = np.zeros(1, dtype=bool) if new is None else np.ascontiguousarray(new, dtype=bool)
    return _reduce_runs(ordered, max_posting, flags, new is not None, frequent)


def least_for_containment(sizes: np.ndarray, min_containment: float) -> np.ndarray:
    """Per size ``n``, the least integer ``k ≥ 0`` with ``float64(k / n) ≥ min_containment``.

    ``k / n`` rounds, so ``ceil(c * n)`` can be off by one; ``fl(k / n)`` does not decrease in ``k``,
    so stepping down and up from it finds the least ``k`` exactly. ``n + 1`` (unreachable) when even
    ``k = n`` fails; 0 for ``n = 0``.

    >>> least_for_containment(np.array([8, 20, 21, 0]), 0.45).tolist()
    [4, 9, 10, 0]
    """
    n = np.asarray(sizes, dtype=np.float64)
    safe = np.where(n > 0, n, 1.0)
    k = np.clip(np.ceil(min_containment * n), 0, n + 1)
    while True:
        down = (k > 0) & ((k - 1) / safe >= min_containment)
        if not down.any():
            break
        k = np.where(down, k - 1, k)
    while True:
        up = (k <= n) & (k / safe < min_containment)
        if not up.any():
            break
        k = np.where(up, k + 1, k)
    return np.where(n > 0, k, 0).astype(np.int64)


@nb.njit(cache=True)
def _by_df(run_df, max_df):
    """Hash ids in the global order: by ``df``, then id (a stable counting sort)."""
    count = np.zeros(max_df + 2, dtype=np.int64)
    for h in range(run_df.shape[0]):
        count[run_df[h] + 1] += 1
    for d in range(max_df + 1):
        count[d + 1] += count[d]
    order = np.empty(run_df.shape[0], dtype=np.int64)
    for h in range(run_df.shape[0]):
        order[count[run_df[h]]] = h
        count[run_df[h]] += 1
    return order


@nb.njit(cache=True)
def _ordered_sets(posting_row, run_start, order, ordinal, offsets, large_length):
    """The reduced sets as ranks in the global order, grouped by paragraph (``ordinal``), and the
    offsets of each rank's list in the large-role index.

    Hashes are visited in rank order and each of their postings appended to its paragraph's
    group, so every group comes out sorted with no sort; a posting at position ``p < large_length``
    of its group is in the paragraph's large-role prefix and counted for the index. (32-bit
    cursors: the random writes of this pass are its cost, and half-size arrays stay in cache.)
    """
    n_hashes = order.shape[0]
    ranks = np.empty(posting_row.shape[0], dtype=np.uint32)
    start = offsets[:-1].astype(np.uint32)
    cursor = start.copy()
    large = large_length.astype(np.uint32)
    index_offsets = np.zeros(n_hashes + 1, dtype=np.int64)
    for rank in range(n_hashes):
        h = order[rank]
        in_large = 0
        for q in range(run_start[h], run_start[h + 1]):
            x = ordinal[posting_row[q]]
            p = cursor[x]
            cursor[x] = p + 1
            ranks[p] = rank
            if p - start[x] < large[x]:
                in_large += 1
        index_offsets[rank + 1] = index_offsets[rank] + in_large
    return ranks, index_offsets


@nb.njit(cache=True)
def _probe(ranks, offsets, small_length, large_length, index_offsets, slack, need, doc, new, only_new, least,
           counters):
    """Every pair ``(X, Y)`` of paragraph ordinals ``X < Y`` with a hash in both ``X``'s small-role
    and ``Y``'s large-role prefix, different ``doc`` (with ``only_new``, one of them ``new``), whose
    exact reduced overlap ``O`` passes ``O ≥ least`` and ``O + min(slack) ≥ need[X]``; returns
    ``(X, Y, O)``.

    All-Pairs style: paragraphs are probed from the last ordinal down, each probing the index of the
    large-role prefixes inserted so far (ordinals above its own, so no order test) and then
    inserting its own. ``X``'s prefix is scanned in the global order, so ``Y`` is first met at the
    least hash of the two prefixes, which is ``min O`` whenever ``|O|`` reaches the pair's required
    overlap (lemma); at positions ``i``, ``j`` there, ``|O| ≤ min(|X'| - i, |Y'| - j)`` (PPJoin's
    positional filter), and when that can pass, ``|O|`` is ``1 +`` a merge of the two suffixes.
    Each pair is judged once (``seen``). ``counters``: postings met, distinct pairs met, pairs merged.
    """
    n = offsets.shape[0] - 1
    fill = index_offsets[:-1].copy()
    index_row = np.empty(index_offsets[-1], dtype=np.uint32)
    index_pos = np.empty(index_offsets[-1], dtype=np.uint32)
    seen = np.full(n, -1, dtype=np.int32)
    capacity = 1024
    out_x = np.empty(capacity, dtype=np.uint32)
    out_y = np.empty(capacity, dtype=np.uint32)
    out_o = np.empty(capacity, dtype=np.int64)
    found = 0
    for x in range(n - 1, -1, -1):
        x_start = offsets[x]
        x_count = offsets[x + 1] - x_start
        for i in range(small_length[x]):
            h = ranks[x_start + i]
            for q in range(index_offsets[h], fill[h]):
                y = index_row[q]
                if doc[y] == doc[x] or (only_new and not (new[x] or new[y])):
                    continue
                counters[0] += 1
                if seen[y] == x:
                    continue
                seen[y] = x
                counters[1] += 1
                j = index_pos[q]
                y_start = offsets[y]
                y_count = offsets[y + 1] - y_start
                required = max(least, need[x] - min(slack[x], slack[y]))
                if min(x_count - i, y_count - j) < required:
                    continue
                counters[2] += 1
                overlap = 1
                a = x_start + i + 1
                b = y_start + j + 1
                while a < x_start + x_count and b < y_start + y_count:
                    if ranks[a] == ranks[b]:
                        overlap += 1
                        a += 1
                        b += 1
                    elif ranks[a] < ranks[b]:
                        a += 1
                    else:
                        b += 1
                if overlap < required:
                    continue
                if found == capacity:
                    capacity *= 2
                    grown_x = np.empty(capacity, dtype=np.uint32)
                    grown_y = np.empty(capacity, dtype=np.uint32)
                    grown_o = np.empty(capacity, dtype=np.int64)
                    grown_x[:found] = out_x
                    grown_y[:found] = out_y
                    grown_o[:found] = out_o
                    out_x, out_y, out_o = grown_x, grown_y, grown_o
                out_x[found] = x
                out_y[found] = y
                out_o[found] = overlap
                found += 1
        for p in range(large_length[x]):
            h = ranks[x_start + p]
            index_row[fill[h]] = x
            index_pos[fill[h]] = p
            fill[h] += 1
    return out_x[:found], out_y[:found], out_o[:found]


def prefix_candidates(reduced: list[tuple[np.ndarray, np.ndarray]], rows: pl.DataFrame, *, least: int,
                      min_shared: int, min_containment: float, only_new: bool = False,
                      stats: dict | None = None) -> pl.DataFrame:
    """The candidates of step 3 that step 4 may keep, by prefix filtering (module docstring).

    Args:
        reduced: the reduced postings, :func:`reduce_postings` of each hash partition. The list is
            emptied as it is read, so its memory goes as the sets are built.
        rows: one row per paragraph that may appear in ``reduced``, columns :data:`ROW_SCHEMA`:
            ``size`` = ``|A|`` (all shingles), ``slack`` = ``s_A``.
        least, min_shared, min_containment: the thresholds of steps 3 and 4.
        only_new: keep only pairs holding a new paragraph (``is_new``).
        stats: when given, receives row counts of each stage.

    Returns:
        ``left < right`` (``UInt32``) and ``overlap = |A' ∩ B'|``: every pair of different ``_doc``
        with ``overlap ≥ least`` whose bound ``overlap + min(s_A, s_B)`` reaches both
        ``min_shared`` and the containment test, and no other pair.

    Memory: 8 bytes per reduced-set row (its paragraph, then its rank), 8 per large-role prefix row
    (the index), 16 per distinct hash and a few values per paragraph; no join rows are materialized.
    """
    empty = pl.DataFrame(schema={"left": pl.UInt32, "right": pl.UInt32, "overlap": pl.Int64})
    if rows.is_empty() or not any(part[0].shape[0] for part in reduced):
        reduced.clear()
        return empty
    n_rows = int(max(rows["row"].max(), *(part[0].max() for part in reduced if part[0].shape[0]))) + 1
    row_ids = rows["row"].to_numpy().astype(np.int64)

    def by_row(column: str, dtype, fill=0) -> np.ndarray:
        values = np.full(n_rows, fill, dtype=dtype)
        values[row_ids] = rows[column].to_numpy()
        return values

    size, slack = by_row("size", np.int64), by_row("slack", np.int64)
    doc, new = by_row("_doc", np.uint32), by_row("is_new", bool, False)
    # paragraphs numbered by (size, row): a pair's X is its lower ordinal
    by_size = np.lexsort((np.arange(n_rows), size))
    ordinal = np.empty(n_rows, dtype=np.uint32)
    ordinal[by_size] = np.arange(n_rows, dtype=np.uint32)
    size, slack, doc, new = size[by_size], slack[by_size], doc[by_size], new[by_size]

    # the posting lists of all partitions, one after another, and where each starts
    counts = np.zeros(n_rows, dtype=np.int64)
    for part_rows, _ in reduced:
        counts += np.bincount(part_rows, minlength=n_rows)
    counts = counts[by_size]
    posting_row = np.concatenate([part[0] for part in reduced])
    run_df = np.concatenate([part[1] for part in reduced])
    reduced.clear()
    run_start = np.zeros(run_df.shape[0] + 1, dtype=np.int64)
    np.cumsum(run_df, out=run_start[1:])
    order = _by_df(run_df, int(run_df.max()))  # the global order: df, then hash
    del run_df

    offsets = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    need = np.maximum(min_shared, least_for_containment(size, min_containment))
    small_length = np.maximum(counts - np.maximum(least, need - slack) + 1, 0)
    large_length = np.maximum(counts - np.maximum(least, min_shared - slack) + 1, 0)
    ranks, index_offsets = _ordered_sets(posting_row, run_start, order, ordinal, offsets, large_length)
    del posting_row, run_start, order
    counters = np.zeros(3, dtype=np.int64)
    x, y, overlap = _probe(ranks, offsets, small_length, large_length, index_offsets, slack, need, doc, new,
                           only_new, least, counters)
    if stats is not None:
        stats.update(reduced_rows=int(ranks.shape[0]), small_prefix_rows=int(small_length.sum()),
                     large_prefix_rows=int(large_length.sum()), join_rows=int(counters[0]),
                     prefix_pairs=int(counters[1]), merged_pairs=int(counters[2]), overlap_pairs=int(x.shape[0]))
    left, right = by_size[x], by_size[y]
    return pl.DataFrame({"left": np.minimum(left, right), "right": np.maximum(left, right), "overlap": overlap},
                        schema={"left": pl.UInt32, "right": pl.UInt32, "overlap": pl.Int64})


def verify_pairs(measured: pl.DataFrame, min_containment: float, min_shared: int) -> pl.DataFrame:
    """Keep measured pairs (exact ``shared``, containments) over both thresholds (step 4)."""
    larger = pl.max_horizontal("containment_lr", "containment_rl")
    return measured.filter((pl.col("shared") >= min_shared) & (larger >= min_containment)).select(list(PAIR_SCHEMA))


def containment_pairs(offsets: np.ndarray, hashes: np.ndarray, groups: np.ndarray, *,
                      min_containment: float = 0.5, min_shared: int = 8, max_posting: int = 64,
                      sample_mod: int = 1, is_new: np.ndarray | None = None,
                      method: Method = "prefix") -> pl.DataFrame:
    """Verified pairs ``left < right`` of texts in different ``groups`` (documents) with high containment.

    The in-memory form of the steps above, for texts whose shingle arrays fit in memory (phase B runs
    the same functions one hash partition at a time).

    Args:
        offsets, hashes: per-text sorted unique shingle hashes (``shingles.shingle_hashes``).
        groups: the document of each text; pairs inside one document are not reported.
        min_containment: least ``|A ∩ B| / min(|A|, |B|)``.
        min_shared: least ``|A ∩ B|`` in shingles (5-word shingles: 8 is about a 12-word passage).
        max_posting: hashes held by more texts than this are ignored (boilerplate).
        sample_mod: keep hashes divisible by this (1 keeps all; see the module docstring).
        is_new: per text, whether it is new; when given and not all true, only pairs holding a new
            text are reported (phase B's incremental run).
        method: ``"prefix"`` (prefix filtering) or ``"exhaustive"`` (:func:`count_shared`); the
            result is the same.

    Returns:
        Columns of :data:`PAIR_SCHEMA`; ``containment_lr = |L ∩ R| / |L|``.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    hashes = np.asarray(hashes, dtype=np.uint64)
    sizes = np.diff(offsets)
    new = np.ones(sizes.shape[0], dtype=bool) if is_new is None else np.asarray(is_new, dtype=bool)
    only_new = not bool(new.all())
    text = np.repeat(np.arange(sizes.shape[0], dtype=np.uint32), sizes)
    docs = np.asarray(groups)
    if hashes.size and int(hashes.max()) > 0xFFFFFFFF:
        raise ValueError("hashes must be 32-bit values (xxh32 of the shingles)")
    sampled = np.ones(hashes.shape[0], dtype=bool) if sample_mod == 1 else hashes % np.uint64(sample_mod) == 0
    least = least_shared(min_shared, sample_mod)
    if method == "exhaustive":
        postings = pl.DataFrame({"row": text[sampled], "hash": hashes[sampled].astype(np.uint32),
                                 "_doc": docs[text[sampled]], "is_new": new[text[sampled]]}).lazy()
        shared = count_shared(postings, max_posting, only_new=only_new)
        # only pairs whose sampled overlap could reach min_shared are worth an exact check
        candidates = shared.filter(pl.col("shared") >= least)
    elif method == "prefix":
        frequent = np.zeros(sizes.shape[0], dtype=np.int64)
        reduced = reduce_postings(text[sampled], hashes[sampled], max_posting, frequent,
                                  new=new if only_new else None)
        slack = sizes - np.bincount(text[sampled], minlength=sizes.shape[0]) + frequent
        doc_codes = np.unique(docs, return_inverse=True)[1].reshape(-1).astype(np.uint32)
        rows = pl.DataFrame({"row": np.arange(sizes.shape[0], dtype=np.uint32), "_doc": doc_codes, "is_new": new,
                             "size": sizes, "slack": slack}).cast(ROW_SCHEMA)
        candidates = prefix_candidates([reduced], rows, least=least, min_shared=min_shared,
                                       min_containment=min_containment, only_new=only_new)
    else:
        raise ValueError(f"method must be 'prefix' or 'exhaustive', got {method!r}")
    if only_new:
        holds_new = new[candidates["left"].to_numpy()] | new[candidates["right"].to_numpy()]
        candidates = candidates.filter(pl.Series(holds_new))
    if candidates.is_empty():
        return pl.DataFrame(schema=PAIR_SCHEMA)
    candidates = candidates.sort("left", "right")
    left, right = candidates["left"].to_numpy(), candidates["right"].to_numpy()
    jaccard, contain_lr, contain_rl = jaccard_pairs(offsets, hashes, left, right)
    measured = pl.DataFrame({"left": left, "right": right, "jaccard": jaccard, "containment_lr": contain_lr,
                             "containment_rl": contain_rl,
                             "shared": np.rint(contain_lr * sizes[left]).astype(np.int64)})
    return verify_pairs(measured, min_containment, min_shared).cast(PAIR_SCHEMA)
