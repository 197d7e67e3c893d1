"""The shared passage of two paragraphs: where a quote sits in the longer paragraph that re-wraps it.

A ``contained`` link says that most of one paragraph's shingles occur in another; this module says
*where*, as a character span in each text. Method, a shingle-run merge in the manner of passim's
alignment of text reuse:

1. **Tokens.** Each text is cut into word tokens with their character offsets: the matches of
   ``\\w+``, the words of the shingles (:mod:`corpusclean.dedup.shingles`). Tokens are compared
   ``casefold()``-ed; quotes, dashes and punctuation are never part of a token, so ``"We`` matches
   ``we`` and ``year,"`` matches ``year.``. A text in a script written without spaces (fewer than one
   white-space character per 20, the shingles' rule) is cut into its non-space characters instead.
2. **N-grams.** The n-grams of consecutive tokens (``n`` is the run's ``dedup.shingle_size``, 5 by
   default; a text of fewer than ``n`` tokens is matched on n-grams of its own length) of the right
   text go into a dict n-gram -> positions, compared as strings: no hash collisions.
3. **Runs.** Each position ``i`` of the left text whose n-gram is at ``j`` in the right text is a
   match ``(i, j)``; matches on one diagonal (``(i + 1, j + 1)`` after ``(i, j)``) form an aligned
   run, which covers its n-grams' tokens in both texts.
4. **Merge.** A run follows another when it starts at most ``gap`` tokens (default ``n``) after the
   other ends, in both texts: a changed, inserted or dropped word breaks only the n-grams over it and
   leaves a gap of 1 to ``n`` tokens, so a passage with one changed word is still one passage. The
   chain of runs with the most matched tokens is the passage (ties: the first found).
5. **Span.** In each text, from the first character of the passage's first token to the last
   character of its last token: ``(left_start, left_end, right_start, right_end)``, end exclusive.

Cost per pair is linear in the two lengths (one dict of the right text's n-grams, one pass over the
left's; an n-gram's positions are capped, see below); :func:`passage_spans` tokenizes a text shared
by consecutive pairs once. Pure Python, about 60 µs a pair of 60-70-word paragraphs on this
project's machine: the 11,393 contained links of the 50 MB text benchmark crawl took 0.7 s (0.8 s
with gathering their texts in the final write, of a 9.5 s run; measured on a busy machine).

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
from collections.abc import Sequence
from itertools import accumulate
from typing import NamedTuple

import numpy as np
import polars as pl

from ..schema import FINAL_LINKS

_WORD = re.compile(r"(\w+)")
_NON_SPACE = re.compile(r"(\S)")
_SPACE = re.compile(r"\s")
#: An n-gram at more positions than this in the right text is not used to align.
MAX_REPEATS = 16
#: At most this many tokenized texts are kept by :func:`passage_spans` for the next pairs (so pairs
#: sharing a text are best given one after the other, as links sorted by ``left_id`` are).
CACHED_TEXTS = 1024
NO_SPAN = (None, None, None, None)


class Tokens(NamedTuple):
    """A text's tokens: ``words`` (folded, for matching) and each one's ``starts``/``ends`` in the text."""

    words: list[str]
    starts: list[int]
    ends: list[int]


def tokenize(text: str, n: int = 5) -> Tokens:
    """The tokens of ``text`` (step 1 of the module docstring).

    >>> tokenize('"We said," she-wrote.')
    Tokens(words=['we', 'said', 'she', 'wrote'], starts=[1, 4, 11, 15], ends=[3, 8, 14, 20])
    >>> tokenize("Straße STRASSE")  # ß folds to two letters: words are folded one by one
    Tokens(words=['strasse', 'strasse'], starts=[0, 7], ends=[6, 14])
    """
    # a cheap count of plain spaces first: it settles the question for every spaced text
    without_spaces = (len(text) > n and text.count(" ") * 20 < len(text)
                      and len(_SPACE.findall(text)) * 20 < len(text))
    pattern = _NON_SPACE if without_spaces else _WORD
    folded = text.casefold()
    if len(folded) == len(text):  # every character folded to one: offsets in folded are offsets in text
        pieces = pattern.split(folded)
        words = pieces[1::2]
    else:
        pieces = pattern.split(text)
        words = [word.casefold() for word in pieces[1::2]]
    # split keeps the tokens (odd items) and what lies between them (even items); the running sum of
    # the pieces' lengths is where each token starts and ends (all in C: faster than finditer)
    bounds = list(accumulate(map(len, pieces)))
    return Tokens(words, bounds[0:-1:2], bounds[1::2])


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

    >>> [a.tolist() for a in passage_spans(["one two three", "a b"], ["zero one two three four", None], n=2)]
    [[0, -1], [13, -1], [5, -1], [18, -1]]
    """
    if len(lefts) != len(rights):
        raise ValueError(f"{len(lefts)} left texts but {len(rights)} right ones")
    out = np.full((4, len(lefts)), -1, dtype=np.int32)
    # a quoted paragraph is often the end of several links: tokens are kept for the next pairs, in a
    # cache emptied whenever it holds CACHED_TEXTS texts (memory stays bounded: a few MB)
    tokens: dict[str, Tokens] = {}

    def tokens_of(text: str) -> Tokens:
        found = tokens.get(text)
        if found is None:
            if len(tokens) >= CACHED_TEXTS:
                tokens.clear()
            found = tokens[text] = tokenize(text, n)
        return found

    for k, (left, right) in enumerate(zip(lefts, rights)):
        if left is None or right is None:
            continue
        span = _char_span(tokens_of(left), tokens_of(right), n, gap)
        if span[0] is not None:
            out[:, k] = span
    return out[0], out[1], out[2], out[3]


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
    # links come sorted by left_id: the pairs of one quoted paragraph are consecutive, as
    # passage_spans' small cache of tokenized texts wants them
    arrays = passage_spans([text_of.get(i) for i in contained["left_id"].to_list()],
                           [text_of.get(i) for i in contained["right_id"].to_list()], n=n)
    del text_of
    spans = contained.with_columns(pl.Series(name, values, dtype=pl.Int32) for name, values in zip(SPAN_COLUMNS, arrays))
    spans = spans.with_columns(pl.when(pl.col("left_start") >= 0).then(pl.col(c)).alias(c) for c in SPAN_COLUMNS)
    return (links.join(spans, on=["left_id", "right_id"], how="left", maintain_order="left")
            .select(list(FINAL_LINKS)).cast(FINAL_LINKS))
