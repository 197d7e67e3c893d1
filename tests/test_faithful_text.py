"""Faithful text: the stored text keeps the author's characters; the match key folds for matching.

Properties (hypothesis) of :func:`~corpusclean.text.normalize.faithful` and
:func:`~corpusclean.text.normalize.match_key`, the offsets between them, and one real run of the CLI
on an HTML page with ``½``, ``™``, ``m²``, „quotes“ and an em dash beside ASCII copies of its
paragraphs on another outlet.
"""

from __future__ import annotations

import json
import re
import unicodedata

import ftfy
import polars as pl
import pytest
from hypothesis import assume, given, settings, strategies as st

from corpusclean import run
from corpusclean.dedup.fingerprints import fingerprint_table
from corpusclean.dedup.spans import passage_span, tokenize
from corpusclean.text.normalize import (CONTROLS, FTFY_CONFIG, INVISIBLE, _BEFORE_REPAIR, _TERMINAL_ESCAPE,
                                        _faithful_once, cut_in_text, faithful,
                                        key_offsets, match_key, span_in_text, stored_form)
from corpusclean.text.segment import split_units
from tests.conftest import corpusclean

# characters the two forms care about, mixed into arbitrary ones (surrogates aside: not text)
_TRICKY = st.sampled_from(list("\u00a0\u200b\u200c\u200d\u2060\ufeff\u00ad\u201c\u201d\u201e\u2018\u2019\u2014"
                               "\u2013\u2212\u2033\u0301\u0308\ufb01\uff21\u2126\u00ab\u00bb\u00bd\u2122\u00b2"
                               "\u2026\t\n\r \u3000\u2009\x00\x07\x1b\x85\x93\x96\u00c3\u00a9\u00e2\u20ac"))
_TEXT = st.lists(st.one_of(st.characters(blacklist_categories=("Cs",)), _TRICKY), max_size=80).map("".join)
# real mojibake: UTF-8 read as Windows-1252 or Latin-1, inside ordinary text
_WORDS = st.lists(st.sampled_from(["Café", "naïve", "Zürich", "crème brûlée", "São Paulo", "“quoted”",
                                   "it’s", "—", "½", "news", "the", "2024", "Łódź", "Ελλάδα", "Москва"]),
                  min_size=1, max_size=12).map(" ".join)

#: what the stored form may drop: controls, the zero-width characters, white space (folded)
_DROPPED = frozenset(CONTROLS + INVISIBLE)


def _visible(text: str) -> list[str]:
    """The characters that must survive, in order, after NFC: all but controls, zero-width and space."""
    return [c for c in unicodedata.normalize("NFC", text) if c not in _DROPPED and not c.isspace()]


def _repair_fires(text: str) -> bool:
    """Whether ftfy changes the text beyond NFC (a mojibake repair: exempt from keeping) in any of
    :func:`faithful`'s rounds (a deletion can bring together mojibake the next round repairs)."""
    for _ in range(4):
        seen = _BEFORE_REPAIR.sub("", _TERMINAL_ESCAPE.sub("", text))  # what ftfy is shown
        if ftfy.fix_text(seen, FTFY_CONFIG) != unicodedata.normalize("NFC", seen):
            return True
        following = _faithful_once(text)
        if following == text:
            return False
        text = following
    return False


@settings(max_examples=600, deadline=None)
@given(_TEXT)
def test_stored_text_keeps_every_visible_character(text):
    """Every letter, digit, mark, symbol and punctuation character (and ZWJ, ZWNJ, bidi marks)
    stays, in order; only controls, zero-width characters, white space, terminal escapes and
    repaired mojibake change (README: "Normalization, two forms")."""
    assume(not _repair_fires(text))
    expected = _visible(_TERMINAL_ESCAPE.sub("", text).translate({ord(c): None for c in _DROPPED}))
    assert _visible(faithful(text)) == expected
    # compared by category too, as the issue states it
    categories = [unicodedata.category(c) for c in faithful(text) if not c.isspace()]
    assert categories == [unicodedata.category(c) for c in expected]


@settings(max_examples=600, deadline=None)
@given(st.one_of(_TEXT, _WORDS, _WORDS.map(lambda t: t.encode("utf-8").decode("cp1252", "replace"))))
def test_both_forms_are_idempotent(text):
    stored = faithful(text)
    assert faithful(stored) == stored
    key = match_key(text)
    assert match_key(key) == key
    assert match_key(stored) == match_key(match_key(stored))
    folded = stored_form(True)(text)
    assert stored_form(True)(folded) == folded


