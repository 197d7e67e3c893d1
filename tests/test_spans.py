"""The shared passage of two paragraphs (``corpusclean.dedup.spans``): examples, the batch function,
and the spans a real run on the seeds writes into links.parquet."""

from __future__ import annotations

import random
from unittest import mock

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from corpusclean import run
from corpusclean.dedup import spans
from corpusclean.dedup.shingles import _uses_char_ngrams, shingles
from corpusclean.dedup.spans import MAX_REPEATS, align, passage_span, passage_spans, tokenize

QUOTE = ("The council will not raise the harbour levy this year, and the barrier will be paid for "
         "from the reserve fund")
STORY = (f'"{QUOTE}," the mayor said on Tuesday, adding that the vote on the barrier itself '
         "would come in the spring.")


def folded_words(text: str) -> list[str]:
    return tokenize(text).words


def test_a_quote_wrapped_in_a_longer_paragraph_gives_its_span_in_both():
    left_start, left_end, right_start, right_end = passage_span(QUOTE, STORY)
    assert QUOTE[left_start:left_end] == QUOTE
    assert STORY[right_start:right_end] == QUOTE  # no opening quote mark, no closing comma
    assert (right_start, right_end) == (1, 1 + len(QUOTE))


def test_case_and_quote_differences_still_align():
    quote = "“We Will NOT raise the levy — not this year, not next year,” she said."
    story = 'Asked again, the mayor repeated: "we will not raise the levy - not this year, not next year."'
    left_start, left_end, right_start, right_end = passage_span(quote, story)
    assert quote[left_start:left_end] == "We Will NOT raise the levy — not this year, not next year"
    assert story[right_start:right_end] == "we will not raise the levy - not this year, not next year"
    assert folded_words(quote[left_start:left_end]) == folded_words(story[right_start:right_end])


def test_one_changed_word_inside_the_passage_stays_one_span():
    edited = QUOTE.replace("harbour", "port")
    wrapped = f"Officials confirmed that {edited}, according to the minutes released on Friday."
    left_start, left_end, right_start, right_end = passage_span(QUOTE, wrapped)
    assert QUOTE[left_start:left_end] == QUOTE
    assert wrapped[right_start:right_end] == edited
    # two changed words, an inserted word and two dropped ones: gaps of up to n tokens are bridged
    edited = edited.replace("barrier", "wall")
    assert passage_span(QUOTE, edited) == (0, len(QUOTE), 0, len(edited))
    inserted = QUOTE.replace("levy this year", "levy again this year")
    assert passage_span(QUOTE, inserted) == (0, len(QUOTE), 0, len(inserted))
    dropped = QUOTE.replace(" this year", "")
    assert passage_span(QUOTE, dropped) == (0, len(QUOTE), 0, len(dropped))


def test_a_change_near_an_end_cuts_the_passage_there():
    # fewer than n matched words after the last change make no n-gram: the passage ends before it
    edited = QUOTE.replace("reserve fund", "emergency fund")
    left_start, left_end, right_start, right_end = passage_span(QUOTE, edited)
    assert QUOTE[left_start:left_end] == edited[right_start:right_end] == QUOTE[:QUOTE.index(" reserve")]


def test_a_long_cut_ends_the_passage_and_the_larger_piece_is_kept():
    first = "one two three four five six seven eight nine ten"
    second = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu"
    left = f"{first} {second}"
    right = f"{first} and then a long aside of many unrelated words here {second}"
    left_start, left_end, right_start, right_end = passage_span(left, right)
    assert left[left_start:left_end] == right[right_start:right_end] == second


def test_unrelated_texts_give_no_span():
    assert passage_span("The tide barrier vote was postponed again.",
                        "Rain is expected over the weekend across the northern coast.") == (None,) * 4
    assert passage_span("", STORY) == (None,) * 4
    # four shared words are not a shared 5-gram
    assert passage_span("Yesterday the mayor said that it rained",
                        "In May the mayor said that taxes rise") == (None,) * 4


def test_cyrillic_text_aligns():
    quote = "Мы не будем повышать налоги в этом году, что бы ни говорил городской совет"
    story = f"«{quote}», — заявил мэр во вторник, добавив, что бюджет сбалансирован."
    left_start, left_end, right_start, right_end = passage_span(quote.upper(), story)
    assert quote.upper()[left_start:left_end] == quote.upper()
    assert story[right_start:right_end] == quote


