"""A synthetic news crawl with known truth: outlets, their chrome, wire reprints, duplicates.

What is generated (deterministic for a seed; sizes are bytes of the written input files):

* **Outlets** (40 by default, 3 of them wire agencies), each with its own name, domain, staff, page
  layout (one of four HTML skeletons with outlet-specific class names) and chrome: a nav bar, a share
  bar ("Share: Facebook Twitter"), a view counter ("1,234 views"), bylines ("By Name Surname"), a
  copyright footer ("Copyright © 2026 Outlet. All rights reserved."), a newsletter ask ("Sign up for
  our newsletter ..."), a "Most read" sidebar, and a **site footer paragraph** in pseudo-English that
  every article of the outlet repeats (on some outlets its last word names the section, so the copies
  are near, not exact, duplicates). No generic rule matches it: corpusclean should remove it as a
  same-outlet *template*. Text pages carry the byline, counter, ask, footer paragraph and copyright as
  lines, plus trailing ``Share:`` / ``Print:`` lines.
* **Articles**: pseudo-English from a deterministic word list (function words plus syllable-built
  content words, Zipf-weighted), sentences of 8-28 words, body paragraphs of 40-120 words, 6-15
  paragraphs per article, quote paragraphs ('"...," said Name Surname, minister of ...').
* **Wire stories**: a wire agency publishes a story; 2-6 other outlets reprint it 1-3 days later with
  edits: paragraphs kept verbatim, lightly edited (1-3 word substitutions/insertions/deletions),
  dropped, or (for quotes) re-wrapped inside a new sentence; the reprint may add its own intro and
  closing paragraphs and keeps the wire credit line "(Reporting by ...; Editing by ...)".
* **Duplicate crawls**: ~2 % of pages are saved twice and ~0.4 % three times (byte-identical files
  under another number of the same outlet).

Layout: ``WORKDIR/raw/<outlet-slug>/<nnnnnn>.html|.txt`` (the folder names the outlet), plus

* ``WORKDIR/crawl.json``: parameters, counts, bytes, the outlets and their chrome;
* ``WORKDIR/truth.jsonl``: one line per page: source path, outlet, format, date, title, planted chrome
  lines ``[kind, text]``, and the article paragraphs as ``[xxh64, lineage, role, jaccard, containment]``
  where ``xxh64`` equals corpusclean's ``exact_hash`` of the normalized paragraph (seed 0), ``lineage``
  names the paragraph's origin (``w<story>:<i>`` a wire paragraph and its copies, ``o<page>:<i>`` an
  outlet's own text, ``t<story>`` a title) and ``role`` is ``original``, ``own``, ``verbatim``,
  ``edited``, ``quote`` (re-wrapped) or ``duplicate``; jaccard/containment are the exact word-5-gram
  figures of a copy against its original (corpusclean's shingle definition).

Usage: ``python benchmarks/crawl_generator.py [--size 20MB] [--kind mixed|html|text] [--workdir DIR]``
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xxhash

HERE = Path(__file__).resolve().parent
sys.path.append(str(HERE.parent))  # the checkout, unless corpusclean is importable already (venv, PYTHONPATH)

from corpusclean.text.normalize import normalize  # noqa: E402

GENERATOR_VERSION = 1
DEFAULT_SEED = 20260314

# --- vocabulary -----------------------------------------------------------------------------------

# Real English function words (about half of running text), weighted roughly by frequency.
FUNCTION_WORDS = (
    "the the the the the of of of and and and to to to a a in in in that is was for on with as it "
    "by at from his her their said said have has had be been were are this which will would not but "
    "or an after before more than about into over also its who they we he she new last first two "
    "three year week people city state under while during between against where when there then"
).split()
# Words a rule or the truth check could mistake for chrome; never produced as content words.
BLOCKED = set(FUNCTION_WORDS) | {
    "share", "print", "email", "tweet", "views", "view", "reads", "read", "tags", "tag", "topic", "theme",
    "region", "more", "also", "related", "sign", "subscribe", "donate", "photo", "image", "credit", "source",
    "updated", "published", "posted", "modified", "disclaimer", "copyright", "home", "sport", "world",
    "business", "by", "see", "next", "follow", "like", "contact", "advertisement", "sponsored", "print",
}
ONSETS = "b c d f g h j k l m n p r s t v w z br cr dr fr gr pr tr bl cl fl gl pl sl st sp sk sh ch th".split()
VOWELS = "a e i o u a e i o ai ea ou oo ie".split()
CODAS = ["", "", "", "n", "r", "s", "t", "l", "m", "nd", "st", "rk", "ng", "ck"]
NEWSPAPER_NOUNS = ("Tribune Courier Herald Gazette Post Times Ledger Dispatch Chronicle Observer Record "
                   "Sentinel Journal Standard Examiner Review Monitor Bulletin Star Beacon").split()
WIRE_NOUNS = ["Wire", "Press Agency", "News Service"]
SECTIONS = ["Politics", "Economy", "Culture", "Science", "Weather", "Transport", "Health", "Education"]
NAV_EXTRA = ["Home", "World", "Business", "Sport", "Opinion", "Video", "Podcasts", "Newsletters", "About us"]
ROLES = ["minister of", "spokesperson for", "director of", "mayor of", "head of", "chair of"]


def syllable_word(rng: np.random.Generator, syllables: int) -> str:
    return "".join(ONSETS[rng.integers(len(ONSETS))] + VOWELS[rng.integers(len(VOWELS))]
                   + CODAS[rng.integers(len(CODAS))] for _ in range(syllables))


class Vocabulary:
    """Content words (syllable-built, Zipf-weighted), proper names, and pseudo-English text from them."""

    def __init__(self, rng: np.random.Generator, size: int = 30_000, zipf: float = 1.1, head: int = 60) -> None:
        self.rng = rng
        words: list[str] = []
        seen = set(BLOCKED)
        while len(words) < size:
            word = syllable_word(rng, int(rng.choice([1, 1, 2, 2, 2, 3])))
            if word not in seen and len(word) > 2:
                seen.add(word)
                words.append(word)
        self.content = words
        # Zipf over content words, its head flattened: in English the most frequent words are the
        # function words above, so the commonest content word is about rank 60 of the whole language.
        weights = 1.0 / (np.arange(1, size + 1) + head) ** zipf
        self._cum = np.cumsum(weights / weights.sum())
        self.function = FUNCTION_WORDS
        names = []
        while len(names) < 4000:
            name = syllable_word(rng, int(rng.choice([2, 2, 3]))).capitalize()  # one name may be a first or last name
            if name.lower() not in seen:
                seen.add(name.lower())
                names.append(name)
        self.names = names

    # -- words
    def content_words(self, n: int) -> list[str]:
        ids = np.searchsorted(self._cum, self.rng.random(n))
        return [self.content[min(i, len(self.content) - 1)] for i in ids]

    def tokens(self, n: int) -> list[str]:
        """``n`` running-text tokens: ~45 % function words, some numbers and proper names."""
        content = self.content_words(n)
        kinds = self.rng.random(n)
        out = []
        for i in range(n):
            if kinds[i] < 0.45:
                out.append(self.function[int(kinds[i] * 1e6) % len(self.function)])
            elif kinds[i] < 0.465:
                out.append(str(int(self.rng.integers(2, 2000))))
            elif kinds[i] < 0.49:
                out.append(self.names[int(kinds[i] * 1e7) % len(self.names)])
            else:
                out.append(content[i])
        return out

    def person(self) -> str:
        first, last = self.rng.choice(len(self.names), 2, replace=False)
        return f"{self.names[first]} {self.names[last]}"

    # -- text
    def sentence(self, n: int, final: str = ".") -> str:
        words = self.tokens(n)
        commas = self.rng.random(n) < 0.07
        for i in range(1, n - 1):
            if commas[i]:
                words[i] += ","
        words[0] = words[0][:1].upper() + words[0][1:]
        return " ".join(words) + final

    def paragraph(self, low: int = 40, high: int = 120) -> str:
        target = int(self.rng.integers(low, high + 1))
        sentences, used = [], 0
        while used < target:
            n = int(self.rng.integers(8, 29))
            if target - used - n < 6:
                n = target - used
            sentences.append(self.sentence(n))
            used += n
        return " ".join(sentences)

    def title(self) -> str:
        words = self.tokens(int(self.rng.integers(5, 11)))
        words[0] = words[0].capitalize()
        return " ".join(w.strip(",") for w in words)

    def quote(self, low: int = 14, high: int = 30) -> str:
        """The spoken words of a quote, no final punctuation."""
        return self.sentence(int(self.rng.integers(low, high + 1)), final="")


# --- outlets --------------------------------------------------------------------------------------


@dataclass
class Outlet:
    """One site: identity, layout, chrome and staff."""

    index: int
    name: str
    slug: str
    domain: str
    is_wire: bool
    layout: str
    css: str
    formats: tuple[str, ...]
    share: str
    newsletter: str
    copyright: str
    footer: str
    footer_varies: bool
    staff: list[str]
    nav: list[str]
    sitename_meta: bool
    views_style: int
    recent: list[tuple[str, str]] = field(default_factory=list)  # (title, teaser) of its latest pages
    pages: int = 0

    def footer_text(self, section: str) -> str:
        return f"{self.footer} {section}." if self.footer_varies else self.footer


SHARE_BARS = ["Share: Facebook Twitter", "Share this article: Facebook, Twitter, Email",
              "Share on Facebook | Twitter | LinkedIn", "Share: Facebook / Twitter / WhatsApp / Email"]
NEWSLETTERS = ["Sign up for our newsletter to get the day's top stories in your inbox.",
               "Sign up for our newsletter and never miss a story.",
               "Subscribe to our newsletter for the latest news.",
               "Join our mailing list for a daily briefing from the newsroom."]
LAYOUTS = ["semantic", "divsoup", "wordpress", "legacy"]


def _formats_for(index: int, is_wire: bool, kind: str) -> tuple[str, ...]:
    """What an outlet is crawled as. Mixed crawls: half the outlets HTML, 30 % text (a scraper's
    output), 20 % both (crawled and scraped); wire agencies alternate text and HTML."""
    if kind != "mixed":
        return (kind,)
    if is_wire:
        return ("html",) if index % 2 else ("text",)
    return [("html",), ("html",), ("text",), ("html",), ("text",), ("html", "text"), ("html",), ("text",),
            ("html",), ("html", "text")][index % 10]


def _outlet_name(vocab: Vocabulary, index: int, is_wire: bool, used: set[str]) -> str:
    rng = vocab.rng
    while True:
        place = syllable_word(rng, 2).capitalize()
        if is_wire:
            noun = WIRE_NOUNS[index % len(WIRE_NOUNS)]
        else:
            noun = NEWSPAPER_NOUNS[int(rng.integers(len(NEWSPAPER_NOUNS)))]
        article = "The " if not is_wire and rng.random() < 0.3 else ""
        if place not in used:
            used.add(place)
            return f"{article}{place} {noun}"


def _site_footer(vocab: Vocabulary, name: str) -> str:
    """The outlet's own boilerplate paragraph, in pseudo-English: no generic rule can know it."""
    first = vocab.sentence(int(vocab.rng.integers(14, 24)))
    subject = name if name.startswith("The ") else f"The {name}"
    return f"{subject} {first[0].lower()}{first[1:]} " + vocab.sentence(int(vocab.rng.integers(10, 18)), final="")