@settings(max_examples=300, deadline=None)
@given(_WORDS)
def test_mojibake_is_repaired(text):
    """UTF-8 read as Windows-1252 or as Latin-1 comes back as written."""
    expected = faithful(text)
    assert faithful(text.encode("utf-8").decode("latin-1")) == expected or not text.isascii()
    try:
        broken = text.encode("utf-8").decode("cp1252")
    except UnicodeDecodeError:  # a byte cp1252 leaves undefined: ftfy's sloppy codec case
        return
    assert faithful(broken) == expected


def test_faithful_examples():
    assert faithful("\u201eKosten\u201c \u2014 \u00bd m\u00b2, Reign\u2122\u00a0 ") == "\u201eKosten\u201c \u2014 \u00bd m\u00b2, Reign\u2122"
    assert faithful("a\u200bb\u00adc\u2060d\ufeff e\x00f\x07") == "abcd ef"
    assert faithful("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645") == "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # ZWNJ kept
    assert faithful("e\u0301t\u00e9") == "\u00e9t\u00e9"  # NFC
    assert faithful("of\ufb01ce \uff21\uff22") == "of\ufb01ce \uff21\uff22"  # ligature and full width kept
    assert faithful("The \u00e2\u20ac\u0153Trump\u00e2\u20ac\u009d era") == "The \u201cTrump\u201d era"
    assert faithful("Juan Santamar\u00c3\u00ada Airport") == "Juan Santamar\u00eda Airport"
    assert faithful("said not \x96 espe") == "said not \u2013 espe"  # Windows-1252 read as Latin-1
    assert faithful("\x1b[31mred\x1b[0m text") == "red text"
    assert faithful("&amp; stays") == "&amp; stays"
    # text that only looks odd is left alone
    for text in ("Ã la carte, façade", "Москва «слово»", "naïve café — “quoted”", "東京都の天気。"):
        assert faithful(text) == text


def test_match_key_folds_as_before():
    assert match_key("\u201cWe\u2019re\u00a0ready\u201d \u2014 she said\u200b  ") == "\"We're ready\" - she said"
    assert match_key("\u00bd m\u00b2 Reign\u2122 \u2026") == "1\u20442 m2 ReignTM ..."


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abc XYZ.,;!?019")) | st.sampled_from(list("\"'-")), min_size=1,
               max_size=60), st.randoms(use_true_random=False))
def test_curly_quoted_twin_has_the_same_key(ascii_text, random):
    """A paragraph with typographic quotes, apostrophes and dashes matches its ASCII twin: same key,
    same exact hash input, same shingles."""
    def curl(char: str) -> str:
        options = {'"': "\u201c\u201d\u201e\u00ab\u00bb", "'": "\u2018\u2019\u201a", "-": "\u2013\u2014\u2212\u2010"}
        return random.choice(options[char]) if char in options else char
    curly = "".join(curl(c) for c in ascii_text)
    assert match_key(faithful(curly)) == match_key(faithful(ascii_text))
    frame = pl.DataFrame({"paragraph_id": ["a", "b"], "text": [faithful(curly), faithful(ascii_text)]})
    table = fingerprint_table(frame, {"shingle_size": 5, "num_perm": 16, "minhash_seed": 1, "near_threshold": 0.8})
    assert table["shingles"][0].to_list() == table["shingles"][1].to_list()


@settings(max_examples=400, deadline=None)
@given(_TEXT)
def test_key_offsets_point_into_the_text(text):
    stored = faithful(text)
    key, owner = key_offsets(stored)
    assert key == match_key(stored)
    if owner is None:
        return
    assert len(owner) == len(key)
    assert all(0 <= o < len(stored) for o in owner)
    assert owner == sorted(owner)
    start, end = span_in_text(owner, 0, len(key))
    assert 0 <= start <= end <= len(stored)


def test_rule_cuts_land_on_the_stored_text():
    text = "\u201eTeilen Sie das\u201c \u2014 72 m\u00b2 f\u00fcr \u00bd Million"
    key, owner = key_offsets(text)
    start = key.index("72")
    stored = cut_in_text(text, [(0, start)], key[start:])
    assert stored == "72 m\u00b2 f\u00fcr \u00bd Million"
    # a cut whose result does not fold back to what the rules kept gives the kept key itself
    assert cut_in_text(text, [(0, 1)], "something else") == "something else"


