"""Word n-gram shingles of normalized paragraphs, and their sorted unique 32-bit hashes.

The texts given are match keys (:func:`~corpusclean.text.normalize.match_key`, which
:func:`~corpusclean.dedup.fingerprints.fingerprint_table` applies to the stored text); this module
only casefolds them.

Definition (``shingles`` is the reference, ``shingle_hashes`` the fast columnar twin; tests hold
them equal on arbitrary Unicode):

* the text is ``text.casefold()``; tokens are the matches of Python's ``re`` pattern ``\\w+``
  (a word character is ``str.isalnum()`` or ``_``);
* a shingle is ``n`` consecutive tokens joined by one space; a text with ``1 <= k < n`` tokens
  yields the single shingle of all its tokens, a text without tokens yields none;
* a text in a script written without spaces -- fewer than one whitespace character per 20
  characters, longer than ``n`` characters, and mostly non-ASCII, e.g. Chinese or Japanese -- uses character
  n-grams of its non-whitespace characters instead (all of them, punctuation included, since a
  CJK "word" boundary is not marked); with ``k < n`` such characters, one shingle of all of them.

Set semantics: a paragraph is the *set* of its shingles. ``shingle_hashes`` returns, per text,
the sorted unique ``xxh32(shingle.encode("utf-8"), seed=0)``, so the exact Jaccard of two texts
is a merge of two sorted arrays (``minhash.jaccard_exact``). Lone surrogates are encoded with
``surrogatepass`` instead of failing.

Error bound of hashing the shingles: two distinct shingles collide in 32 bits with probability
2^-32, so among the ``|A| + |B|`` shingles of a pair the expected number of collisions is at most
``(|A|+|B|)^2 / 2^33`` (~3e-6 for two 80-word paragraphs), and one collision moves their Jaccard
by at most about ``1 / |A | B|``. Hashes are uint32 values stored in uint64 so that MinHash arithmetic needs no casts.

Speed (2-core dev box, single thread, synthetic 40-120-word paragraphs): pure Python
(``re.findall`` + ``" ".join`` + ``xxhash.xxh32_intdigest`` per shingle) measured 17-21 MB/s,
which alone is below the 30 MB/s end-to-end target; the numba kernel below (UTF-8 scan with
precomputed ``\\w``/whitespace tables + an inlined XXH32) measured ~79 MB/s for the whole
``shingle_hashes`` call (kernel alone ~95 MB/s; the rest is one ``casefold().encode()`` per
text). First use in a process costs ~0.14 s for the tables (2 ms once they are cached on disk) plus
the kernel's compile (~2 s, then cached).

Example:
    >>> shingles("The cat sat on the mat.", n=5)
    ['the cat sat on the', 'cat sat on the mat']
    >>> offsets, hashes = shingle_hashes(["The cat sat on the mat.", ""], n=5)
    >>> offsets.tolist(), hashes.dtype.name
    ([0, 2, 2], 'uint64')
"""

from __future__ import annotations

import functools
import os
import re
import sys
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import numba as nb
import numpy as np

_WORD = re.compile(r"\w+")
_SPACE = re.compile(r"\s")
_MAX_CODEPOINT = 0x110000
# Memory bound of one numba call: texts are shingled in batches of about this many UTF-8 bytes.
_BATCH_BYTES = 32 << 20


def tokenize(text: str) -> list[str]:
    """The ``\\w+`` tokens of ``text.casefold()``.

    >>> tokenize("Hello, World_2!")
    ['hello', 'world_2']
    """
    return _WORD.findall(text.casefold())


def _uses_char_ngrams(folded: str, n: int) -> bool:
    # "Fewer than one space per 20 characters" without division: spaces * 20 < len; and mostly
    # non-ASCII, so a Latin line of long handles ("Follow @politicaltickerFollow @DanaBashCNN") keeps
    # word shingles: as characters it shared 17 of 26 shingles with every other such line.
    wide = sum(1 for char in folded if ord(char) >= 0x80)
    return len(folded) > n and len(_SPACE.findall(folded)) * 20 < len(folded) and wide * 2 > len(folded)


