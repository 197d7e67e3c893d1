"""Page metadata (title, author, URL, date, site name) from the tree trafilatura parsed, for less CPU.

:func:`page_metadata` gives the same :class:`trafilatura.settings.Document` fields as the
``page_metadata`` that lived in ``extractors/html.py`` (trafilatura's metadata functions called one by
one, in ``extract_metadata``'s order, without categories, tags and licence), on the same parsed tree,
never copying or changing it. What is done differently, each measured on ``../shared/aeb`` (181 pages)
and ``../shared/wcxb-dev-articles`` (791) with ``benchmarks/metadata_quality.py``:

* **Author** (trafilatura's ``extract_author``): it deep-copies the whole tree, prunes the copy with
  two XPaths (comments, sidebars, ``<time>``, ``<figure>`` ...) and runs up to three XPaths whose
  ``re:test()`` calls into Python's ``re`` for every element: 8.8 ms on each page where it runs (262
  of 487 pages sampled from both sets: those without an author in ``<meta>`` or JSON-LD), the
  biggest cost after the date. Here one libxml2 XPath with plain ``contains()`` finds the few elements any of the three
  could select (a superset), Python sorts them into the three expressions with the same regular
  expressions, and the pruning is only *checked* on the winning candidates' ancestors and read past
  in their text (:func:`_pruned_text`: a pruned element's tail joins the text before it, as
  ``delete_element`` does). Same author on all 972 pages; 4.1 ms where it runs (same pages, same
  run). What is left is that one XPath's ~20 ``contains()`` tests on every element.
* **JSON-LD**: trafilatura's ``normalize_json`` drops surrogates with a Python loop over every
  character of every script; here one regular expression. Same result; ``<meta>`` + JSON-LD 1.0 ->
  0.5 ms a page.
* **Title**: ``extract_title``'s first XPath uses ``re:test()`` too; written with ``contains()``.
* **Date**: htmldate's ``find_date`` with trafilatura's settings (``extensive_search``,
  ``original_date``, ``max_date`` today), step by step (:func:`page_date`), **without its last
  resort** ``search_page``: regular expressions over the whole serialized page (tens of ms on a big
  page) that, when nothing in the markup or text dates the page, take a copyright year (as 1 January),
  a date in an image file name, a script or a link. On WCXB that guess fires on 86 pages: 2 right, 9
  wrong against ``publish_date``, and 75 dates on the 133 pages that have none. Without it: 556
  instead of 558 of 656 exact days, 89 instead of 97 wrong dates, 56 instead of 131 dates where the
  ground truth has none; every date it does give is ``find_date``'s. ``page_search=True`` calls
  ``find_date`` itself (identical to before on all 972 pages).
* **Not changed**, measured: htmldate already reads the cheap evidence first (the URL, ``<meta>``
  dates, JSON-LD, ``<abbr>``), so a fast path of our own before it would only repeat it. It deep-copies
  the tree only when those fail (it prunes the copy) and we keep that. Its text dates go to dateparser
  (``extensive_search``): 0.8 ms a page and a one-time 1.6-2.2 CPU s per process to compile its
  locales, for 2 more exact days on WCXB (554 without it); kept, so dates stay as good as before.
  ``examine_meta``, ``extract_url`` and ``extract_sitename`` are trafilatura's, cheap (0.6, <0.1 and
  0.2 ms).

CPU per page of the call alone, steady state (dateparser warmed up): AEB 4.2 -> 2.7 ms, WCXB 12.3 ->
6.6 ms (trafilatura's ``extract_metadata``: 6.5 and 17.1); on WCXB what is left is mostly the date
(4.2 ms a page) and the author (2.3 ms a page averaged over all pages). Title, author, site name
and URL are equal to the old function's on all 972 pages, the date on all but the 86 above.
"""

from __future__ import annotations

import functools
import json
import re
from copy import deepcopy
from datetime import datetime
from html import unescape

from htmldate import core as _hd
from htmldate import find_date
from htmldate.utils import Extractor
from htmldate.validators import check_extracted_reference, get_max_date, get_min_date
from lxml.etree import XPath
from trafilatura import metadata as _tm
from trafilatura.baseline import block_text
from trafilatura.json_metadata import (JSON_UNICODE_REPLACE, extract_json, extract_json_parse_error,
                                       normalize_authors)