def test_text_without_spaces_aligns_on_characters():
    quote = "東京都の天気は晴れです"
    story = f"気象庁によると、{quote}。明日は雨の予報。"
    left_start, left_end, right_start, right_end = passage_span(quote, story)
    assert story[right_start:right_end] == quote and (left_start, left_end) == (0, len(quote))


def test_repeated_ngrams_do_not_blow_up_and_are_ignored_past_the_cap():
    chant = " ".join(["la"] * 200)
    assert passage_span(chant, chant) == (None,) * 4  # every 5-gram is at 196 positions
    few = " ".join(["go team go"] * (MAX_REPEATS // 2))
    assert passage_span(few, few) == (0, len(few), 0, len(few))


def test_align_on_tokens_and_short_texts():
    assert align("a b c d e f".split(), "x a b c d e y".split(), n=3) == (0, 5, 1, 6)
    # a text shorter than n tokens is matched on n-grams of its length
    assert align(["b", "c"], "a b c d".split(), n=5) == (0, 2, 1, 3)
    assert align([], ["a"]) is None


def test_batch_matches_pair_by_pair_and_marks_missing_with_minus_one():
    lefts = [QUOTE, "nothing shared at all with the other", QUOTE, None]
    rights = [STORY, STORY, QUOTE.upper(), STORY]
    arrays = passage_spans(lefts, rights)
    assert all(array.dtype.name == "int32" and len(array) == 4 for array in arrays)
    columns = [array.tolist() for array in arrays]
    assert [tuple(column[0] for column in columns)] == [passage_span(QUOTE, STORY)]
    assert [column[1] for column in columns] == [-1] * 4
    assert [column[2] for column in columns] == [0, len(QUOTE), 0, len(QUOTE)]
    assert [column[3] for column in columns] == [-1] * 4
    with pytest.raises(ValueError):
        passage_spans(["a"], [])


def test_a_latin_line_with_few_spaces_is_cut_into_words_as_the_shingles_do():
    handles = "Follow @politicaltickerFollow @DanaBashCNN"
    assert tokenize(handles).words == ["follow", "politicaltickerfollow", "danabashcnn"]
    assert not _uses_char_ngrams(handles.casefold(), 5)
    # as characters it matched nothing in a spaced paragraph quoting it
    assert passage_span(handles, f"Please {handles} and @CNN") == (0, len(handles), 7, 7 + len(handles))
    assert tokenize("東京都の天気は晴れです").words == list("東京都の天気は晴れです")


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("ab Z@-_1\n\t東京都の天気。éМы")), max_size=60),
       n=st.integers(1, 6))
def test_tokens_are_the_units_of_the_shingles(text, n):
    """The shingles' rule for a script without spaces: a text's tokens, joined as the shingles join
    theirs, are its shingles (for a text whose folding keeps its length; ``Straße`` is folded word
    by word here)."""
    if len(text.casefold()) != len(text):
        return
    words = tokenize(text, n).words
    joiner = "" if _uses_char_ngrams(text.casefold(), n) else " "
    expected = shingles(text, n)
    if len(words) < n:
        assert expected == ([joiner.join(words)] if words else [])
    else:
        assert expected == [joiner.join(words[i:i + n]) for i in range(len(words) - n + 1)]


# ------------------------------------------------------------------ the fast path against the reference

LATIN = ["the", "council", "will", "not", "raise", "levy", "this", "year", "We", "WE", "said", "mayor", "fund",
         "reserve", "e-mail", "email", "x_1", "42", "la", "go", "team"]
ODD = ["Straße", "STRASSE", "strasse", "İstanbul", "istanbul", "ﬁne", "fine", "ŉ", "\u212aelvin", "ſ"]
CYRILLIC = ["Мы", "не", "будем", "повышать", "НАЛОГИ", "налоги", "в", "этом", "году", "Ёлка", "ёлка"]
CJK = list("東京都の天気は晴れです気象庁雨。、「」")
SEPARATORS = [" ", " ", " ", " ", ", ", ". ", " — ", "\n", ' "', '" ', "  ", "'", "\t", " «", "» "]


@st.composite
def edited(draw, units: list[str]) -> list[str]:
    """A copy of ``units`` with a few words replaced, inserted and dropped."""
    units = list(units)
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["replace", "insert", "drop"]))
        at = draw(st.integers(0, len(units)))
        word = draw(st.sampled_from(LATIN + ODD + CYRILLIC))
        if op == "insert":
            units.insert(at, word)
        elif at < len(units):
            if op == "replace":
                units[at] = word
            else:
                del units[at]
    return units


