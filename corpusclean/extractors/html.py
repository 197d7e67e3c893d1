"""HTML extraction with trafilatura: article text with one paragraph per line, plus metadata.

trafilatura does the hard part (boilerplate detection over the DOM); this module only chooses its
options from ``[extract]`` in the config and maps its result to our columns. Comments are excluded by
default: reader chatter is not the article (on the AEB benchmark that alone lifts precision from 0.932
to 0.946).

Metadata (title, date, URL, site name, author) comes from :func:`corpusclean.extractors.metadata.page_metadata`:
trafilatura's own metadata steps without categories, tags and licence, a cheaper author search, and
htmldate without its whole-page regex search (half the CPU of the steps it replaces; see that module).

The page is parsed here, with trafilatura's own loader, and the tree handed to trafilatura. That lets
us see what libxml2 says while parsing: by default it stops building the tree at 256 levels of nesting
and at 10 MB of text in one node, and says so only in its error log, so a deeply nested or very large
page would lose everything after that point without a word (trafilatura then finds "no article", or
half of it). When that happens the page is parsed again with libxml2's ``huge`` limits (2048 levels,
1 GB); a page past those is an error ``too_deep`` / ``parser_limit``, never a truncated document.

With ``extract.fast`` the fast pass (``fast=True``: trafilatura's own extractor, no readability or
jusText) runs first, and the full pass (trafilatura's default, ``fast=False``) only where the fast
result is suspect (see :func:`extract_body`): refused or empty, or holding fewer than
``extract.fallback_share`` of the words the page shows (the text of ``<body>`` without scripts and
styles). The full pass's text is kept when it has at least :data:`FALLBACK_GAIN` times the fast pass's
words, otherwise the fast text stays. On ``../shared/wcxb-dev-articles`` (where the share was chosen)
the fast pass alone misses the article on about 3 % of the pages (an intro, an author box or nothing);
with a share of 0.15 the full pass runs on 4.8 % of them, its text is kept on 3.7 %, and phase A's
4-gram F1 goes from 0.920 to 0.933 (trafilatura's full pass alone: 0.934), for 1.2x the extraction CPU
of the fast pass alone; on ``../shared/aeb`` (the check) it runs on 6.1 % of the pages, keeps none,
and costs 1.3x (``benchmarks/extraction_quality.py``). Two other signs of a bad fast result, no line
of sentence length and mostly link text, gained nothing on wcxb-dev-articles beyond this share and
are not used; nor does a third (issue 14): a fast result holding >= 80 % of the visible words in lines
mostly under five words (a menu taken for the article) fixed one AEB page with ``favor_recall`` off and
fires on one wcxb page, to no effect, with it on.

Since issue 14 both passes run with trafilatura's ``favor_recall`` (``extract.favor_recall``): its fast
pass keeps the article where the plain one kept an intro or refused the page more often (wcxb F1 0.9337
-> 0.9363, no page refused; aeb 0.9693 -> 0.9701; see ``configs/default.toml``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import lxml.html
import trafilatura
from lxml.etree import ErrorTypes
from trafilatura import utils as trafilatura_utils

from ..errors import InputError
from .metadata import page_metadata

_LIBXML_ADVICE = re.compile(r",? *(use|try) XML_PARSE_HUGE( option)?", re.IGNORECASE)
_DEPTH = re.compile(r"Excessive depth in document: (\d+)")
# trafilatura's parser settings (trafilatura.utils.HTML_PARSER) with libxml2's huge limits.
_HUGE_PARSER = lxml.html.HTMLParser(collect_ids=False, default_doctype=False, encoding="utf-8",
                                    remove_comments=True, remove_pis=True, huge_tree=True)


@dataclass
class Extracted:
    """What an extractor found in one page. ``body`` has one paragraph per line."""

    body: str
    title: str | None = None
    date: str | None = None
    url: str | None = None
    sitename: str | None = None
    author: str | None = None
    #: what the full-pass fallback did: None (not run: the fast result was trusted, or the config runs
    #: one pass only), ``"kept"`` (its text replaced the fast one) or ``"rejected"`` (fast text kept)
    fallback: str | None = None


def _limit_errors(parser: lxml.html.HTMLParser) -> list[str]:
    """Messages of the resource-limit errors libxml2 logged in ``parser``'s last parse."""
    return [entry.message.strip() for entry in parser.error_log if entry.type == ErrorTypes.ERR_RESOURCE_LIMIT]


def _parse_huge(html: str):
    repaired = trafilatura_utils.repair_faulty_html(html, html[:50].lower())
    try:
        return lxml.html.fromstring(repaired, parser=_HUGE_PARSER)
    except ValueError:  # a str with an encoding declaration: lxml wants bytes
        return lxml.html.fromstring(repaired.encode("utf-8", "surrogatepass"), parser=_HUGE_PARSER)