from trafilatura.settings import Document
from trafilatura.utils import HTML_STRIP_TAGS, trim

# trafilatura.xpaths.TITLE_XPATHS[0] with each re:test() of an
# unanchored alternation of literals written as contains() (and '^x' as starts-with()): the same
# elements, but libxml2 evaluates them without a call into Python's re for every element.
TITLE_XPATHS = [
    XPath("""
        //*[self::h1 or self::h2][
        contains(@class, 'post-title') or contains(@class, 'entry-title') or
        contains(@class, 'article-title') or contains(@class, 'post__title') or
        contains(@class, 'headline') or
        contains(@id, 'headline') or contains(@itemprop, 'headline')]
        """),
    *_tm.TITLE_XPATHS[1:],
]
_SURROGATES = re.compile("[\ud800-\udfff]")
_JSON_LD = XPath('.//script[@type="application/ld+json" or @type="application/settings+json"]')


def _normalize_json(string: str) -> str:
    """trafilatura.json_metadata.normalize_json, with its per-character surrogate filter as one regex."""
    if "\\" in string:
        string = string.replace("\\n", "").replace("\\r", "").replace("\\t", "")
        string = JSON_UNICODE_REPLACE.sub(lambda match: chr(int(match[1], 16)), string)
        string = _SURROGATES.sub("", string)
        string = unescape(string)
    return trim(HTML_STRIP_TAGS.sub("", string))


def _meta_json(tree, found: Document) -> Document:
    """trafilatura.metadata.extract_meta_json with the faster normalization."""
    for elem in _JSON_LD(tree):
        if not elem.text:
            continue
        text = _normalize_json(_tm.JSON_MINIFY.sub(r"\1", elem.text))
        try:
            found = extract_json(json.loads(text, strict=False), found)
        except json.JSONDecodeError:
            found = extract_json_parse_error(text, found)
    return found


def _metainfo(tree, expressions, len_limit: int = 200) -> str | None:
    """trafilatura.metadata.extract_metainfo."""
    for expression in expressions:
        for elem in expression(tree):
            content = trim(" ".join(elem.itertext()))
            if content and 2 < len(content) < len_limit:
                return content
    return None


def _pruned_text(elem, skip) -> list[str]:
    """The pieces ``elem.itertext()`` would yield once every element ``in skip`` below it were removed
    with trafilatura's ``delete_element`` (tail joined to the previous sibling's tail, or to the
    parent's text), without removing anything."""
    pieces: list[str] = []
    _collect(elem, skip, pieces)
    return pieces


def _collect(elem, skip, pieces: list[str]) -> None:
    # one "slot" is elem.text or a kept child's tail, plus the tails of the deleted siblings after it
    slot = elem.text
    for child in elem:
        if child in skip:
            if child.tail:
                slot = (slot or "") + child.tail
            continue
        if slot is not None:
            pieces.append(slot)
        if isinstance(child.tag, str):  # itertext() skips comments and processing instructions
            _collect(child, skip, pieces)
        slot = child.tail
    if slot is not None:
        pieces.append(slot)


_AUTHOR_TAGS_0 = frozenset({"a", "address", "div", "link", "p", "span", "strong"})
_AUTHOR_TAGS_1 = frozenset({"a", "div", "h3", "h4", "p", "span"})
_DISCARD_TAGS = frozenset({"a", "div", "section", "span"})
_CLASS_0 = re.compile("author-?name|AuthorName|authorName")
_ID_1 = re.compile("author|zuozhe|bianji|xiaobian")
_CLASS_1 = re.compile("author|channel-name|zuozhe|bianji|xiaobian|submitted-by|posted-by|journalist-name")
_ID_2 = re.compile("[Aa]uthor")
_CLASS_2 = re.compile("[Aa]uthor|screenname|writer|[Bb]yline")
_DISCARD_ID = re.compile("^comments|comment-?list|ProductReviews")
_DISCARD_CLASS = re.compile("^[Cc]omments|commentlist|comments-list|sidebar|is-hidden|quote|embedly-instagram|"
                            "article-(?:share|support)|print|category|meta-date|meta-reviewer")
