"""The shared passage of two paragraphs: where a quote sits in the longer paragraph that re-wraps it.

A ``contained`` link says that most of one paragraph's shingles occur in another; this module says
*where*, as a character span in each text. Method, a shingle-run merge in the manner of passim's
alignment of text reuse:

1. **Tokens.** Each text is cut into word tokens with their character offsets: the matches of
   ``\\w+``, the words of the shingles (:mod:`corpusclean.dedup.shingles`), on the text folded as
   the shingles see it: each character mapped as the match key maps it
   (:func:`~corpusclean.text.normalize.char_folds`: NFKC, quotes, dashes), then ``casefold()``-ed,
   so ``½`` is the tokens ``1 2`` as in ``1/2`` and ``m²`` matches ``m2``; offsets are those of the
   stored text, a folded character pointing at the character it came from. Quotes, dashes and
   punctuation are never part of a token, so ``"We`` matches ``we`` and ``year,"`` matches
   ``year.``. A text in a script written without spaces is cut into its non-space characters
   instead, by the shingles' rule (``_uses_char_ngrams``, on the folded text): fewer than one
   white-space character per 20, longer than ``n`` characters, and mostly non-ASCII; so a Latin line
   of handles (``Follow @politicaltickerFollow @DanaBashCNN``) keeps its words.
2. **N-grams.** The n-grams of consecutive tokens (``n`` is the run's ``dedup.shingle_size``, 5 by
   default; a text of fewer than ``n`` tokens is matched on n-grams of its own length) of the right
   text go into a map n-gram -> positions; n-grams are compared token by token: no hash collisions.
3. **Runs.** Each position ``i`` of the left text whose n-gram is at ``j`` in the right text is a
   match ``(i, j)``; matches on one diagonal (``(i + 1, j + 1)`` after ``(i, j)``) form an aligned
   run, which covers its n-grams' tokens in both texts.
4. **Merge.** A run follows another when it starts at most ``gap`` tokens (default ``n``) after the
   other ends, in both texts: a changed, inserted or dropped word breaks only the n-grams over it and
   leaves a gap of 1 to ``n`` tokens, so a passage with one changed word is still one passage. The
   chain of runs with the most matched tokens is the passage (ties: the first found).
5. **Span.** In each text, from the first character of the passage's first token to the last
   character of its last token: ``(left_start, left_end, right_start, right_end)``, end exclusive.

Two implementations of steps 1-5 give the same four offsets for every pair (``tests/test_spans.py``
holds them equal on generated pairs: quotes with edits, repeats, tiny texts, unrelated texts,
Cyrillic, CJK, Latin with few spaces, arbitrary characters):

* :func:`tokenize`, :func:`align` and :func:`passage_span`, pure Python: the reference, with dicts
  keyed by tuples of token strings;
* :func:`passage_spans`, the batch function the run calls: one numba call (:func:`_spans_kernel`)
  per batch of pairs. Each distinct text of the batch is tokenized once, in the kernel, over the
  code points of its ``casefold()`` (with the shingles' tables of ``\\w`` and ``\\s``, built from
  ``re``); each distinct folded token gets an int id (a hash table whose keys are compared code
  point by code point); each pair's n-grams of ids are matched through a small hash table of the
  right text's n-grams, where n-grams of equal hashes are compared id by id, so a collision never
  makes a match; steps 3-5 are :func:`align`'s loops over arrays. A text whose folding changes its
  length (``ß`` -> ``ss``, ``½`` -> ``1⁄2``, ``ﬁ`` -> ``fi``; rare) is cut by :func:`tokenize` and
  sent as its folded tokens.

Cost per pair is linear in the two lengths (an n-gram's positions are capped, see below). On this
project's 2-core machine (shared, so figures vary by ~20 %), the 11,393 contained links of the 50 MB
text benchmark crawl (11,764 distinct texts, 5.5 M characters) take 0.12 s in :func:`passage_spans`,
about 10 µs a pair (0.02-0.03 s preparing the texts in Python: ``casefold``, UTF-32; 0.07-0.09 s
in the kernel), where the pure-Python path took 0.8-0.9 s (~75 µs a pair); :func:`with_spans`,
gathering the texts included, takes 0.13-0.19 s (was 0.76-1.0 s). The kernel compiles once (~6 s,
then numba's cache); loading it costs ~15 ms in a process that has run another kernel (phase B has).

Limits:

* one passage per pair, the largest: a paragraph that quotes two separate pieces of another, or a
  quote with a sentence dropped from its middle (a gap longer than ``gap`` tokens), gives the larger
  piece only;
* spans start and end on word characters: the quote marks, closing comma or full stop around a
  passage are outside it, and a passage shorter than ``n`` tokens is not found (contained links
  share at least ``dedup.min_shared_shingles`` n-grams, so theirs always are);
* a change fewer than ``n`` words from either end of the passage cuts it there: the few equal words
  beyond the change form no shared n-gram (``... from the reserve fund`` against ``... from the
  emergency fund`` ends the passage at ``from the``);
* an n-gram found more than :data:`MAX_REPEATS` times in the right text is ignored (a chant, a list
  of the same words: its alignment is ambiguous), and runs that overlap (a word repeated in one copy
  only) are not merged;
* words are compared as tokens: ``e-mail`` (two tokens) does not match ``email`` (one).

Example:
    >>> quote = "We will not raise taxes this year, whatever the council says."
    >>> story = '"We will not raise taxes this year," the mayor said, adding that the budget is balanced.'
    >>> left_start, left_end, right_start, right_end = passage_span(quote, story)
    >>> quote[left_start:left_end], story[right_start:right_end]
    ('We will not raise taxes this year', 'We will not raise taxes this year')
    >>> passage_span("Nothing in common here at all.", "Entirely different words are used in this one.")
    (None, None, None, None)
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from itertools import accumulate
from typing import NamedTuple

import numba as nb
import numpy as np
import polars as pl

from ..schema import FINAL_LINKS
from ..text.normalize import _TRANSLATION, char_folds
from .lsh import _fmix64
from .shingles import _char_classes, _uses_char_ngrams

_WORD = re.compile(r"(\w+)")
# the match key's one-for-one mappings (quotes, dashes, spaces); the rest goes through char_folds
_TOKEN_MAP = {code: value for code, value in _TRANSLATION.items() if value is not None}
_DELETED = re.compile("[" + re.escape("".join(chr(code) for code, value in _TRANSLATION.items()
                                              if value is None)) + "]")
_NON_SPACE = re.compile(r"(\S)")
_SPACE = re.compile(r"\s")
#: An n-gram at more positions than this in the right text is not used to align.
MAX_REPEATS = 16
NO_SPAN = (None, None, None, None)


class Tokens(NamedTuple):
    """A text's tokens: ``words`` (folded, for matching) and each one's ``starts``/``ends`` in the text."""

    words: list[str]
    starts: list[int]
    ends: list[int]


def fold(text: str) -> tuple[str, list[int] | None]:
    """``text`` folded for tokens, and ``owner[k]``, the index in ``text`` of folded character ``k``
    (None when each character folds to exactly one: offsets in the folded text are offsets in
    ``text``).

    >>> fold("Size ½ m²")
    ('size 1⁄2 m2', [0, 1, 2, 3, 4, 5, 5, 5, 6, 7, 8])
    >>> fold("“We”")
    ('"we"', None)
    """
    if text.isascii() and text.isprintable():  # quotes and dashes are no tokens: casefold is enough
        return text.casefold(), None
    if unicodedata.is_normalized("NFKC", text) and not _DELETED.search(text):
        folded = text.translate(_TOKEN_MAP).casefold()  # casefold never deletes: equal length, 1:1
        if len(folded) == len(text):
            return folded, None
    pieces = [piece.casefold() for piece in char_folds(text)]
    folded = "".join(pieces)
    if len(folded) == len(text) and all(len(piece) == 1 for piece in pieces):
        return folded, None
    return folded, [index for index, piece in enumerate(pieces) for _ in piece]


def tokenize(text: str, n: int = 5) -> Tokens:
    """The tokens of ``text`` (step 1 of the module docstring).

    >>> tokenize('"We said," she-wrote.')
    Tokens(words=['we', 'said', 'she', 'wrote'], starts=[1, 4, 11, 15], ends=[3, 8, 14, 20])
    >>> tokenize("Straße STRASSE")  # ß folds to two letters: words are folded one by one
    Tokens(words=['strasse', 'strasse'], starts=[0, 7], ends=[6, 14])
    >>> tokenize("Follow @politicaltickerFollow @DanaBashCNN").words  # few spaces, but Latin: words
    ['follow', 'politicaltickerfollow', 'danabashcnn']
    >>> tokenize("東京都の天気。").words  # few spaces, mostly non-ASCII: characters
    ['東', '京', '都', 'の', '天', '気', '。']
    """
    folded, owner = fold(text)
    # the shingles' rule, on the folded text; a cheap count of plain spaces first settles it for
    # every spaced text
    without_spaces = folded.count(" ") * 20 < len(folded) and _uses_char_ngrams(folded, n)
    pattern = _NON_SPACE if without_spaces else _WORD
    pieces = pattern.split(folded)
    # split keeps the tokens (odd items) and what lies between them (even items); the running sum of
    # the pieces' lengths is where each token starts and ends (all in C: faster than finditer)
    bounds = list(accumulate(map(len, pieces)))
    starts, ends = bounds[0:-1:2], bounds[1::2]
    if owner is not None:  # offsets in the folded text back to the characters they came from
        starts = [owner[start] for start in starts]
        ends = [owner[end - 1] + 1 for end in ends]
    return Tokens(pieces[1::2], starts, ends)


def align(left: Sequence[str], right: Sequence[str], n: int = 5, gap: int | None = None) -> tuple[int, int, int, int] | None:
    """The passage of two token sequences (steps 2-4) as token ranges ``(l0, l1, r0, r1)``, end
    exclusive, or None when they share no n-gram.

    >>> align("a b c d e f".split(), "x a b c d e y".split(), n=3)
    (0, 5, 1, 6)
    """
    m = min(n, len(left), len(right))
    if m < 1:
        return None
    gap = n if gap is None else gap
    # step 2: where each n-gram of the right text is
    where: dict[tuple[str, ...], list[int]] = {}
    for j, gram in enumerate(zip(*(right[k:] for k in range(m)))):
        where.setdefault(gram, []).append(j)
    # step 3: runs of matches along diagonals, as [first left n-gram, first right n-gram, n-grams]
    runs: list[list[int]] = []
    last_on_diagonal: dict[int, int] = {}  # j - i -> the latest run on that diagonal
    for i, gram in enumerate(zip(*(left[k:] for k in range(m)))):
        positions = where.get(gram)
        if positions is None or len(positions) > MAX_REPEATS:
            continue
        for j in positions:
            run = last_on_diagonal.get(j - i)
            if run is not None and runs[run][0] + runs[run][2] == i:
                runs[run][2] += 1
            else:
                last_on_diagonal[j - i] = len(runs)
                runs.append([i, j, 1])
    if not runs:
        return None
    # step 4: chain runs (they come in order of their left start) across gaps of at most `gap`
    # tokens in both texts; score = matched tokens of the best chain ending in each run
    score: list[int] = []
    previous: list[int] = []
    ending_at: dict[int, list[int]] = {}  # left token where runs end (exclusive) -> runs
    for index, (i, j, grams) in enumerate(runs):
        best, before = 0, -1
        for skipped in range(gap + 1):
            for other in ending_at.get(i - skipped, ()):
                other_i, other_j, other_grams = runs[other]
                right_gap = j - (other_j + other_grams + m - 1)
                if 0 <= right_gap <= gap and score[other] > best:
                    best, before = score[other], other
        score.append(best + grams + m - 1)
        previous.append(before)
        ending_at.setdefault(i + grams + m - 1, []).append(index)
    last = max(range(len(runs)), key=score.__getitem__)  # the first of equal scores
    first = last
    while previous[first] >= 0:
        first = previous[first]
    first_i, first_j, _ = runs[first]
    last_i, last_j, last_grams = runs[last]
    return first_i, last_i + last_grams + m - 1, first_j, last_j + last_grams + m - 1


def passage_span(left: str, right: str, n: int = 5, gap: int | None = None
                 ) -> tuple[int, int, int, int] | tuple[None, None, None, None]:
    """The shared passage of two texts as character offsets ``(left_start, left_end, right_start,
    right_end)`` in each (end exclusive), or four None when they share no n-gram."""
    return _char_span(tokenize(left, n), tokenize(right, n), n, gap)


def _char_span(left: Tokens, right: Tokens, n: int, gap: int | None
               ) -> tuple[int, int, int, int] | tuple[None, None, None, None]:
    found = align(left.words, right.words, n, gap)
    if found is None:
        return NO_SPAN
    l0, l1, r0, r1 = found
    return left.starts[l0], left.ends[l1 - 1], right.starts[r0], right.ends[r1 - 1]


def passage_spans(lefts: Sequence[str | None], rights: Sequence[str | None], n: int = 5, gap: int | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`passage_span` of each pair ``(lefts[k], rights[k])``: four int32 arrays, ``left_start``,
    ``left_end``, ``right_start``, ``right_end``, -1 where a pair has no span (or a text is None).

    The fast path: the pairs go to :func:`_spans_kernel` in batches, each text of a batch tokenized
    once however many pairs it is in (so the order of the pairs does not matter); the spans equal
    :func:`passage_span`'s, pair by pair (``tests/test_spans.py`` holds them equal).

    >>> [a.tolist() for a in passage_spans(["one two three", "a b"], ["zero one two three four", None], n=2)]
    [[0, -1], [13, -1], [5, -1], [18, -1]]
    """
    if len(lefts) != len(rights):
        raise ValueError(f"{len(lefts)} left texts but {len(rights)} right ones")
    out = np.full((4, len(lefts)), -1, dtype=np.int32)
    if n < 1 or not len(lefts):
        return out[0], out[1], out[2], out[3]
    n, gap = int(n), int(n if gap is None else gap)  # one kernel signature: plain ints
    classes = _char_classes()
    done = 0
    while done < len(lefts):
        # a batch: pairs until their distinct texts hold _BATCH_CHARS characters
        index: dict[str, int] = {}
        chars = 0
        ends = []
        stop = done
        while stop < len(lefts) and (chars < _BATCH_CHARS or stop == done):
            for text in (lefts[stop], rights[stop]):
                if text is None:
                    ends.append(-1)
                    continue
                found = index.get(text)
                if found is None:
                    found = index[text] = len(index)
                    chars += len(text)
                ends.append(found)
            stop += 1
        pairs = np.array(ends, dtype=np.int64).reshape(-1, 2).T.copy()  # row 0 left texts, row 1 right
        batch = out[:, done:stop].copy()
        _spans_kernel(*_kernel_texts(list(index), n), classes, pairs[0], pairs[1], n, gap, MAX_REPEATS, batch)
        out[:, done:stop] = batch
        done = stop
    return out[0], out[1], out[2], out[3]