def shingles(text: str, n: int = 5) -> list[str]:
    """The shingles of ``text`` in order of appearance, duplicates kept (reference implementation).

    >>> shingles("one two", n=5)
    ['one two']
    >>> shingles("東京都の天気", n=3)
    ['東京都', '京都の', '都の天', 'の天気']
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    folded = text.casefold()
    if _uses_char_ngrams(folded, n):
        chars = "".join(_SPACE.split(folded))
        if len(chars) < n:
            return [chars] if chars else []
        return [chars[i : i + n] for i in range(len(chars) - n + 1)]
    tokens = _WORD.findall(folded)
    if len(tokens) < n:
        return [" ".join(tokens)] if tokens else []
    return [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def _build_char_classes() -> np.ndarray:
    """uint8 per code point: bit 1 = ``re`` word character, bit 2 = ``re`` whitespace.

    Built from the regexes themselves (not ``str.isalnum``) so the tables cannot drift from
    ``shingles``; ~0.14 s.
    """
    every = "".join(map(chr, range(_MAX_CODEPOINT)))
    classes = np.zeros(_MAX_CODEPOINT, dtype=np.uint8)
    word = np.fromiter((m.start() for m in re.finditer(r"\w", every)), dtype=np.int64)
    space = np.fromiter((m.start() for m in re.finditer(r"\s", every)), dtype=np.int64)
    classes[word] |= 1
    classes[space] |= 2
    return classes


def _char_classes_cache() -> Path:
    # what ``re`` calls a word character follows Python's Unicode database, so both name the file
    return (Path(__file__).with_name("__pycache__")
            / f"char_classes.{sys.implementation.cache_tag}.unicode-{unicodedata.unidata_version}.npy")


@functools.cache
def _char_classes() -> np.ndarray:
    """:func:`_build_char_classes`, kept beside numba's cache of the kernels: every phase-A worker
    needs the table, and loading it costs 2 ms where building it costs 0.14 s. Where the package
    folder is read-only, each process builds the table."""
    path = _char_classes_cache()
    try:
        classes = np.load(path, allow_pickle=False)
        if classes.shape == (_MAX_CODEPOINT,) and classes.dtype == np.uint8:
            return classes
    except (OSError, ValueError):
        pass
    classes = _build_char_classes()
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(exist_ok=True)
        with temporary.open("wb") as handle:
            np.save(handle, classes, allow_pickle=False)
        os.replace(temporary, path)  # atomic: workers starting together never read half a file
    except OSError:
        temporary.unlink(missing_ok=True)
    return classes


# --- XXH32 (https://github.com/Cyan4973/xxHash/blob/dev/doc/xxhash_spec.md), in uint64 lanes ---
# numba widens 32-bit integer arithmetic to 64 bits, so every product is masked back to 32 bits.
_P1 = np.uint64(0x9E3779B1)
_P2 = np.uint64(0x85EBCA77)
_P3 = np.uint64(0xC2B2AE3D)
_P4 = np.uint64(0x27D4EB2F)
_P5 = np.uint64(0x165667B1)
_M32 = np.uint64(0xFFFFFFFF)


@nb.njit(inline="always")
def _rotl32(x, r):
    return ((x << np.uint64(r)) | (x >> np.uint64(32 - r))) & _M32


@nb.njit(inline="always")
def _read32(buf, p):
    return (
        np.uint64(buf[p])
        | (np.uint64(buf[p + 1]) << np.uint64(8))
        | (np.uint64(buf[p + 2]) << np.uint64(16))
        | (np.uint64(buf[p + 3]) << np.uint64(24))
    )


@nb.njit(inline="always")
def _round(acc, lane):
    return (_rotl32((acc + lane * _P2) & _M32, 13) * _P1) & _M32


@nb.njit(cache=True)
def _xxh32(buf, start, end):
    """XXH32 with seed 0 of ``buf[start:end]`` (equals ``xxhash.xxh32_intdigest``)."""
    length = end - start
    p = start
    if length >= 16:
        v1 = (_P1 + _P2) & _M32
        v2 = _P2
        v3 = np.uint64(0)
        v4 = (np.uint64(0x100000000) - _P1) & _M32
        limit = end - 16
        while p <= limit:
            v1 = _round(v1, _read32(buf, p))
            v2 = _round(v2, _read32(buf, p + 4))
            v3 = _round(v3, _read32(buf, p + 8))
            v4 = _round(v4, _read32(buf, p + 12))
            p += 16
        h = (_rotl32(v1, 1) + _rotl32(v2, 7) + _rotl32(v3, 12) + _rotl32(v4, 18)) & _M32
    else:
        h = _P5
    h = (h + np.uint64(length)) & _M32
    while p + 4 <= end:
        h = (h + _read32(buf, p) * _P3) & _M32
        h = (_rotl32(h, 17) * _P4) & _M32
        p += 4
    while p < end:
        h = (h + np.uint64(buf[p]) * _P5) & _M32
        h = (_rotl32(h, 11) * _P1) & _M32
        p += 1
    h ^= h >> np.uint64(15)
    h = (h * _P2) & _M32
    h ^= h >> np.uint64(13)
    h = (h * _P3) & _M32
    h ^= h >> np.uint64(16)
    return h


@nb.njit(inline="always")
def _utf8_width(byte):
    if byte >= 0xF0:
        return 4
    if byte >= 0xE0:
        return 3
    if byte >= 0xC0:
        return 2
    return 1


@nb.njit(inline="always")
def _decode(buf, p):
    # Input comes from str.encode, so it is well formed; only the lead byte's width matters.
    byte = np.int64(buf[p])
    if byte < 0x80:
        return byte
    if byte < 0xE0:
        return ((byte & 0x1F) << 6) | (np.int64(buf[p + 1]) & 0x3F)
    if byte < 0xF0:
        return (
            ((byte & 0x0F) << 12)
            | ((np.int64(buf[p + 1]) & 0x3F) << 6)
            | (np.int64(buf[p + 2]) & 0x3F)
        )
    return (
        ((byte & 0x07) << 18)
        | ((np.int64(buf[p + 1]) & 0x3F) << 12)
        | ((np.int64(buf[p + 2]) & 0x3F) << 6)
        | (np.int64(buf[p + 3]) & 0x3F)
    )


@nb.njit(cache=True)
def _shingle_kernel(buf, text_offsets, n, classes):
    """Sorted unique shingle hashes of each text of a concatenated UTF-8 buffer.

    Per text: one UTF-8 scan classifies code points; the shingle bytes are then laid out
    contiguously in ``scratch`` (tokens joined by one space, or the non-space characters) so that
    every shingle is one slice ``scratch[starts[i]:ends[i + n - 1]]`` to hash.
    """
    n_texts = text_offsets.shape[0] - 1
    # Each shingle starts at a distinct token / character, which is at least one byte.
    out = np.empty(buf.shape[0], dtype=np.uint64)
    out_offsets = np.zeros(n_texts + 1, dtype=np.int64)
    max_len = 0
    for t in range(n_texts):
        max_len = max(max_len, text_offsets[t + 1] - text_offsets[t])
    scratch = np.empty(2 * max_len + 1, dtype=np.uint8)
    unit_start = np.empty(max_len + 1, dtype=np.int64)
    unit_end = np.empty(max_len + 1, dtype=np.int64)
    written = 0
    for t in range(n_texts):
        lo = text_offsets[t]
        hi = text_offsets[t + 1]
        # Pass 1: count characters and whitespace to pick word or character shingles.
        n_chars = 0
        n_spaces = 0
        n_wide = 0
        for p in range(lo, hi):
            byte = buf[p]
            if (byte & 0xC0) != 0x80:
                n_chars += 1
                if byte >= 0x80:
                    n_wide += 1
                if byte == 0x20:
                    n_spaces += 1
                elif byte >= 0x80 or byte < 0x21:
                    cp = _decode(buf, p)
                    if classes[cp] & 2:
                        n_spaces += 1
        char_mode = n_chars > n and n_spaces * 20 < n_chars and n_wide * 2 > n_chars
        # Pass 2: units (tokens or non-space characters) copied into scratch.
        n_units = 0
        w = 0
        in_token = False
        p = lo
        while p < hi:
            byte = buf[p]
            if byte < 0x80:
                width = 1
                cp = np.int64(byte)
            else:
                width = _utf8_width(byte)
                cp = _decode(buf, p)
            cls = classes[cp]
            if char_mode:
                if not (cls & 2):
                    unit_start[n_units] = w
                    for k in range(width):
                        scratch[w] = buf[p + k]
                        w += 1
                    unit_end[n_units] = w
                    n_units += 1
            elif cls & 1:
                if not in_token:
                    if n_units > 0:
                        scratch[w] = 0x20
                        w += 1
                    unit_start[n_units] = w
                    n_units += 1
                    in_token = True
                for k in range(width):
                    scratch[w] = buf[p + k]
                    w += 1
                unit_end[n_units - 1] = w
            else:
                in_token = False
            p += width
        first = written
        if n_units == 0:
            pass
        elif n_units < n:
            out[written] = _xxh32(scratch, unit_start[0], unit_end[n_units - 1])
            written += 1
        else:
            for i in range(n_units - n + 1):
                out[written] = _xxh32(scratch, unit_start[i], unit_end[i + n - 1])
                written += 1
        if written - first > 1:
            block = np.sort(out[first:written])
            kept = 1
            out[first] = block[0]
            for i in range(1, block.shape[0]):
                if block[i] != block[i - 1]:
                    out[first + kept] = block[i]
                    kept += 1
            written = first + kept
        out_offsets[t + 1] = written
    return out_offsets, out[:written].copy()


def shingle_hashes(texts: Sequence[str], n: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique xxh32 shingle hashes of every text, as CSR arrays.

    Returns ``(offsets, hashes)``: ``offsets`` int64 of length ``len(texts) + 1``, and the hashes
    of text ``i`` are ``hashes[offsets[i]:offsets[i + 1]]`` (uint64 holding uint32 values,
    strictly increasing within a text).

    >>> offsets, hashes = shingle_hashes(["a b c d e f", "f e d c b a", "a b c d e f"], n=5)
    >>> np.diff(offsets).tolist()
    [2, 2, 2]
    >>> bool((hashes[0:2] == hashes[4:6]).all())
    True
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    classes = _char_classes()
    encoded = [text.casefold().encode("utf-8", "surrogatepass") for text in texts]
    ends = np.cumsum(np.fromiter((len(e) for e in encoded), dtype=np.int64, count=len(encoded)))
    offsets_parts = [np.zeros(1, dtype=np.int64)]
    hash_parts = []
    done = 0
    start = 0
    while start < len(encoded):
        # Batches of whole texts, about _BATCH_BYTES each, bound the kernel's scratch/out arrays.
        base = ends[start - 1] if start else 0
        stop = max(start + 1, int(np.searchsorted(ends, base + _BATCH_BYTES, side="right")))
        buf = np.frombuffer(b"".join(encoded[start:stop]), dtype=np.uint8)
        text_offsets = np.concatenate(([0], ends[start:stop] - base))
        batch_offsets, batch_hashes = _shingle_kernel(buf, text_offsets, n, classes)
        offsets_parts.append(batch_offsets[1:] + done)
        hash_parts.append(batch_hashes)
        done += batch_hashes.shape[0]
        start = stop
    hashes = np.concatenate(hash_parts) if hash_parts else np.zeros(0, dtype=np.uint64)
    return np.concatenate(offsets_parts), hashes
