"""The fast pass of trafilatura first, its full pass only where the fast result is suspect.

Real trafilatura throughout: on WCXB pages (``../shared/wcxb-dev-articles``) where the fast pass keeps an
intro, an author box or nothing and the full pass finds the article; on a page written here where the
fast pass keeps only the intro; and on a page where the fast pass is right and the full pass must not
run (counted by wrapping ``trafilatura.bare_extraction``, no timing involved).
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter

import pytest
import trafilatura

from corpusclean.config import load_config
from corpusclean.errors import InputError
from corpusclean.extractors import html as html_extractor
from corpusclean.extractors.html import extract_html, load_tree, visible_words
from tests.conftest import SHARED

WCXB = SHARED / "wcxb-dev-articles"
CONFIG = load_config().section("extract")
FAST_ONLY = {**CONFIG, "fallback_share": 0.0}
#: the fallback on trafilatura's plain fast pass (favor_recall off), where the pages below need it
PLAIN = {**CONFIG, "favor_recall": False}
PLAIN_FAST_ONLY = {**PLAIN, "fallback_share": 0.0}

INTRO = ("The harbour board met on Monday to decide the future of the old quay, which has been closed to ships "
         "since the storm of last winter damaged its eastern wall.",
         "Its members heard engineers, fishermen and the port authority for most of the afternoon before they "
         "adjourned without a vote late in the evening.")
TOWNS = ("Arden", "Bexley", "Corran", "Dunmore", "Elgin", "Fenwick", "Garston", "Hollin", "Irvine", "Jarrow",
         "Kelso", "Lanark", "Moray", "Nairn", "Oban", "Perth", "Quarry Bay", "Rosyth", "Stirling", "Thurso")
ARTICLE = tuple(f"In {town}, where the ferry to the islands leaves at {6 + i % 5} o'clock every morning, the council "
                f"spent {i + 2} million on a similar wall in {1990 + i} and the works took {i % 3 + 1} years, the "
                "engineers said, adding that the tides there are much stronger than here."
                for i, town in enumerate(TOWNS))
_HEAD = ("<html><head><title>The quay</title></head><body><header><nav><a href='/'>Home</a> "
         "<a href='/news'>News</a></nav></header>")
_FOOT = "<footer><p>Copyright the Harbour News</p></footer></body></html>"
#: the article's <article> holds only its intro; the story itself sits in a plain <div> after it
INTRO_ONLY_PAGE = (_HEAD + "<main><article><div class='entry-content'><h1>The quay</h1>"
                   + "".join(f"<p>{p}</p>" for p in INTRO) + "</div></article></main><div class='wrap'>"
                   + "".join(f"<p>{p}</p>" for p in ARTICLE) + "</div>" + _FOOT)
#: the same story, all of it inside the <article>: the fast pass finds it
WELL_FORMED_PAGE = (_HEAD + "<main><article><div class='entry-content'><h1>The quay</h1>"
                    + "".join(f"<p>{p}</p>" for p in INTRO + ARTICLE) + "</div></article></main>" + _FOOT)


@pytest.fixture
def passes(monkeypatch) -> list[bool]:
    """The ``fast`` flag of every trafilatura pass extract_html runs, in order."""
    calls: list[bool] = []
    real = trafilatura.bare_extraction

    def counting(*args, **kwargs):
        calls.append(kwargs["fast"])
        return real(*args, **kwargs)

    monkeypatch.setattr(html_extractor.trafilatura, "bare_extraction", counting)
    return calls


def _recall(predicted: str, truth: str) -> float:
    """Share of the truth's token 4-grams (multiset) found in ``predicted``, the benchmarks' recall."""
    def grams(text: str) -> Counter:
        tokens = re.findall(r"\w+", text)
        return Counter(tuple(tokens[i:i + 4]) for i in range(len(tokens) - 3))
    p, t = grams(predicted), grams(truth)
    return sum((p & t).values()) / sum(t.values())


def test_default_config_runs_the_fast_pass_with_fallback():
    assert CONFIG["fast"] is True
    assert 0 < CONFIG["fallback_share"] < 1


def test_intro_only_page_falls_back_to_the_full_pass(passes):
    fast_text = trafilatura.extract(INTRO_ONLY_PAGE, include_comments=False, fast=True)
    assert "Arden" not in fast_text and "Thurso" not in fast_text  # the premise: fast keeps the intro only
    passes.clear()

    extracted = extract_html(INTRO_ONLY_PAGE, CONFIG)
    assert passes == [True, False]  # fast, then full
    assert extracted.fallback == "kept"
    for paragraph in ARTICLE:
        assert paragraph in extracted.body
    # the fast result was short against what the page shows
    assert len(fast_text.split()) < CONFIG["fallback_share"] * visible_words(load_tree(INTRO_ONLY_PAGE))


def test_fallback_off_keeps_the_fast_result(passes):
    extracted = extract_html(INTRO_ONLY_PAGE, FAST_ONLY)
    assert passes == [True]
    assert extracted.fallback is None
    assert "Arden" not in extracted.body


def test_good_fast_result_runs_one_pass(passes):
    extracted = extract_html(WELL_FORMED_PAGE, CONFIG)
    assert passes == [True]  # no full pass
    assert extracted.fallback is None
    for paragraph in INTRO + ARTICLE:
        assert paragraph in extracted.body


def test_full_pass_config_runs_one_full_pass(passes):
    extracted = extract_html(INTRO_ONLY_PAGE, {**CONFIG, "fast": False})
    assert passes == [False]
    assert extracted.fallback is None
    assert ARTICLE[0] in extracted.body


def test_visible_words_skip_scripts_and_styles():
    page = ("<html><head><title>x y</title><style>p { color: red }</style></head><body><p>one two three</p>"
            "<script>var a = 1; var b = 2;</script><div>four <b>five</b> six</div><noscript>seven</noscript>"
            "</body></html>")
    assert visible_words(load_tree(page)) == 6


def _wcxb(page_id: str) -> tuple[str, str]:
    if not (WCXB / "html").is_dir():
        pytest.skip(f"{WCXB} is absent (it sits beside the checkout in CI)")
    html = gzip.decompress((WCXB / "html" / f"{page_id}.html.gz").read_bytes()).decode("utf-8", "replace")
    truth = json.loads((WCXB / "ground-truth" / f"{page_id}.json").read_text("utf-8"))
    return html, truth["ground_truth"]["main_content"]


@pytest.mark.parametrize("page_id, fast_keeps", [
    ("4459", "nothing (refused)"),
    ("4666", "a box beside the article"),
    ("4096", "the first paragraph"),
    ("4815", "the author box"),
])
def test_wcxb_pages_the_fast_pass_misses_are_recovered(page_id, fast_keeps, passes):
    html, truth = _wcxb(page_id)
    try:
        fast_body = extract_html(html, PLAIN_FAST_ONLY).body
    except InputError as exc:
        assert exc.error_type == "no_article"
        fast_body = ""
    assert _recall(fast_body, truth) < 0.1, fast_keeps
    passes.clear()

    extracted = extract_html(html, PLAIN)
    assert passes == [True, False]
    assert extracted.fallback == "kept"
    assert _recall(extracted.body, truth) > 0.9
    # the default config (favor_recall) finds the article too, by either pass
    assert _recall(extract_html(html, CONFIG).body, truth) > 0.9


def test_favor_recall_fast_pass_finds_a_page_the_plain_fast_pass_refuses(passes):
    html, truth = _wcxb("4459")
    with pytest.raises(InputError):
        extract_html(html, PLAIN_FAST_ONLY)
    passes.clear()
    extracted = extract_html(html, CONFIG)
    assert passes == [True]  # no full pass needed
    assert _recall(extracted.body, truth) > 0.9


def test_wcxb_page_the_fast_pass_gets_right_runs_one_pass(passes):
    html, truth = _wcxb("0001")
    extracted = extract_html(html, CONFIG)
    assert passes == [True]
    assert extracted.fallback is None
    assert _recall(extracted.body, truth) > 0.9
