"""Normalization, segmentation, titles and the text/Markdown parser: examples and properties.

``normalize`` is the match key (``match_key``, the folded form rules and hashes see); the stored form,
``faithful``, has its own properties in ``tests/test_faithful_text.py``.
"""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings, strategies as st

from corpusclean.extractors.text import markdown_to_text, parse_text
from corpusclean.filters.titles import split_title
from corpusclean.text.normalize import faithful, match_key, normalize
from corpusclean.text.segment import is_broken_pair, rejoin_broken, split_units, word_count

# Text with the characters normalization cares about mixed into ordinary ones.
_TRICKY = st.sampled_from(list("\u00a0\u200b\u2060\ufeff\u00ad\u201c\u201d\u2018\u2019\u2014\u2013\u2212\u2033"
                               "\u0301\u0308\ufb01\uff21\u2126\u00ab\u00bb\t\n\r \u3000\u2009"))
_TEXT = st.lists(st.one_of(st.characters(blacklist_categories=("Cs",)), _TRICKY), max_size=80).map("".join)


def _letters_and_digits(text: str) -> list[str]:
    decomposed = unicodedata.normalize("NFKD", text)
    return [c for c in decomposed if c.isalnum() and not unicodedata.category(c).startswith("M")]


@settings(max_examples=400)
@given(_TEXT)
def test_normalize_is_idempotent(text):
    once = normalize(text)
    assert normalize(once) == once


@settings(max_examples=400)
@given(_TEXT)
def test_normalize_never_drops_a_letter_or_digit(text):
    assert _letters_and_digits(normalize(text)) == _letters_and_digits(text)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=60))
def test_normalize_fast_path_equals_the_general_one(text):
    from corpusclean.text.normalize import _normalize_general

    assert normalize(text) == _normalize_general(text)


def test_normalize_is_the_match_key():
    assert normalize is match_key


def test_units_are_stored_text_and_their_keys_fold():
    units = [u.text for u in split_units("\u201cWe\u2019re\u00a0ready\u201d \u2014 \u00bd m\u00b2\u200b\n\n\ufb01ne")]
    assert units == ["\u201cWe\u2019re ready\u201d \u2014 \u00bd m\u00b2", "\ufb01ne"]
    assert [match_key(u) for u in units] == ['"We\'re ready" - 1\u20442 m2', "fine"]
    assert all(faithful(u) == u for u in units)


def test_typographic_closing_marks_end_a_paragraph():
    """Rejoining decides on the stored text as it did on the folded one."""
    for end in ("\u201d", "\u2019", "\u00bb", "\u203a", "\uff0e", "\u2026"):
        assert not is_broken_pair(f"He said \u201cit is done{end}", "then they left")
    assert is_broken_pair("the electoral legislation \u2014", "structured in such a way")


def test_normalize_examples():
    assert normalize("\u201cWe\u2019re\u00a0ready\u201d \u2014 she said\u200b  ") == "\"We're ready\" - she said"
    assert normalize("\u00abПривет\u00bb\u00a0мир") == '"Привет" мир'
    assert normalize("of\ufb01ce \uff21\uff22") == "office AB"
    assert normalize("line\nbreak\tand   spaces") == "line break and spaces"


@settings(max_examples=300)
@given(st.lists(st.text(alphabet=st.sampled_from(list("abc ABC.,\u00a0")), min_size=1, max_size=30), max_size=12))
def test_rejoining_gives_back_the_text(paragraphs):
    """Joining the rejoined paragraphs gives the same words as joining the originals."""
    units = [normalize(p) for p in paragraphs if normalize(p)]
    joined = rejoin_broken(units)
    assert " ".join(text for text, _ in joined) == " ".join(units)
    assert [i for _, sources in joined for i in sources] == list(range(len(units)))


def test_broken_paragraph_rules():
    assert is_broken_pair("the electoral legislation are", "structured in such a way")
    assert not is_broken_pair("The vote passed.", "then they left")
    assert not is_broken_pair("Region: Europe", "Theme: Energy")
    assert not is_broken_pair("He said", "\"It is done.\"")
    units = [u.text for u in split_units("The council met with\n\n\u00a0\n\ntwo firms.\nNext paragraph.")]
    assert units == ["The council met with", "two firms.", "Next paragraph."]
    assert [t for t, _ in rejoin_broken(units)] == ["The council met with two firms.", "Next paragraph."]


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab \t\n.,")) | st.characters(max_codepoint=127), max_size=40))
def test_word_count_fast_path_counts_like_split(text):
    has_letter_or_digit = any(c.isalnum() for c in text)
    assert word_count(text) == (len(text.split()) if has_letter_or_digit else 0)


@pytest.mark.parametrize("separator", ["* * *", "• • •", "- - -", "___", "~ ~ ~ ~"])
def test_a_line_without_letters_or_digits_has_no_words(separator):
    # such lines are separators: with words they were linked across the corpus as exact duplicates
    assert word_count(separator) == 0


def test_word_count_handles_scripts_without_spaces():
    assert word_count("A short sentence here.") == 4
    assert word_count("東京都は新しい計画を発表した") == 14


def test_titles():
    split = split_title(["Harbour plan approved", "Harbour plan approved", "The plan passed."], None)
    assert split.title == "Harbour plan approved" and split.body == ["The plan passed."] and split.repeats == [1]
    # a first line ending in a full stop is a sentence, not a headline
    assert split_title(["It rained.", "More text."], None).title is None
    # a metadata title with the site name after a separator still matches the first line
    split = split_title(["Harbour plan approved", "Body text here."], "Harbour plan approved | Harbor Tribune")
    assert split.title == "Harbour plan approved" and split.body == ["Body text here."]


def test_markdown_to_text():
    text = "By [Jane Roe](#) and [Staff](https://x.example)\n# Heading\n**Bold** and *it* and ![img](a.png) x"
    assert markdown_to_text(text) == "By Jane Roe and Staff\nHeading\nBold and it and  x"
    assert markdown_to_text("2 * 3 * 4 and snake_case_name") == "2 * 3 * 4 and snake_case_name"


def test_date_prefix_is_removed_and_recorded():
    parsed = parse_text("date 2017-06-05 \u00a9 Agency/ Jo Bloggs Title here\n\nBody.", markdown=False)
    assert parsed.date == "2017-06-05"
    assert parsed.body.startswith("\u00a9 Agency/ Jo Bloggs Title here")
    assert parsed.removed == [("date 2017-06-05", "text.date_prefix")]


@settings(max_examples=300)
@given(st.text(max_size=200))
def test_text_parser_never_raises_and_keeps_plain_words(text):
    parsed = parse_text(text, markdown=True)
    assert isinstance(parsed.body, str)
    # words outside any markup survive
    for word in text.split():
        if word.isalpha():
            assert word in parsed.body or word.lower() == "date"