def _kernel_texts(texts: list[str], n: int) -> tuple[np.ndarray, ...]:
    """The texts as :func:`_spans_kernel` takes them: folded code points, cut into tokens by the
    kernel; a text whose folding changes its length (``ß`` -> ``ss``, ``½``) is tokenized by
    :func:`tokenize` instead, and sent as its folded tokens with their offsets."""
    pieces = []
    pretokenized = np.zeros(len(texts), dtype=np.bool_)
    pre_counts = np.zeros(len(texts), dtype=np.int64)
    pre_a: list[int] = []
    pre_b: list[int] = []
    pre_start: list[int] = []
    pre_end: list[int] = []
    for t, text in enumerate(texts):
        folded, owner = fold(text)
        if owner is None:
            pieces.append(folded)
            continue
        tokens = tokenize(text, n)
        pretokenized[t] = True
        pre_counts[t] = len(tokens.words)
        bounds = [0, *accumulate(map(len, tokens.words))]
        pre_a += bounds[:-1]
        pre_b += bounds[1:]
        pre_start += tokens.starts
        pre_end += tokens.ends
        pieces.append("".join(tokens.words))
    text_off = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces)), out=text_off[1:])
    # one code point per 4 bytes; a lone surrogate is one code point in a str, and one here
    cps = np.frombuffer("".join(pieces).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    pre_off = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(pre_counts, out=pre_off[1:])
    return (cps, text_off, pretokenized, pre_off, *(np.array(values, dtype=np.int64)
                                                     for values in (pre_a, pre_b, pre_start, pre_end)))


# --- the fast path: steps 1-5 of every pair of a batch in one numba call, over integer token ids ---

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
#: Texts are sent to the kernel in batches of pairs whose distinct texts hold about this many code
#: points (4 bytes each in the kernel's buffer): the memory bound of one call.
_BATCH_CHARS = 1 << 22


# murmur3's fmix64 (the LSH bands' finalizer, compiled here): spreads the FNV state over the low
# bits that pick a slot
_mix = nb.njit(inline="always")(_fmix64)


@nb.njit(inline="always")
def _step(h, value):
    return (h ^ np.uint64(value)) * _FNV_PRIME


@nb.njit(inline="always")
def _key_hash(values, start, length):
    h = _FNV_OFFSET
    for q in range(start, start + length):
        h = _step(h, values[q])
    return _mix(h)


@nb.njit(inline="always")
def _lookup(table, h, key_hash, key_start, key_len, store, values, start, length):
    """Where the key ``values[start:start + length]`` of hash ``h`` is in the open-addressing
    ``table`` (slot -> id, -1 free): ``(slot, id)``, or ``(a free slot, -1)`` for a new key. The key
    of an id is ``store[key_start[id]:key_start[id] + key_len[id]]``, compared element by element:
    equal ids are equal keys, whatever the hashes do."""
    mask = table.shape[0] - 1
    slot = np.int64(h & np.uint64(mask))
    while True:
        found = table[slot]
        if found < 0:
            return slot, -1
        if key_hash[found] == h and key_len[found] == length:
            other = key_start[found]
            same = True
            for q in range(length):
                if store[other + q] != values[start + q]:
                    same = False
                    break
            if same:
                return slot, np.int64(found)
        slot = (slot + 1) & mask


@nb.njit(inline="always")
def _add(table, slot, h, key_hash, key_start, key_len, start, length, count):
    """Give id ``count`` to a new key at a free ``slot``; the table doubles (rehashed from
    ``key_hash``) when half full, so it stays as small as the distinct keys: cache-resident."""
    table[slot] = count
    key_hash[count] = h
    key_start[count] = start
    key_len[count] = length
    count += 1
    if 2 * count > table.shape[0]:
        table = np.full(2 * table.shape[0], -1, dtype=np.int32)
        mask = table.shape[0] - 1
        for key in range(count):
            slot = np.int64(key_hash[key] & np.uint64(mask))
            while table[slot] >= 0:
                slot = (slot + 1) & mask
            table[slot] = key
    return table, count


@nb.njit(inline="always")
def _same(ids, a, b, length):
    for q in range(length):
        if ids[a + q] != ids[b + q]:
            return False
    return True


@nb.njit(inline="always")
def _table_size(keys):
    size = 16
    while size < 2 * keys:
        size *= 2
    return size


@nb.njit(cache=True)
def _spans_kernel(cps, text_off, pretokenized, pre_off, pre_a, pre_b, pre_start, pre_end,
                  classes, lefts, rights, n, gap, max_repeats, out):
    """Steps 1-5 for the pairs ``(lefts[k], rights[k])`` of indices into a batch of texts (-1: no
    text), written into ``out[:, k]`` (left untouched where a pair has no passage).

    A text ``t`` is ``cps[text_off[t]:text_off[t + 1]]``, its folded code points, cut here into
    tokens by ``classes`` (:func:`.shingles._char_classes`: bit 1 ``\\w``, bit 2 ``\\s``); or, where
    ``pretokenized[t]``, the concatenation of its folded tokens, whose bounds in it and offsets in
    the text are ``pre_a/pre_b`` and ``pre_start/pre_end`` from ``pre_off[t]`` to ``pre_off[t + 1]``.
    """
    n_texts = text_off.shape[0] - 1
    # step 1, pass 1: each scanned text's mode and its number of tokens
    char_mode = np.zeros(n_texts, dtype=np.bool_)
    tok_off = np.zeros(n_texts + 1, dtype=np.int64)
    for t in range(n_texts):
        lo = text_off[t]
        hi = text_off[t + 1]
        if pretokenized[t]:
            tok_off[t + 1] = tok_off[t] + pre_off[t + 1] - pre_off[t]
            continue
        spaces = 0
        wide = 0
        for p in range(lo, hi):
            c = cps[p]
            if c >= 0x80:
                wide += 1
            if classes[c] & 2:
                spaces += 1
        length = hi - lo
        mode = length > n and spaces * 20 < length and wide * 2 > length
        char_mode[t] = mode
        tokens = 0
        if mode:
            tokens = length - spaces
        else:
            inside = False
            for p in range(lo, hi):
                if classes[cps[p]] & 1:
                    if not inside:
                        tokens += 1
                        inside = True
                else:
                    inside = False
        tok_off[t + 1] = tok_off[t] + tokens
    n_tokens = tok_off[n_texts]
    # step 1, pass 2: each token's bounds in cps (tok_a, tok_b) and in its text (starts, ends)
    tok_a = np.empty(n_tokens, dtype=np.int32)
    tok_b = np.empty(n_tokens, dtype=np.int32)
    starts = np.empty(n_tokens, dtype=np.int32)
    ends = np.empty(n_tokens, dtype=np.int32)
    tok_hash = np.empty(n_tokens, dtype=np.uint64)
    max_tokens = 0
    for t in range(n_texts):
        lo = text_off[t]
        hi = text_off[t + 1]
        q = tok_off[t]
        max_tokens = max(max_tokens, tok_off[t + 1] - q)
        if pretokenized[t]:
            for k in range(pre_off[t], pre_off[t + 1]):
                tok_a[q] = lo + pre_a[k]
                tok_b[q] = lo + pre_b[k]
                tok_hash[q] = _key_hash(cps, lo + pre_a[k], pre_b[k] - pre_a[k])
                starts[q] = pre_start[k]
                ends[q] = pre_end[k]
                q += 1
        elif char_mode[t]:
            for p in range(lo, hi):
                if not (classes[cps[p]] & 2):
                    tok_a[q] = p
                    tok_b[q] = p + 1
                    tok_hash[q] = _mix(_step(_FNV_OFFSET, cps[p]))
                    q += 1
        else:
            inside = False
            h = _FNV_OFFSET
            for p in range(lo, hi):
                c = cps[p]
                if classes[c] & 1:
                    if not inside:
                        tok_a[q] = p
                        h = _FNV_OFFSET
                        inside = True
                    h = _step(h, c)
                elif inside:
                    tok_b[q] = p
                    tok_hash[q] = _mix(h)
                    q += 1
                    inside = False
            if inside:
                tok_b[q] = hi
                tok_hash[q] = _mix(h)
                q += 1
        if not pretokenized[t]:
            for k in range(tok_off[t], tok_off[t + 1]):
                starts[k] = tok_a[k] - lo
                ends[k] = tok_b[k] - lo
    # each distinct folded token -> an int id; the keys are copied together (few, cache-resident)
    table = np.full(1024, -1, dtype=np.int32)
    key_hash = np.empty(n_tokens, dtype=np.uint64)
    key_start = np.empty(n_tokens, dtype=np.int64)
    key_len = np.empty(n_tokens, dtype=np.int64)
    keys = np.empty(cps.shape[0], dtype=np.uint32)
    used = 0
    ids = np.empty(n_tokens, dtype=np.int32)
    count = 0
    for q in range(n_tokens):
        start = tok_a[q]
        length = tok_b[q] - start
        h = tok_hash[q]
        slot, found = _lookup(table, h, key_hash, key_start, key_len, keys, cps, start, length)
        if found < 0:
            found = count
            keys[used:used + length] = cps[start:start + length]
            table, count = _add(table, slot, h, key_hash, key_start, key_len, used, length, count)
            used += length
        ids[q] = found
    # step 2's n-grams: the hash of each n-gram of ids, at the position of its first token
    gram_hash = np.empty(n_tokens, dtype=np.uint64)
    for t in range(n_texts):
        for q in range(tok_off[t], tok_off[t + 1] - n + 1):
            gram_hash[q] = _key_hash(ids, q, n)
    # per-pair scratch: a small hash table of the right text's n-grams (slot -> the first position of
    # one n-gram, and how many it has; position -> the next of the same n-gram), reset after a pair
    slots = np.full(_table_size(max_tokens), -1, dtype=np.int32)
    times = np.zeros(slots.shape[0], dtype=np.int32)
    after = np.empty(max_tokens, dtype=np.int32)
    slot_of = np.empty(max_tokens, dtype=np.int32)  # left position -> the slot of its n-gram, or -1
    short_left = np.empty(max_tokens, dtype=np.uint64)  # m-gram hashes of a pair with m < n
    short_right = np.empty(max_tokens, dtype=np.uint64)
    on_diagonal = np.full(2 * max_tokens + 1, -1, dtype=np.int32)  # ngl + j - i -> latest run
    ending_first = np.full(max_tokens + 1, -1, dtype=np.int32)  # left end -> first run ending there
    ending_last = np.full(max_tokens + 1, -1, dtype=np.int32)
    room = 64
    run_i = np.empty(room, dtype=np.int32)
    run_j = np.empty(room, dtype=np.int32)
    run_grams = np.empty(room, dtype=np.int32)
    run_next = np.empty(room, dtype=np.int32)  # the next run with the same left end
    score = np.empty(room, dtype=np.int64)
    previous = np.empty(room, dtype=np.int32)
    for k in range(lefts.shape[0]):
        left = lefts[k]
        right = rights[k]
        if left < 0 or right < 0:
            continue
        l_off = tok_off[left]
        r_off = tok_off[right]
        nl = tok_off[left + 1] - l_off
        nr = tok_off[right + 1] - r_off
        m = min(n, nl, nr)
        if m < 1:
            continue
        ngl = nl - m + 1
        ngr = nr - m + 1
        if m == n:
            hl = gram_hash[l_off:l_off + ngl]
            hr = gram_hash[r_off:r_off + ngr]
        else:
            for i in range(ngl):
                short_left[i] = _key_hash(ids, l_off + i, m)
            for j in range(ngr):
                short_right[j] = _key_hash(ids, r_off + j, m)
            hl = short_left[:ngl]
            hr = short_right[:ngr]
        # step 2: where each n-gram of the right text is (lists in ascending position); n-grams of
        # equal hashes are compared id by id
        size = _table_size(ngr)
        mask = size - 1
        for j in range(ngr - 1, -1, -1):
            h = hr[j]
            slot = np.int64(h & np.uint64(mask))
            while True:
                first = slots[slot]
                if first < 0:
                    slots[slot] = j
                    times[slot] = 1
                    after[j] = -1
                    break
                if hr[first] == h and _same(ids, r_off + first, r_off + j, m):
                    after[j] = first
                    slots[slot] = j
                    times[slot] += 1
                    break
                slot = (slot + 1) & mask
        matches = 0
        for i in range(ngl):
            h = hl[i]
            slot = np.int64(h & np.uint64(mask))
            found = -1
            while True:
                first = slots[slot]
                if first < 0:
                    break
                if hr[first] == h and _same(ids, r_off + first, l_off + i, m):
                    found = slot
                    break
                slot = (slot + 1) & mask
            slot_of[i] = found
            if found >= 0 and times[found] <= max_repeats:
                matches += times[found]
        if matches > room:
            while room < matches:
                room *= 2
            run_i = np.empty(room, dtype=np.int32)
            run_j = np.empty(room, dtype=np.int32)
            run_grams = np.empty(room, dtype=np.int32)
            run_next = np.empty(room, dtype=np.int32)
            score = np.empty(room, dtype=np.int64)
            previous = np.empty(room, dtype=np.int32)
        # step 3: runs of matches along diagonals
        runs = 0
        for i in range(ngl):
            slot = slot_of[i]
            if slot < 0 or times[slot] > max_repeats:
                continue
            j = slots[slot]
            while j >= 0:
                d = ngl + j - i
                run = on_diagonal[d]
                if run >= 0 and run_i[run] + run_grams[run] == i:
                    run_grams[run] += 1
                else:
                    on_diagonal[d] = runs
                    run_i[runs] = i
                    run_j[runs] = j
                    run_grams[runs] = 1
                    runs += 1
                j = after[j]
        slots[:size] = -1
        for run in range(runs):
            on_diagonal[ngl + run_j[run] - run_i[run]] = -1
        if runs == 0:
            continue
        # step 4: the best chain of runs across gaps of at most `gap` tokens in both texts
        for run in range(runs):
            i = run_i[run]
            j = run_j[run]
            best = 0
            before = -1
            for skipped in range(gap + 1):
                e = i - skipped
                if e < 0:
                    break
                other = ending_first[e]
                while other >= 0:
                    right_gap = j - (run_j[other] + run_grams[other] + m - 1)
                    if 0 <= right_gap <= gap and score[other] > best:
                        best = score[other]
                        before = other
                    other = run_next[other]
            score[run] = best + run_grams[run] + m - 1
            previous[run] = before
            e = i + run_grams[run] + m - 1
            run_next[run] = -1
            if ending_first[e] < 0:
                ending_first[e] = run
            else:
                run_next[ending_last[e]] = run
            ending_last[e] = run
        last = 0
        for run in range(1, runs):
            if score[run] > score[last]:
                last = run
        for run in range(runs):
            ending_first[run_i[run] + run_grams[run] + m - 1] = -1
        first = last
        while previous[first] >= 0:
            first = previous[first]
        # step 5: token range -> characters
        out[0, k] = starts[l_off + run_i[first]]
        out[1, k] = ends[l_off + run_i[last] + run_grams[last] + m - 2]
        out[2, k] = starts[r_off + run_j[first]]
        out[3, k] = ends[r_off + run_j[last] + run_grams[last] + m - 2]


#: The span columns of ``links.parquet``: where a contained link's shared passage lies in each text.
SPAN_COLUMNS = ("left_start", "left_end", "right_start", "right_end")


def with_spans(links: pl.DataFrame, contained: pl.DataFrame, texts: list[pl.DataFrame], n: int) -> pl.DataFrame:
    """``links`` with :data:`SPAN_COLUMNS`: the shared passage of each ``contained`` link (its
    ``left_id``, ``right_id``), found in ``texts`` (frames of ``paragraph_id``, ``text``) by
    :func:`passage_spans` with n-grams of ``n`` words; null for the other links, and
    for a contained link whose two texts share no n-gram or are not in ``texts``."""
    links = links.drop(SPAN_COLUMNS, strict=False)
    if contained.is_empty():
        return links.with_columns(pl.lit(None, dtype=pl.Int32).alias(c) for c in SPAN_COLUMNS).select(
            list(FINAL_LINKS)).cast(FINAL_LINKS)
    # one Python string per paragraph, shared by every pair it is an end of
    text_of = dict(pl.concat([pl.DataFrame(schema={"paragraph_id": pl.String, "text": pl.String}), *texts])
                   .unique("paragraph_id", keep="first").iter_rows())
    # each distinct text of a batch of pairs is tokenized once, in whatever order the pairs come
    arrays = passage_spans([text_of.get(i) for i in contained["left_id"].to_list()],
                           [text_of.get(i) for i in contained["right_id"].to_list()], n=n)
    del text_of
    spans = contained.with_columns(pl.Series(name, values, dtype=pl.Int32) for name, values in zip(SPAN_COLUMNS, arrays))
    spans = spans.with_columns(pl.when(pl.col("left_start") >= 0).then(pl.col(c)).alias(c) for c in SPAN_COLUMNS)
    return (links.join(spans, on=["left_id", "right_id"], how="left", maintain_order="left")
            .select(list(FINAL_LINKS)).cast(FINAL_LINKS))