# a superset of what the three author expressions select, each re:test() widened to a substring
# (libxml2 alone; few elements pass), sorted exactly by :func:`_author_rank`
_CANDIDATES = XPath("""
    descendant-or-self::*[
    contains(@class, 'uthor') or contains(@class, 'yl') or contains(@class, 'BBL') or
    contains(@class, 'name') or contains(@class, 'writer') or contains(@class, 'zuozhe') or
    contains(@class, 'bianji') or contains(@class, 'xiaobian') or contains(@class, '-by') or
    contains(@id, 'uthor') or contains(@id, 'zuozhe') or contains(@id, 'bianji') or contains(@id, 'xiaobian') or
    contains(@itemprop, 'author') or @rel='author' or contains(@data-testid, 'Author') or
    contains(@data-component, 'Byline') or rel='me' or self::author]
    """)


def _author_rank(elem) -> int | None:
    """Which of trafilatura's AUTHOR_XPATHS (0, 1, 2) first selects ``elem``, None if none does."""
    tag, get = elem.tag, elem.get
    cls, ident, itemprop = get("class"), get("id"), get("itemprop")
    if tag == "author" or (tag in _AUTHOR_TAGS_0 and (
            get("rel") == "author" or ident == "author" or cls == "author" or itemprop == "author name"
            or get("data-testid") in ("AuthorCard", "AuthorURL") or (cls and _CLASS_0.search(cls))
            or _rel_me(elem))):
        return 0
    if tag in _AUTHOR_TAGS_1 and (
            cls in ("byline", "username", "byl", "BBL") or (itemprop and "author" in itemprop)
            or (ident and _ID_1.search(ident)) or (cls and _CLASS_1.search(cls))):
        return 1
    component = get("data-component")
    if ((component and "Byline" in component) or (itemprop and "author" in itemprop)
            or (ident and _ID_2.search(ident)) or (cls and _CLASS_2.search(cls))):
        return 2
    return None


def _discarded(elem) -> bool:
    """Whether trafilatura's AUTHOR_DISCARD_XPATHS select ``elem``."""
    tag = elem.tag
    if tag in ("time", "figure"):
        return True
    if tag not in _DISCARD_TAGS:
        return False
    get = elem.get
    cls, ident, component = get("class"), get("id"), get("data-component")
    return bool(ident == "comments" or cls in ("comments", "title", "date")
                or (ident and _DISCARD_ID.search(ident)) or (cls and _DISCARD_CLASS.search(cls))
                or (component and "Figure" in component))


def _rel_me(elem) -> bool:
    """XPath ``rel='me'``: a child element ``rel`` whose text is ``me``."""
    return any(child.text_content() == "me" for child in elem.iterchildren("rel"))


def _kept(elem, tree) -> bool:
    """Whether ``elem`` stays in ``tree``'s copy pruned with AUTHOR_DISCARD_XPATHS: neither it nor an
    ancestor below ``tree`` is selected by them."""
    while elem is not None and elem is not tree:
        if _discarded(elem):
            return False
        elem = elem.getparent()
    return True


class _Pruned:
    """``x in _Pruned(root)``: would ``x`` go when trafilatura prunes ``root``'s copy with
    AUTHOR_DISCARD_XPATHS (the root itself never goes: it has no parent to leave)."""

    def __init__(self, root):
        self.root = root

    def __contains__(self, elem) -> bool:
        return elem is not self.root and isinstance(elem.tag, str) and _discarded(elem)


def _author(tree) -> str | None:
    """trafilatura.metadata.extract_author without its deep copy of the whole tree, its pruning pass
    and its regular expressions in XPath: one XPath pass finds the few elements any of the three
    author expressions could select, Python sorts them into the expressions, and the first element
    (expression by expression, in document order) that the pruning would keep and that has a usable
    text wins, its text read as if the pruned elements were gone (see :func:`_pruned_text`)."""
    ranked: tuple[list, list, list] = ([], [], [])
    for elem in _CANDIDATES(tree):
        rank = _author_rank(elem)
        if rank is not None:
            ranked[rank].append(elem)
    pruned = _Pruned(tree)
    for candidates in ranked:
        for elem in candidates:
            if not _kept(elem, tree):
                continue
            content = trim(" ".join(_pruned_text(elem, pruned)))
            if content and 2 < len(content) < 120:
                return normalize_authors(None, content)
    return None