@st.composite
def rendered(draw, units: list[str], spaced: bool) -> str:
    cases = (str, str, str, str.upper, str.title, str.casefold)
    parts = [draw(st.sampled_from(cases))(unit) for unit in units]
    if not spaced:
        return "".join(parts)
    seps = draw(st.lists(st.sampled_from(SEPARATORS), min_size=len(parts), max_size=len(parts)))
    return draw(st.sampled_from(["", '"', "“", " "])) + "".join(p + s for p, s in zip(parts, seps))


@st.composite
def text_pairs(draw) -> tuple[str | None, str | None]:
    """A pair: a quote with edits wrapped in other words, a repeated phrase, tiny texts, unrelated
    texts, Cyrillic, CJK without spaces, Latin with few spaces, arbitrary characters."""
    kind = draw(st.sampled_from(["quote", "quote", "repeat", "tiny", "unrelated", "cyrillic", "cjk", "handles",
                                 "unicode", "none"]))
    if kind == "none":
        return draw(st.sampled_from([None, "one two three four five"])), draw(st.sampled_from([None, ""]))
    if kind == "unicode":
        alphabet = st.characters(exclude_categories=())  # surrogates too
        shared = draw(st.text(alphabet, max_size=40))
        return (draw(st.text(alphabet, max_size=8)) + shared,
                draw(st.text(alphabet, max_size=20)) + shared + draw(st.text(alphabet, max_size=20)))
    spaced = kind not in ("cjk", "handles")
    vocabulary = {"cyrillic": CYRILLIC, "cjk": CJK}.get(kind, LATIN + ODD)
    if kind == "handles":
        vocabulary = ["Follow", "@", "politicalticker", "DanaBashCNN", " ", "CNN", "news"]
    if kind == "repeat":
        phrase = draw(st.lists(st.sampled_from(vocabulary), min_size=1, max_size=3))
        base = phrase * draw(st.integers(1, 2 * MAX_REPEATS + 2))
    else:
        base = draw(st.lists(st.sampled_from(vocabulary), max_size=4 if kind == "tiny" else 60))
    if kind == "unrelated":
        other = draw(st.lists(st.sampled_from(CYRILLIC), max_size=40))
    else:
        start = draw(st.integers(0, len(base)))
        end = draw(st.integers(start, len(base)))
        other = (draw(st.lists(st.sampled_from(vocabulary), max_size=15)) + draw(edited(base[start:end]))
                 + draw(st.lists(st.sampled_from(vocabulary), max_size=15)))
    left, right = draw(rendered(base, spaced)), draw(rendered(other, spaced))
    return (left, right) if draw(st.booleans()) else (right, left)


def reference_spans(lefts, rights, n=5, gap=None) -> list[tuple[int, int, int, int]]:
    """:func:`passage_span` (pure Python, on :func:`align`) pair by pair, -1 for no span."""
    return [(-1,) * 4 if left is None or right is None or (span := passage_span(left, right, n, gap))[0] is None
            else span for left, right in zip(lefts, rights)]


def fast_spans(lefts, rights, n=5, gap=None) -> list[tuple[int, int, int, int]]:
    return list(zip(*(array.tolist() for array in passage_spans(lefts, rights, n, gap))))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(pairs=st.lists(text_pairs(), min_size=1, max_size=8), n=st.sampled_from([1, 2, 3, 5, 5, 5, 7]),
       gap=st.sampled_from([None, None, 0, 1, 3, 8]))
def test_the_batch_kernel_gives_the_reference_spans(pairs, n, gap):
    lefts = [left for left, _ in pairs]
    rights = [right for _, right in pairs]
    # a text shared by two pairs, and a pair of a text with itself
    lefts.append(rights[0])
    rights.append(lefts[0] if lefts[0] is not None else rights[-1])
    assert fast_spans(lefts, rights, n, gap) == reference_spans(lefts, rights, n, gap)