def load_tree(html: str):
    """Parse ``html`` as trafilatura would, without letting libxml2 truncate the tree silently.

    Raises:
        InputError: (stage ``extract``) the page is nested or sized past libxml2's huge limits, or
            is not HTML at all.
    """
    try:
        tree = trafilatura_utils.load_html(html)
        limits = _limit_errors(trafilatura_utils.HTML_PARSER)
        if limits:
            tree = _parse_huge(html)
            limits = _limit_errors(_HUGE_PARSER)
    except (lxml.etree.LxmlError, ValueError, TypeError, RecursionError, MemoryError) as exc:
        raise InputError("extract", "unparsable_html", f"HTML could not be parsed: {type(exc).__name__}: {exc}") from None
    if limits:
        message = _LIBXML_ADVICE.sub("", limits[0]).rstrip(" .")
        depth = _DEPTH.search(message)
        if depth:
            raise InputError("extract", "too_deep",
                             f"HTML nests elements more than {depth.group(1)} levels deep, past what the HTML parser "
                             "(libxml2) builds even with its huge limits; the page cannot be read whole")
        raise InputError("extract", "parser_limit",
                         f"HTML exceeds a limit of the HTML parser (libxml2) even with its huge limits: {message}")
    if tree is None:
        raise InputError("extract", "unparsable_html", "HTML could not be parsed: the parser built no tree")
    return tree


#: The full pass's text replaces a suspect fast result only with at least this many times its words:
#: where it finds about as much, it is the same text or other boilerplate (on wcxb-dev-articles any
#: value from 1.2 to 5 scores the same; 8 loses recovered pages).
FALLBACK_GAIN = 2.0
_INVISIBLE = frozenset({"script", "style", "noscript", "template"})


def visible_words(tree) -> int:
    """Words (white-space separated) of the text a reader sees in the page: ``<body>`` (the whole tree
    without one) minus the text of scripts, styles, ``noscript`` and ``template``."""
    root = tree.find("body")
    if root is None:
        root = tree
    words = 0
    for element in root.iter():
        if element.text and isinstance(element.tag, str) and element.tag not in _INVISIBLE:
            words += len(element.text.split())
        if element.tail and element is not root:
            words += len(element.tail.split())
    return words


def _text(document) -> str:
    return (document.text or "") if document is not None else ""


def extract_body(tree, extract_config: dict[str, Any], url: str | None = None):
    """trafilatura's article of a parsed page, with the fast-pass-then-fallback of the module docstring.

    Returns ``(document, fallback)``: trafilatura's document (None if it found nothing) and what the
    fallback did (see :attr:`Extracted.fallback`). ``tree`` is left as it was (trafilatura works on a
    copy), so both passes read the same page.
    """
    options = dict(
        url=url,  # what bare_extraction would take from its own metadata pass
        with_metadata=False,
        include_comments=extract_config["include_comments"],
        include_tables=extract_config["include_tables"],
        favor_precision=extract_config["favor_precision"],
        favor_recall=extract_config["favor_recall"],
        deduplicate=False,
    )
    fast = extract_config["fast"]
    document = trafilatura.bare_extraction(tree, fast=fast, **options)
    # a hand-made config without the key (the API before it existed) keeps the one-pass behaviour
    share = extract_config.get("fallback_share", 0.0)
    if not fast or share <= 0:
        return document, None
    fast_words = len(_text(document).split())
    if fast_words and fast_words >= share * visible_words(tree):
        return document, None
    full = trafilatura.bare_extraction(tree, fast=False, **options)
    if len(_text(full).split()) >= max(FALLBACK_GAIN * fast_words, 1):
        return full, "kept"
    return document, "rejected"


def extract_html(html: str, extract_config: dict[str, Any]) -> Extracted:
    """Run trafilatura on one page.

    Raises:
        InputError: (stage ``extract``) the page could not be parsed or holds no article text.

    Example:
        >>> page = "<html><body><article><h1>T</h1><p>" + "A long enough sentence. " * 20 + "</p></article></body></html>"
        >>> body = extract_html(page, {"include_comments": False, "include_tables": True,
        ...                            "favor_precision": False, "favor_recall": False, "fast": True,
        ...                            "fallback_share": 0.15}).body
        >>> body.splitlines()[0], body.splitlines()[1][:23]  # the heading stays: titles are split later
        ('T', 'A long enough sentence.')
    """
    tree = load_tree(html)
    try:
        metadata = page_metadata(tree)
        document, fallback = extract_body(tree, extract_config, metadata.url)
    except RecursionError:
        raise InputError("extract", "too_deep",
                         "HTML nests elements too deeply for the extractor (Python recursion limit); "
                         "the page cannot be read") from None
    except (ValueError, TypeError, MemoryError) as exc:  # lxml refuses some markup
        raise InputError("extract", "unparsable_html", f"HTML could not be parsed: {type(exc).__name__}: {exc}") from None
    if document is None or not (document.text or "").strip():
        raise InputError("extract", "no_article", "no article text found in the HTML page")
    return Extracted(
        body=document.text,
        title=metadata.title or None,
        date=metadata.date or None,
        url=metadata.url or None,
        sitename=metadata.sitename or None,
        author=metadata.author or None,
        fallback=fallback,
    )