def _title(tree) -> str | None:
    """trafilatura.metadata.extract_title with the faster XPaths."""
    h1_results = tree.findall(".//h1")
    if len(h1_results) == 1 and (title := block_text(h1_results[0])):
        return title
    title = _metainfo(tree, TITLE_XPATHS) or ""
    if title:
        return title
    title, first, second = _tm.examine_title_element(tree)
    for t in (first, second, title):
        if t and "." not in t:
            return t
    for h1_result in h1_results:
        if title := block_text(h1_result):
            return title
    if h2_results := tree.xpath(".//h2"):
        title = block_text(h2_results[0])
    return title or None


def _today() -> str:
    """What trafilatura's ``set_date_params`` gives htmldate as ``max_date``: today, local time."""
    return datetime.now().astimezone().strftime("%Y-%m-%d")


@functools.lru_cache(maxsize=2)
def _date_options(max_date: str) -> Extractor:
    # what find_date(extensive_search=True, original_date=True, max_date=...) builds on every call
    return Extractor(True, get_max_date(max_date), get_min_date(None), True, "%Y-%m-%d")


def page_date(tree, url: str | None, page_search: bool = False) -> str | None:
    """The publication date of a parsed page, as ``YYYY-MM-DD``: htmldate's ``find_date`` with
    trafilatura's settings (``original_date``, ``extensive_search``, ``max_date`` today) step by step,
    minus its last resort unless ``page_search``: ``search_page``, regular expressions over the whole
    serialized page (copyright years, any date-like string), see the module docstring."""
    max_date = _today()
    if page_search:
        return find_date(tree, extensive_search=True, original_date=True, max_date=max_date, url=url)
    options = _date_options(max_date)
    if url is None:
        element = tree.find('.//link[@rel="canonical"]')
        if element is not None:
            url = element.get("href")
    result = (_hd.extract_url_date(url, options) or _hd.examine_header(tree, options)
              or _hd.json_search(tree, options) or _hd.examine_abbr_elements(tree, options))
    if result is not None:
        return result
    try:
        search_tree = _hd.discard_unwanted(_hd.clean_html(deepcopy(tree), _hd.CLEANING_LIST))
    except ValueError:  # as find_date: lxml's cleaner refuses some control characters
        search_tree = deepcopy(tree)
    result = (_hd.examine_elements(_hd.date_candidates(search_tree, True), options)
              or _hd.examine_elements(search_tree.xpath(".//title|.//h1"), options)
              or _hd.examine_time_elements(search_tree, options))
    if result is not None:
        return result
    htmlstring = _hd.serialize(search_tree)
    result = (_hd.pattern_search(htmlstring, _hd.TIMESTAMP_PATTERN, options)
              or _hd.img_search(search_tree, options) or _hd.idiosyncrasies_search(htmlstring, options))
    if result is not None:
        return result
    reference = None
    for segment in _hd.FREE_TEXT_EXPRESSIONS(search_tree):
        segment = segment.strip()
        if _hd.MIN_SEGMENT_LEN < len(segment) < _hd.MAX_SEGMENT_LEN:
            reference = _hd.compare_reference(reference, segment, options)
    return check_extracted_reference(reference, options)


def page_metadata(tree, page_search: bool = False) -> Document:
    """Title, author, URL, date and site name of a parsed page (see the module docstring); the
    same fields, found the same way, as ``corpusclean.extractors.html.page_metadata`` before this
    module, except the date's last resort (``page_search``). ``tree`` is not changed."""
    meta = _tm
    found = meta.examine_meta(tree)
    if found.author and " " not in found.author:  # trafilatura drops one-word authors here too
        found.author = None
    try:
        found = _meta_json(tree, found)
    except Exception:  # trafilatura guards its JSON-LD parser the same way
        pass
    found.title = found.title or _title(tree)
    found.author = found.author or _author(tree)
    found.url = found.url or meta.extract_url(tree, None)
    found.date = page_date(tree, found.url, page_search)
    return finish(found, tree)


def finish(found: Document, tree) -> Document:
    """The site name (trafilatura's rules: metadata, else the URL's host) and trafilatura's trimming,
    the last steps of ``extract_metadata``."""
    meta = _tm
    found.sitename = found.sitename or meta.extract_sitename(tree)
    if found.sitename:
        found.sitename = found.sitename.lstrip("@")
        if found.sitename and "." not in found.sitename and not found.sitename[0].isupper():
            found.sitename = found.sitename.title()
    elif found.url:
        match = meta.META_URL.match(found.url)
        if match:
            found.sitename = match[1]
    found.clean_and_trim()
    return found