def test_spans_are_offsets_of_the_stored_text():
    quote = "Die Wohnung misst 72 m\u00b2 und kostet \u00bd Million Euro in der Stadt"
    story = '"Die Wohnung misst 72 m2 und kostet 1/2 Million Euro in der Stadt", sagte sie am Montag.'
    left_start, left_end, right_start, right_end = passage_span(quote, story)
    assert quote[left_start:left_end] == quote  # the whole quote: ½ and m² match 1/2 and m2
    assert story[right_start:right_end] == story[1:story.index('",')]
    assert tokenize("\u00bd m\u00b2").words == ["1", "2", "m2"]


def test_split_units_keeps_the_stored_form():
    units = [u.text for u in split_units("\u201cHi\u201d\u00a0there\n\n\u200b\nm\u00b2 \u2014 ok")]
    assert units == ["\u201cHi\u201d there", "m\u00b2 \u2014 ok"]
    folded = [u.text for u in split_units("\u201cHi\u201d\u00a0there", stored_form(True))]
    assert folded == ['"Hi" there']


# ---- end to end: the real CLI, Parquet read back ----

_FAITHFUL_EXACT = ("\u201eDie Wohnung misst 72 m\u00b2 und kostet \u00bd Million\u201c \u2014 sagte die Maklerin von "
                   "Reign\u2122 Estates am Montag in der Stadt, wo die Preise seit Jahren weiter steigen.")
_FAITHFUL_NEAR = ("Der Bauherr rechnet mit \u00bd Jahr Verzug \u2014 die Fl\u00e4che von 900 m\u00b2 wird "
                  "erst im Herbst \u201efreigegeben\u201c, hie\u00df es aus dem Rathaus der Gemeinde am Fluss.")
_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>Wohnungen werden teurer</title></head>
<body><article><h1>Wohnungen werden teurer</h1>
<p>{exact}</p>
<p>Die Stadtverwaltung hat am Dienstag neue Zahlen vorgelegt, die den Anstieg der Mieten in allen
Vierteln zeigen, besonders im Zentrum und entlang der neuen Stra\u00dfenbahnlinie.</p>
<p>{near}</p>
<p>Mieterverb\u00e4nde fordern seit langem eine Begrenzung der Preise und mehr sozialen Wohnungsbau in
den \u00e4u\u00dferen Bezirken, wo noch Fl\u00e4chen frei sind.</p>
</article></body></html>
"""


def _ascii_twin(text: str) -> str:
    return text.translate({0x201E: '"', 0x201C: '"', 0x2014: "-"})


@pytest.fixture(scope="module")
def faithful_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("faithful")
    raw = root / "raw"
    (raw / "stadtblatt").mkdir(parents=True)
    (raw / "kurier").mkdir()
    (raw / "stadtblatt" / "wohnungen.html").write_text(
        _PAGE.format(exact=_FAITHFUL_EXACT, near=_FAITHFUL_NEAR), encoding="utf-8")
    # the other outlet: the first paragraph with ASCII quotes and dash only (an exact copy for the
    # key), the second folded all the way to ASCII (1/2, m2: a near copy)
    near_ascii = _ascii_twin(_FAITHFUL_NEAR).replace("\u00bd", "1/2").replace("m\u00b2", "m2")
    (raw / "kurier" / "mieten.txt").write_text(
        "Mieten steigen weiter\n\n" + _ascii_twin(_FAITHFUL_EXACT) + "\n\n"
        "Ein Sprecher des Senats wollte die Zahlen am Abend nicht kommentieren und verwies auf die "
        "laufenden Beratungen im Ausschuss.\n\n" + near_ascii + "\n", encoding="utf-8")
    tables = {}
    for name, folded in (("faithful", False), ("folded", True)):
        config = root / f"{name}.toml"
        config.write_text(f"[text]\nfolded = {json.dumps(folded)}\n")
        out = root / f"out-{name}"
        if folded:  # the switch: the pipeline in this process
            run([raw], out, config=config, workers=1)
        else:  # the real command line on the page
            done = corpusclean("run", str(raw), "-o", str(out), "--workers", "1", "--config", str(config), cwd=root)
            assert done.returncode == 0, done.stderr
        tables[name] = {table: pl.read_parquet(out / f"{table}.parquet") for table in ("paragraphs", "documents", "links")}
    return tables


def _paragraph(tables, doc_outlet: str, starts: str) -> dict:
    rows = [row for row in tables["paragraphs"].to_dicts()
            if row["outlet"] == doc_outlet and match_key(row["text"]).startswith(match_key(starts))]
    assert len(rows) == 1, (doc_outlet, starts, tables["paragraphs"].select("outlet", "text").rows())
    return rows[0]


def test_run_keeps_the_authors_characters(faithful_run):
    tables = faithful_run["faithful"]
    stored = _paragraph(tables, "stadtblatt", _FAITHFUL_EXACT[:30])
    assert stored["text"] == _FAITHFUL_EXACT
    for char in ("\u00bd", "\u2122", "m\u00b2", "\u201e", "\u201c", "\u2014"):
        assert char in stored["text"]
    assert _paragraph(tables, "stadtblatt", _FAITHFUL_NEAR[:30])["text"] == _FAITHFUL_NEAR
    # documents.text is the paragraphs joined; offsets are those of the stored text
    document = tables["documents"].filter(pl.col("outlet") == "stadtblatt").to_dicts()[0]
    assert document["text"][stored["char_start"]:stored["char_end"]] == _FAITHFUL_EXACT
    # exact_hash is the hash of the key of the stored text: recomputable from paragraphs.parquet
    import xxhash
    for row in tables["paragraphs"].to_dicts():
        assert row["exact_hash"] == xxhash.xxh64_intdigest(match_key(row["text"]).encode("utf-8"), 0)


def test_run_links_the_ascii_copies(faithful_run):
    for name in ("faithful", "folded"):
        tables = faithful_run[name]
        links = {frozenset((row["left_id"], row["right_id"])): row["kind"] for row in tables["links"].to_dicts()}
        pairs = {}
        for text in (_FAITHFUL_EXACT, _FAITHFUL_NEAR):
            a = _paragraph(tables, "stadtblatt", text[:30])["paragraph_id"]
            b = _paragraph(tables, "kurier", _ascii_twin(text)[:20])["paragraph_id"]
            pairs[text] = links.get(frozenset((a, b)))
        assert pairs[_FAITHFUL_EXACT] == "exact", name
        assert pairs[_FAITHFUL_NEAR] == "near", name


def test_folded_switch_stores_the_key(faithful_run):
    tables = faithful_run["folded"]
    stored = _paragraph(tables, "stadtblatt", _FAITHFUL_EXACT[:30])
    assert stored["text"] == match_key(_FAITHFUL_EXACT)
    assert re.fullmatch(r"[\x20-\x7e\u2044\u00e4\u00f6\u00fc\u00df]+", stored["text"])
    assert faithful_run["folded"]["paragraphs"]["config_hash"][0] != faithful_run["faithful"]["paragraphs"]["config_hash"][0]


@settings(max_examples=600, deadline=None)
@given(_TEXT, _TEXT)
def test_key_of_a_join_is_the_join_of_the_keys(left, right):
    """Phase A hashes a rejoined paragraph's key as its units' keys joined by a space
    (corpusclean.clean), which is the key of the stored join."""
    left, right = faithful(left), faithful(right)
    assume(match_key(left) and match_key(right))
    assert match_key(f"{left} {right}") == f"{match_key(left)} {match_key(right)}"


@settings(max_examples=600, deadline=None)
@given(st.one_of(_TEXT, _WORDS))
def test_shingles_of_the_stored_text_are_those_of_its_key(text):
    """fingerprint_table shingles a stored text itself where that gives its key's shingles."""
    from corpusclean.dedup.fingerprints import shingle_text
    from corpusclean.dedup.shingles import shingles

    stored = faithful(text)
    assert shingles(shingle_text(stored)) == shingles(match_key(stored))