def make_outlets(vocab: Vocabulary, count: int, wires: int, kind: str) -> list[Outlet]:
    """``count`` outlets, the first ``wires`` of them wire agencies; every 4th layout, share bar, ... differs."""
    rng = vocab.rng
    outlets, used = [], set()
    for index in range(count):
        is_wire = index < wires
        name = _outlet_name(vocab, index, is_wire, used)
        footer = _site_footer(vocab, name)
        bare = name.lower().removeprefix("the ")
        if index % 3:
            copyright_line = f"Copyright © 2026 {name}. All rights reserved."
        else:
            copyright_line = f"© 2026 {name} Media Ltd. All rights reserved."
        outlets.append(Outlet(
            index=index, name=name, slug=re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"),
            domain=re.sub(r"[^a-z0-9]+", "", bare) + ".example", is_wire=is_wire,
            layout=LAYOUTS[index % len(LAYOUTS)], css=syllable_word(rng, 1)[:3],
            formats=_formats_for(index, is_wire, kind),
            share=SHARE_BARS[index % len(SHARE_BARS)], newsletter=NEWSLETTERS[index % len(NEWSLETTERS)],
            copyright=copyright_line, footer=footer, footer_varies=index % 4 == 3,
            staff=[vocab.person() for _ in range(int(rng.integers(4, 16)))],
            nav=[*rng.choice(SECTIONS, 5, replace=False).tolist(), *NAV_EXTRA[: 4 + index % 5]],
            sitename_meta=index % 5 != 4, views_style=index % 3,
        ))
    return outlets