def test_the_batch_kernel_gives_the_reference_spans_on_many_pairs_in_many_batches():
    """Thousands of generated pairs in one call, cut into batches of a few texts (texts shared
    across batches are tokenized in each)."""
    rng = random.Random(7)
    vocabulary = LATIN + ODD + CYRILLIC + ["a", "b", "c"]
    texts = [" ".join(rng.choices(vocabulary, k=rng.randint(0, 80))) for _ in range(300)]
    texts += ["".join(rng.choices(CJK, k=rng.randint(0, 60))) for _ in range(50)]
    lefts, rights = [], []
    for _ in range(3000):
        left = rng.choice(texts)
        words = left.split()
        start = rng.randint(0, len(words))
        piece = words[start:rng.randint(start, len(words))]
        for _ in range(rng.randint(0, 3)):
            if piece:
                piece[rng.randrange(len(piece))] = rng.choice(vocabulary)
        right = " ".join(rng.choices(vocabulary, k=rng.randint(0, 10)) + piece + rng.choices(vocabulary, k=5))
        if not words:  # a CJK text: its middle
            right = f"気象庁{left[len(left) // 3:]}雨"
        lefts.append(left)
        rights.append(rng.choice([right, rng.choice(texts), left]))
    # n-grams at about MAX_REPEATS positions in the right text: the cap, either side
    for times in range(MAX_REPEATS - 1, MAX_REPEATS + 7):
        for phrase in (["go"], ["go", "team"], ["go", "team", "go"]):
            chant = " ".join(phrase * times)
            lefts += [f"{chant} and then the crowd went home", chant]
            rights += [f"They sang {chant} and then the crowd went home.", f"{chant} {chant}"]
    expected = reference_spans(lefts, rights)
    assert 1000 < sum(span[0] >= 0 for span in expected) < 2900
    assert fast_spans(lefts, rights) == expected
    with mock.patch.object(spans, "_BATCH_CHARS", 500):
        assert fast_spans(lefts, rights) == expected
        assert fast_spans(lefts, rights, n=3, gap=1) == reference_spans(lefts, rights, n=3, gap=1)



# ------------------------------------------------------------------------------ a real run


@pytest.fixture(scope="module")
def seed_tables(seed_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("spans-out")
    run([seed_corpus], out, workers=1)
    return {name: pl.read_parquet(out / f"{name}.parquet") for name in ("paragraphs", "links")}


def test_seed_run_gives_every_contained_link_a_span_over_the_same_words(seed_tables):
    links, paragraphs = seed_tables["links"], seed_tables["paragraphs"]
    for column in ("left_start", "left_end", "right_start", "right_end"):
        assert links.schema[column] == pl.Int32
    texts = dict(paragraphs.select("paragraph_id", "text").iter_rows())
    contained = links.filter(pl.col("kind") == "contained")
    assert contained.height >= 15
    assert contained["left_start"].null_count() == 0  # every one of them has a span
    for link in contained.iter_rows(named=True):
        left, right = texts[link["left_id"]], texts[link["right_id"]]
        assert 0 <= link["left_start"] < link["left_end"] <= len(left)
        assert 0 <= link["right_start"] < link["right_end"] <= len(right)
        left_words = folded_words(left[link["left_start"]:link["left_end"]])
        right_words = folded_words(right[link["right_start"]:link["right_end"]])
        assert left_words == right_words and len(left_words) >= 10, link
    # exact and near links have no span: their whole paragraphs are the passage
    others = links.filter(pl.col("kind") != "contained")
    assert others.height >= 1
    assert others.select(pl.col("left_start", "left_end", "right_start", "right_end").is_null().all()).row(0) == (True,) * 4


def test_links_to_an_earlier_output_get_spans_from_its_paragraphs(incremental_runs):
    """``--against``: a contained link's earlier end is read from the earlier output's paragraphs.

    The wire's story in crawl1 (out1), the outlets that reprint and quote it in crawl2, run
    ``--against out1`` (out2): the real command's runs of tests/conftest.py, shared with other files."""
    runs = incremental_runs
    texts = {pid: text for out in ("out1", "out2")
             for pid, text in pl.read_parquet(runs / out / "paragraphs.parquet", columns=["paragraph_id", "text"]).iter_rows()}
    earlier = set(pl.read_parquet(runs / "out1" / "paragraphs.parquet")["paragraph_id"])
    contained = pl.read_parquet(runs / "out2" / "links.parquet").filter(pl.col("kind") == "contained")
    across = contained.filter(pl.col("left_id").is_in(list(earlier)) | pl.col("right_id").is_in(list(earlier)))
    assert across.height >= 2  # the Lantern's quote and the Tribune's edited paragraph, of the wire's story
    for link in across.iter_rows(named=True):
        assert link["left_start"] is not None, link
        left = texts[link["left_id"]][link["left_start"]:link["left_end"]]
        right = texts[link["right_id"]][link["right_start"]:link["right_end"]]
        assert len(folded_words(left)) >= 10
        assert folded_words(left)[:5] == folded_words(right)[:5] and folded_words(left)[-5:] == folded_words(right)[-5:]