def test_a_span_rule_cuts_the_stored_line(tmp_path):
    """generic.photo_credit_prefix (a span rule) judges the key of the line and cuts the stored line:
    the kept title keeps its „quotes“, m² and em dash; the removal row holds the stored characters."""
    from corpusclean.clean import Context, clean_record
    from corpusclean.config import load_config
    from corpusclean.readers.discover import InputFile
    from corpusclean.readers.records import read_records

    title = "\u201eDie Wohnung misst 72 m\u00b2\u201c \u2014 sagt die Maklerin"
    body = ("Die Stadtverwaltung hat am Dienstag neue Zahlen vorgelegt, die den Anstieg der Mieten in "
            "allen Vierteln zeigen, besonders im Zentrum.")
    path = tmp_path / "page.txt"
    path.write_text(f"\u00a9 Reuters/ John Smith {title}\n\n{body}\n", encoding="utf-8")
    context = Context.from_config(load_config())
    record = next(iter(read_records(InputFile(path, "page.txt", None), context.config.section("input"))))
    rows = clean_record(record, context)
    assert [p["text"] for p in rows.paragraphs] == [title, body]
    [removal] = [r for r in rows.removed if r["reason"] == "generic.photo_credit_prefix"]
    assert (removal["char_start"], removal["text"].strip()) == (0, "\u00a9 Reuters/ John Smith")
    assert rows.paragraphs[0]["exact_hash"] != rows.paragraphs[1]["exact_hash"]