def views_text(outlet: Outlet, rng: np.random.Generator) -> str:
    count = int(rng.integers(40, 250_000))
    return [f"{count:,} views", f"{count} views", f"{count:,} reads"][outlet.views_style]


# --- pages ----------------------------------------------------------------------------------------


@dataclass
class Paragraph:
    text: str
    lineage: str
    role: str
    jaccard: float | None = None
    containment: float | None = None


@dataclass
class Page:
    """One article as published by one outlet, before rendering."""

    outlet: Outlet
    number: int
    fmt: str
    date: str
    title: str
    title_lineage: str
    section: str
    byline: str
    paragraphs: list[Paragraph]
    credit: str | None = None  # wire credit line, chrome
    chrome: list[tuple[str, str]] = field(default_factory=list)

    @property
    def source_path(self) -> str:
        return f"raw/{self.outlet.slug}/{self.number:06d}.{'html' if self.fmt == 'html' else 'txt'}"


def shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    """Word n-grams as corpusclean defines them for space-separated text: ``\\w+`` tokens of the casefolded text."""
    tokens = re.findall(r"\w+", text.casefold())
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)} if len(tokens) >= n else {tuple(tokens)}


def overlap(original: str, copy: str, n: int = 5) -> tuple[float, float]:
    """Exact word-5-gram Jaccard and containment (|A & B| / min) with corpusclean's shingle definition."""
    a, b = shingles(original, n), shingles(copy, n)
    shared = len(a & b)
    return round(shared / len(a | b), 4), round(shared / min(len(a), len(b)), 4)


def light_edit(vocab: Vocabulary, text: str) -> str:
    """1-3 word substitutions, insertions or deletions, punctuation and capitals kept."""
    rng = vocab.rng
    words = text.split(" ")
    for _ in range(int(rng.integers(1, 4))):
        i = int(rng.integers(1, len(words) - 1))
        op = rng.random()
        stem = words[i].rstrip(",.")
        tail = words[i][len(stem):]
        if op < 0.5 and stem.isalpha() and stem.islower():
            words[i] = vocab.content_words(1)[0] + tail
        elif op < 0.8:
            words.insert(i, vocab.content_words(1)[0])
        elif not tail and len(words) > 12:
            del words[i]
    return " ".join(words)


def quote_paragraph(vocab: Vocabulary, spoken: str, speaker: str) -> str:
    role = ROLES[int(vocab.rng.integers(len(ROLES)))]
    return f'"{spoken}," said {speaker}, {role} {vocab.content_words(1)[0]}.'


def rewrap_quote(vocab: Vocabulary, spoken: str, speaker: str) -> str:
    """The same spoken words inside a new, longer sentence of the reprint."""
    lead = vocab.sentence(int(vocab.rng.integers(8, 20)))
    tail = " ".join(vocab.tokens(int(vocab.rng.integers(8, 20))))
    spoken = spoken[:1].lower() + spoken[1:]
    return f'{lead} Speaking on the record, {speaker} said that "{spoken}" and warned that {tail}.'


@dataclass
class WireStory:
    story: int
    title: str
    date: str
    byline: str
    credit: str
    body: list[tuple[str, str, str | None, str | None]]  # (text, kind body|quote, spoken, speaker)


def make_wire_story(vocab: Vocabulary, story: int, outlet: Outlet, date: str) -> WireStory:
    rng = vocab.rng
    body: list[tuple[str, str, str | None, str | None]] = []
    n = int(rng.integers(6, 16))
    quotes = set(rng.choice(np.arange(1, n), size=min(n - 1, int(rng.integers(1, 4))), replace=False).tolist())
    for i in range(n):
        if i in quotes:
            spoken, speaker = vocab.quote(), vocab.person()
            body.append((quote_paragraph(vocab, spoken, speaker), "quote", spoken, speaker))
        else:
            body.append((vocab.paragraph(), "body", None, None))
    credit = f"(Reporting by {vocab.person()}; Editing by {vocab.person()})"
    return WireStory(story, vocab.title(), date, outlet.staff[int(rng.integers(len(outlet.staff)))], credit, body)


def wire_original(story: WireStory, outlet: Outlet, fmt: str, section: str) -> Page:
    paragraphs = [Paragraph(text, f"w{story.story}:{i}", "original") for i, (text, *_rest) in enumerate(story.body)]
    return Page(outlet, 0, fmt, story.date, story.title, f"t{story.story}", section, story.byline, paragraphs,
                credit=story.credit)


def reprint(vocab: Vocabulary, story: WireStory, outlet: Outlet, fmt: str, date: str, section: str, tag: str) -> Page:
    """A reprint of ``story``: verbatim, edited, dropped and re-wrapped paragraphs, plus own text."""
    rng = vocab.rng
    paragraphs: list[Paragraph] = []
    if rng.random() < 0.4:
        paragraphs.append(Paragraph(vocab.paragraph(), f"o{tag}:intro", "own"))
    for i, (text, kind, spoken, speaker) in enumerate(story.body):
        lineage, draw = f"w{story.story}:{i}", rng.random()
        if kind == "quote" and draw < 0.5:
            copy = rewrap_quote(vocab, spoken, speaker)
            paragraphs.append(Paragraph(copy, lineage, "quote", *overlap(text, copy)))
        elif draw < 0.12:
            continue  # dropped
        elif kind == "body" and draw < 0.40:
            copy = light_edit(vocab, text)
            role = "edited" if copy != text else "verbatim"
            paragraphs.append(Paragraph(copy, lineage, role, *overlap(text, copy)))
        else:
            paragraphs.append(Paragraph(text, lineage, "verbatim", 1.0, 1.0))
    for j in range(int(rng.integers(0, 3))):
        paragraphs.append(Paragraph(vocab.paragraph(), f"o{tag}:close{j}", "own"))
    title = story.title if rng.random() < 0.5 else light_edit(vocab, story.title)
    return Page(outlet, 0, fmt, date, title, f"t{story.story}", section, story.byline, paragraphs,
                credit=story.credit)


def own_article(vocab: Vocabulary, outlet: Outlet, fmt: str, date: str, section: str, tag: str) -> Page:
    rng = vocab.rng
    paragraphs = []
    for i in range(int(rng.integers(6, 16))):
        if i and rng.random() < 0.12:
            text = quote_paragraph(vocab, vocab.quote(), vocab.person())
        else:
            text = vocab.paragraph()
        paragraphs.append(Paragraph(text, f"o{tag}:{i}", "own"))
    byline = outlet.staff[int(rng.integers(len(outlet.staff)))]
    return Page(outlet, 0, fmt, date, vocab.title(), f"t{tag}", section, byline, paragraphs)


# --- rendering ------------------------------------------------------------------------------------

SCRIPT = ("(function(w,d){w.dataLayer=w.dataLayer||[];function g(){dataLayer.push(arguments)}g('js',new Date());"
          "g('config','G-XXXX',{anonymize_ip:true});var s=d.createElement('script');s.async=1;"
          "s.src='https://cdn.example/analytics.js';d.head.appendChild(s)})(window,document);") * 80
ADS = ("window.googletag=window.googletag||{cmd:[]};googletag.cmd.push(function(){googletag.defineSlot("
       "'/1234/news/article',[[300,250],[728,90]],'ad-slot').addService(googletag.pubads());"
       "googletag.pubads().enableSingleRequest();googletag.enableServices()});") * 60
STYLE = ("body{margin:0;font-family:Georgia,serif;color:#222}.wrap{max-width:1100px;margin:0 auto}"
         "nav a{padding:0 .6em;text-decoration:none}h1{font-size:2.2em;line-height:1.2}.card{display:flex}"
         "aside{float:right;width:300px}footer{background:#eee;padding:2em;font-size:.9em}") * 40
ICON = ('<svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true"><path d="M12 2C6.5 2 2 6.5 2 12s4.5 '
        '10 10 10 10-4.5 10-10S17.5 2 12 2zm1 15h-2v-6h2v6zm0-8h-2V7h2v2z"/></svg>')
SUBMENU = ["Local", "National", "Analysis", "Explainers", "Live", "Archive", "Photos", "Video", "Opinion", "Data"]
FOOTER_LINKS = ["About us", "Contact", "Privacy policy", "Terms of use", "Advertise", "Careers", "Corrections",
                "Ethics policy", "Accessibility", "Sitemap", "RSS feeds", "Archive"]
COOKIE = "We use cookies to improve your experience on our site. By continuing you agree to our cookie policy."


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _link(label: str, domain: str, extra: str = "") -> str:
    return f'<a href="https://{domain}/{re.sub(r"[^a-z0-9]+", "-", label.lower())}"{extra}>{_e(label)}</a>'


def chrome_lines(page: Page, rng: np.random.Generator) -> dict[str, str]:
    """The chrome strings of one page, by kind (the same for every page of an outlet except views)."""
    outlet = page.outlet
    return {"byline": f"By {page.byline}", "views": views_text(outlet, rng), "share": outlet.share,
            "newsletter": outlet.newsletter, "site_footer": outlet.footer_text(page.section),
            "copyright": outlet.copyright}


def _head(page: Page, url: str) -> str:
    o = page.outlet
    ld = json.dumps({"@context": "https://schema.org", "@type": "NewsArticle", "headline": page.title,
                     "datePublished": page.date, "author": {"@type": "Person", "name": page.byline},
                     "publisher": {"@type": "Organization", "name": o.name}, "mainEntityOfPage": url})
    return (f'<head><meta charset="utf-8"><title>{_e(page.title)} | {_e(o.name)}</title>'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta property="og:title" content="{_e(page.title)}"><meta property="og:type" content="article">'
            + (f'<meta property="og:site_name" content="{_e(o.name)}">' if o.sitename_meta else "")
            + f'<meta property="article:published_time" content="{page.date}T08:{page.number % 60:02d}:00+00:00">'
            f'<link rel="canonical" href="{url}"><link rel="stylesheet" href="https://{o.domain}/static/site.css">'
            f'<style>{STYLE}</style><script>{SCRIPT}</script><script>{ADS}</script>'
            f'<script src="https://{o.domain}/static/app.js" defer></script>'
            f'<script type="application/ld+json">{ld}</script></head>')


def _nav(o: Outlet) -> str:
    """A mega menu: each top item with a list of sub-sections (only the top labels are recorded chrome)."""
    items = "".join(f'<li class="menu-item">{_link(item, o.domain)}<ul class="sub-menu">'
                    + "".join(f"<li>{_link(f'{item} {sub}', o.domain)}</li>" for sub in SUBMENU) + "</ul></li>"
                    for item in o.nav)
    return f'<nav class="{o.css}-nav" aria-label="Main"><ul class="menu">{items}</ul></nav>'


def _share(o: Outlet, text: str) -> str:
    icons = "".join(f'<a class="{o.css}-i" href="#" aria-label="{network}">{ICON}</a>'
                    for network in ("Facebook", "Twitter", "Email"))
    return f'<div class="{o.css}-share"><span>{_e(text)}</span><div class="{o.css}-icons">{icons}</div></div>'


def _figure(page: Page, credit: str, caption: str) -> str:
    return (f'<figure class="{page.outlet.css}-fig"><img src="https://{page.outlet.domain}/img/{page.number}.jpg" '
            f'alt="" width="1200" height="675" loading="lazy"><figcaption><span>{_e(caption)}</span> '
            f'<span class="{page.outlet.css}-cr">{_e(credit)}</span></figcaption></figure>')


def _ad(o: Outlet, number: int) -> str:
    return (f'<div class="{o.css}-ad"><span class="{o.css}-adl">Advertisement</span>'
            f'<div id="ad-slot-{number}" style="min-height:250px"></div></div>')


def _teasers(o: Outlet, titles: list[str], summaries: list[str], heading: str) -> str:
    cards = "".join(f'<div class="{o.css}-card"><a href="https://{o.domain}/t/{i}">'
                    f'<img src="https://{o.domain}/img/t{i}.jpg" alt=""></a>'
                    f"<h3>{_link(title, o.domain)}</h3><p>{_e(summary)}</p></div>"
                    for i, (title, summary) in enumerate(zip(titles, summaries)))
    return f'<section class="{o.css}-more"><h2>{_e(heading)}</h2>{cards}</section>'


def _comments(o: Outlet, comments: list[str], vocab: Vocabulary) -> str:
    items = "".join(f'<div class="comment"><div class="comment-author">{_e(vocab.person())}</div>'
                    f'<div class="comment-body"><p>{_e(text)}</p></div><a class="reply" href="#">Reply</a></div>'
                    for text in comments)
    return f'<section id="comments" class="comments-area"><h3>{len(comments)} comments</h3>{items}</section>'


def _footer(o: Outlet, copyright_line: str) -> str:
    def column(n: int) -> str:
        items = "".join(f"<li>{_link(f'{label} {n}' if n else label, o.domain)}</li>" for label in FOOTER_LINKS)
        return f'<div class="{o.css}-col"><ul>{items}</ul></div>'

    columns = "".join(column(n) for n in range(3))
    return (f'<footer class="{o.css}-foot">{columns}<p>{_e(copyright_line)}</p></footer>'
            f'<div id="cookie-banner" class="{o.css}-cookie"><p>{COOKIE}</p><button>Accept</button>'
            "<button>Manage settings</button></div>")


@dataclass
class HtmlParts:
    """The rendered pieces of a page that every layout arranges its own way."""

    outlet: Outlet
    title: str
    byline: str
    views: str
    meta: str
    share: str
    body: str
    more: str
    related: list[str]


def _semantic(p: HtmlParts) -> str:
    o = p.outlet
    sidebar = "".join(f"<li>{_link(t, o.domain)}</li>" for t in p.related)
    return (f'<header class="site-header"><a class="logo" href="/">{_e(o.name)}</a>{_nav(o)}</header>'
            f'<main class="wrap"><article><h1>{p.title}</h1><p class="meta">{p.meta}</p>{p.share}'
            f'<div class="article-body">{p.body}</div>{p.share}</article>{p.more}'
            f'<aside class="sidebar"><h3>Most read</h3><ol>{sidebar}</ol></aside></main>')


def _divsoup(p: HtmlParts) -> str:
    o, c = p.outlet, p.outlet.css
    sidebar = "".join(f"<div>{_link(t, o.domain)}</div>" for t in p.related)
    return (f'<div class="{c}-w"><div class="{c}-t">{_nav(o)}</div>'
            f'<div class="{c}-m"><div class="{c}-h"><h1>{p.title}</h1><div>{_e(p.byline)}</div>'
            f'<div>{_e(p.views)}</div></div>{p.share}<div class="{c}-b">{p.body}</div>{p.share}</div>'
            f'<div class="{c}-s"><div>Most read</div>{sidebar}</div>{p.more}</div>')


def _wordpress(p: HtmlParts) -> str:
    o = p.outlet
    sidebar = "".join(f"<li>{_link(t, o.domain)}</li>" for t in p.related)
    return (f'<div id="page" class="site"><header id="masthead"><p class="site-title">{_e(o.name)}</p>'
            f'{_nav(o)}</header><div id="content"><article class="post type-post">'
            f'<header class="entry-header"><h1 class="entry-title">{p.title}</h1>'
            f'<div class="entry-meta">{p.meta}</div></header><div class="entry-content">{p.share}{p.body}'
            f'<div class="sharedaddy">{p.share}</div></div></article>{p.more}'
            f'<section id="secondary" class="widget-area"><h2 class="widget-title">Most read</h2>'
            f'<ul>{sidebar}</ul></section></div></div>')


def _legacy(p: HtmlParts) -> str:
    o = p.outlet
    sidebar = "<br>".join(_link(t, o.domain) for t in p.related)
    return (f'<table width="100%"><tr><td class="nav">{_nav(o)}</td></tr>'
            f'<tr><td><font size="5"><b>{p.title}</b></font><br>{_e(p.byline)}<br>{_e(p.views)}'
            f'<br>{p.share}<div class="story">{p.body}</div>{p.more}</td>'
            f'<td width="250" valign="top"><b>Most read</b><br>{sidebar}</td></tr></table>')


LAYOUT_RENDERERS = {"semantic": _semantic, "divsoup": _divsoup, "wordpress": _wordpress, "legacy": _legacy}


def _article_body(page: Page, chrome: dict[str, str], tags: str) -> str:
    """The article's paragraphs with the chrome sites put among them: an ad slot, a newsletter box,
    the site footer paragraph and a tag line."""
    o, c = page.outlet, page.outlet.css
    paras = [f"<p>{_e(p.text)}</p>" for p in page.paragraphs]
    if page.credit:
        paras.append(f"<p><em>{_e(page.credit)}</em></p>")
    middle = max(1, len(page.paragraphs) // 2)
    paras.insert(min(3, len(paras)), _ad(o, page.number))
    paras.insert(middle + 1, f'<div class="{c}-promo"><p>{_e(chrome["newsletter"])}</p></div>')
    paras.append(f'<p class="{c}-note">{_e(chrome["site_footer"])}</p>')
    paras.append(f'<p class="{c}-tags">{_e(tags)}</p>')
    return "".join(paras)


def render_html(page: Page, vocab: Vocabulary) -> str:
    """A page in the outlet's layout: chrome around and inside the article, as real sites place it.
    Sets ``page.chrome`` to every chrome string that could end up in extracted text."""
    o, rng = page.outlet, vocab.rng
    chrome = chrome_lines(page, rng)
    related = [title for title, _ in o.recent[-6:]]
    summaries = [teaser for _, teaser in o.recent[-6:]]
    photo_credit = f"Photo: {vocab.person()} / {o.name}"
    tags = f"Tags: {page.section}, {', '.join(w.capitalize() for w in vocab.content_words(3))}"
    comments = [vocab.sentence(int(rng.integers(6, 30))) for _ in range(int(rng.integers(0, 6)))]
    caption = vocab.sentence(int(rng.integers(8, 16)))
    more_heading = f"More from {page.section}"
    page.chrome = [*chrome.items(), *(("nav", item) for item in o.nav), *(("most_read", t) for t in related),
                   *(("teaser", s) for s in summaries), ("photo_credit", photo_credit),
                   ("ad_label", "Advertisement"), ("cookie", COOKIE), ("more_heading", more_heading),
                   *([("wire_credit", page.credit)] if page.credit else []), ("tags", tags),
                   *(("comment", text) for text in comments)]
    meta = (f'<span class="{o.css}-by">{_e(chrome["byline"])}</span> <time datetime="{page.date}">{page.date}</time> '
            f'<span class="{o.css}-cnt">{_e(chrome["views"])}</span>')
    parts = HtmlParts(
        outlet=o, title=_e(page.title), byline=chrome["byline"], views=chrome["views"], meta=meta,
        share=_share(o, chrome["share"]), body=_figure(page, photo_credit, caption) + _article_body(page, chrome, tags),
        more=_teasers(o, related, summaries, more_heading) + _comments(o, comments, vocab), related=related)
    url = f"https://www.{o.domain}/{page.date.replace('-', '/')}/{page.number:06d}"
    main = LAYOUT_RENDERERS[o.layout](parts)
    footer = _footer(o, chrome["copyright"])
    return f'<!DOCTYPE html><html lang="en">{_head(page, url)}<body>{main}{footer}</body></html>\n'


def render_text(page: Page, vocab: Vocabulary) -> str:
    """A scraper's text file: date prefix and title, chrome lines around the paragraphs."""
    chrome = chrome_lines(page, vocab.rng)
    page.chrome = [(k, chrome[k]) for k in ("byline", "views", "newsletter", "site_footer", "copyright")]
    page.chrome += [("share", "Share:"), ("print", "Print:")]
    if page.credit:
        page.chrome.append(("wire_credit", page.credit))
    lines = [f"date {page.date} {page.title}", chrome["byline"], chrome["views"], ""]
    body = [p.text for p in page.paragraphs] + ([page.credit] if page.credit else [])
    lines += ["\n\n".join(body), "", chrome["newsletter"], "", chrome["site_footer"], chrome["copyright"],
              "Share:", "Print:"]
    return "\n".join(lines) + "\n"


# --- the crawl ------------------------------------------------------------------------------------


def parse_size(text: str) -> int:
    """'20MB' -> 20_000_000 (decimal units: KB, MB, GB; a bare number is bytes)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]?)B?\s*", text.upper())
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 20MB, 1GB)")
    return int(float(match.group(1)) * {"": 1, "K": 10**3, "M": 10**6, "G": 10**9}[match.group(2)])


def _date(day: int) -> str:
    return str(np.datetime64("2026-01-01") + np.timedelta64(day, "D"))


class CrawlWriter:
    """Writes pages and their truth lines, counting bytes and pages."""

    def __init__(self, workdir: Path, vocab: Vocabulary) -> None:
        self.raw = workdir / "raw"
        self.vocab = vocab
        self.truth = (workdir / "truth.jsonl").open("w", encoding="utf-8")
        self.bytes = 0
        self.counts = {"html": 0, "text": 0, "duplicates": 0}

    def write(self, page: Page, dup_of: str | None = None, payload: bytes | None = None) -> bytes:
        outlet = page.outlet
        outlet.pages += 1
        page.number = outlet.pages
        if payload is None:
            text = render_html(page, self.vocab) if page.fmt == "html" else render_text(page, self.vocab)
            payload = text.encode("utf-8")
        path = self.raw / page.source_path.removeprefix("raw/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(payload)
        self.bytes += len(payload)
        self.counts[page.fmt] += 1
        self.counts["duplicates"] += dup_of is not None
        self.truth.write(json.dumps(self._truth(page, dup_of), ensure_ascii=False) + "\n")
        if dup_of is None:
            outlet.recent.append((page.title, self.vocab.sentence(int(self.vocab.rng.integers(12, 22)))))
            del outlet.recent[:-8]
        return payload

    @staticmethod
    def _truth(page: Page, dup_of: str | None) -> dict:
        paras = [[xxhash.xxh64_intdigest(normalize(p.text).encode()), p.lineage,
                  "duplicate" if dup_of else p.role, p.jaccard, p.containment] for p in page.paragraphs]
        return {"source_path": page.source_path, "outlet": page.outlet.slug, "format": page.fmt, "date": page.date,
                "title": normalize(page.title), "title_lineage": page.title_lineage, "dup_of": dup_of,
                "chrome": [[k, normalize(v)] for k, v in page.chrome], "paragraphs": paras}

    def close(self) -> None:
        self.truth.close()


def generate(workdir: Path, size: int, kind: str = "mixed", seed: int = DEFAULT_SEED, outlets: int = 40,
             wires: int = 3, quiet: bool = False) -> dict:
    """Write a crawl of about ``size`` bytes under ``workdir`` and return its ``crawl.json`` record."""
    started = time.perf_counter()
    shutil.rmtree(workdir / "raw", ignore_errors=True)
    (workdir / "raw").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    vocab = Vocabulary(rng)
    sites = make_outlets(vocab, outlets, wires, kind)
    wire_sites, papers = sites[:wires], sites[wires:]
    weights = 1.0 / np.arange(1, len(papers) + 1) ** 0.7
    weights /= weights.sum()
    writer = CrawlWriter(workdir, vocab)
    stories = 0
    while writer.bytes < size:
        stories += 1
        tag = str(stories)
        day = int(rng.integers(0, 180))
        section = SECTIONS[int(rng.integers(len(SECTIONS)))]
        if rng.random() < 0.12:  # a wire story and its reprints
            agency = wire_sites[int(rng.integers(len(wire_sites)))]
            story = make_wire_story(vocab, stories, agency, _date(day))
            pages = [wire_original(story, agency, _pick_format(agency, rng), section)]
            for paper in rng.choice(len(papers), int(rng.integers(2, 7)), replace=False, p=weights):
                outlet = papers[int(paper)]
                fmt = _pick_format(outlet, rng)
                later = _date(day + int(rng.integers(1, 4)))
                pages.append(reprint(vocab, story, outlet, fmt, later, section, f"{tag}.{outlet.index}"))
        else:
            outlet = papers[int(rng.choice(len(papers), p=weights))]
            pages = [own_article(vocab, outlet, _pick_format(outlet, rng), _date(day), section, tag)]
        for page in pages:
            payload = writer.write(page)
            draw = rng.random()
            copies = 2 if draw < 0.004 else 1 if draw < 0.024 else 0
            for _ in range(copies):
                writer.write(Page(**{**page.__dict__, "chrome": list(page.chrome)}), dup_of=page.source_path,
                             payload=payload)
    writer.close()
    record = {
        "generator_version": GENERATOR_VERSION, "seed": seed, "kind": kind, "size_requested": size,
        "bytes": writer.bytes, "pages": writer.counts["html"] + writer.counts["text"],
        "pages_html": writer.counts["html"], "pages_text": writer.counts["text"],
        "duplicate_pages": writer.counts["duplicates"], "stories": stories,
        "seconds": round(time.perf_counter() - started, 2),
        "outlets": [{"slug": o.slug, "name": o.name, "wire": o.is_wire, "layout": o.layout, "formats": list(o.formats),
                     "sitename_meta": o.sitename_meta, "footer_varies": o.footer_varies, "pages": o.pages}
                    for o in sites],
    }
    (workdir / "crawl.json").write_text(json.dumps(record, indent=2) + "\n", "utf-8")
    if not quiet:
        print(f"generated {record['pages']:,} pages ({record['pages_html']:,} HTML, {record['pages_text']:,} text), "
              f"{record['bytes'] / 1e6:.1f} MB in {record['seconds']:.1f} s -> {workdir / 'raw'}")
    return record


def _pick_format(outlet: Outlet, rng: np.random.Generator) -> str:
    return outlet.formats[0] if len(outlet.formats) == 1 else outlet.formats[int(rng.random() < 0.4)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=parse_size, default=parse_size("20MB"))
    parser.add_argument("--kind", choices=["mixed", "html", "text"], default="mixed")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/corpusclean-crawl"))
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--outlets", type=int, default=40)
    args = parser.parse_args(argv)
    generate(args.workdir, args.size, args.kind, args.seed, args.outlets)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
