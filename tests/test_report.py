"""The HTML report: sections and numbers checked against the run's tables, caps, escaping (the
templates' autoescaping, a hostile corpus), the CLI, and the page rendered in headless Chromium
(installed once per session with apt-get when missing)."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from markupsafe import escape

from corpusclean.dedup.reprints import reprints
from corpusclean.schema import CLUSTER_COLUMNS, DOCUMENTS, ERRORS, LINKS, PARAGRAPHS, REMOVED
from corpusclean.views.report import TEMPLATES, environment, render_report
from tests.conftest import TABLES, corpusclean, corpusclean_together, raw_doc_id


def esc(text: str) -> str:
    """``text`` as the templates' autoescaping writes it (``"`` as ``&#34;``, ``'`` as ``&#39;``)."""
    return str(escape(text))

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--enable-logging=stderr", "--v=0"]


@pytest.fixture(scope="module")
def report(raw_out, tmp_path_factory) -> tuple[Path, str, float]:
    path = tmp_path_factory.mktemp("report") / "report.html"
    started = time.perf_counter()
    render_report(raw_out, path)
    return path, path.read_text("utf-8"), time.perf_counter() - started


def section(page: str, name: str) -> str:
    start = page.index(f'<section id="{name}"')
    return page[start:page.index("</section>", start)]


# ------------------------------------------------------------------------------- content vs tables


def test_summary_counts_match_the_tables(report, tables, raw_out):
    _, page, _ = report
    summary = section(page, "summary")
    counts = dict(re.findall(r'data-count="([a-z_]+)">([\d,]+)<', summary))
    assert int(counts["documents"].replace(",", "")) == tables["documents"].height
    assert int(counts["paragraphs"].replace(",", "")) == tables["paragraphs"].height
    assert int(counts["removed"].replace(",", "")) == tables["removed"].height
    assert int(counts["links"].replace(",", "")) == tables["links"].height
    assert int(counts["errors"].replace(",", "")) == tables["errors"].height
    assert int(counts["clusters"]) == tables["paragraphs"]["cluster_id"].drop_nulls().n_unique()
    manifest = json.loads((raw_out / "manifest.json").read_text())
    timings = summary[summary.index('id="timings"'):]
    for stage, seconds in manifest["timings_seconds"].items():
        assert f"{stage} {seconds:.2f} s" in timings


def test_heatmap_and_flows_follow_canonical_dates(report, tables):
    _, page, _ = report
    reuse = section(page, "reuse")
    assert re.search(r'<figure id="heatmap"[^>]*><svg', reuse)
    paragraphs = tables["paragraphs"]
    canonical = paragraphs.filter(pl.col("is_canonical") & pl.col("cluster_id").is_not_null()).select(
        pl.col("paragraph_id").alias("canonical_id"), pl.col("outlet").alias("source"))
    copies = (paragraphs.filter(pl.col("cluster_id").is_not_null() & ~pl.col("is_canonical"))
              .join(canonical, on="canonical_id").select("source", "outlet"))
    outlets = paragraphs.select("paragraph_id", "outlet")
    quotes = (tables["links"].filter(pl.col("kind") == "contained")
              .join(outlets.rename({"paragraph_id": "left_id", "outlet": "source"}), on="left_id")
              .join(outlets.rename({"paragraph_id": "right_id"}), on="right_id").select("source", "outlet"))
    expected = pl.concat([copies, quotes]).group_by("source", "outlet").len()
    expected = {(s, r): n for s, r, n in expected.iter_rows()}
    rows = re.findall(r'<tr data-source="([^"]*)" data-reprint="([^"]*)" data-paragraphs="(\d+)" '
                      r'data-documents="(\d+)" data-same-day="(\d+)">', reuse)
    shown = {(html.unescape(s), html.unescape(r)): int(n) for s, r, n, _, _ in rows}
    assert shown == expected
    # the sample: the wire is copied by the Tribune (three paragraphs verbatim, two rewrapped) and
    # quoted by the Lantern (one)
    assert expected == {("Northwind Wire", "Harbor Tribune"): 5, ("Northwind Wire", "The Lantern"): 1}
    assert copies.height == 3 and quotes.height == 3
    # documents: one story of the wire is behind both flows, so one document pair each
    assert {(html.unescape(s), html.unescape(r)): int(d) for s, r, _, d, _ in rows} == {
        ("Northwind Wire", "Harbor Tribune"): 1, ("Northwind Wire", "The Lantern"): 1}
    # no copy shares its canonical's date in the sample: every direction is decided by a date
    assert [int(t) for *_, t in rows] == [0, 0]
    assert "0 of 6 copies share their canonical's date: their direction is path order, not evidence." in reuse
    # every outlet in a pair is a heatmap label; the heatmap is 3 outlets wide
    assert 'data-outlets="3"' in reuse
    for outlet in {"Northwind Wire", "Harbor Tribune", "The Lantern"}:
        assert f">{outlet}</text>" in reuse


def test_largest_clusters_show_canonical_text_outlets_and_dates(report, tables):
    _, page, _ = report
    clusters = section(page, "clusters")
    paragraphs = tables["paragraphs"]
    canonical = paragraphs.filter(pl.col("is_canonical") & pl.col("cluster_id").is_not_null())
    assert canonical.height == 3  # the wire's three paragraphs the Tribune reprints verbatim
    assert "All 3 clusters" in clusters
    for row in canonical.iter_rows(named=True):
        article = clusters[clusters.index(f'id="cluster-{row["cluster_id"]}"'):]
        article = article[:article.index("</article>")]
        assert esc(row["text"]) in article
        members = paragraphs.filter(pl.col("cluster_id") == row["cluster_id"])
        for member in members.iter_rows(named=True):
            assert f"<td>{esc(member['outlet'])}</td><td>{member['date']}</td>" in article
    # each member's link to the canonical copy is shown with its kind and numbers
    assert "<td>exact</td>" in clusters and "1.000" in clusters


def _marks(fragment: str) -> list[str]:
    """The highlighted texts of an HTML fragment, unescaped, in order."""
    return [html.unescape(text) for text in re.findall(r"<mark[^>]*>(.*?)</mark>", fragment, flags=re.S)]


def _contained_links(tables) -> list[dict]:
    links = tables["links"].filter(pl.col("kind") == "contained").to_dicts()
    texts = dict(tables["paragraphs"].select("paragraph_id", "text").iter_rows())
    for link in links:
        link["left_passage"] = texts[link["left_id"]][link["left_start"]:link["left_end"]]
        link["right_passage"] = texts[link["right_id"]][link["right_start"]:link["right_end"]]
    return links


def test_quotes_highlight_the_shared_passage_in_both_paragraphs(report, tables):
    _, page, _ = report
    quotes = section(page, "quotes")
    links = _contained_links(tables)
    assert len(links) == 3 and f"All {len(links)} contained links" in quotes
    assert '<a href="#quotes">Quotes</a>' in page
    for link in links:
        article = quotes[quotes.index(f'data-left="{link["left_id"]}" data-right="{link["right_id"]}"'):]
        article = article[:article.index("</article>")]
        # the passage, and only the passage, is highlighted: once in each paragraph
        assert _marks(article) == [link["left_passage"], link["right_passage"]]
        assert re.sub(r"</?mark>", "", article).count(esc(link["left_passage"])) >= 1
    # the sample's quote: the mayor's words, the same in the wire's story and in the Lantern's column
    lantern = next(link for link in links if link["right_id"] == f"{raw_doc_id('the-lantern/portsmere-barrier-what-comes-next.md')}-0002")
    assert lantern["left_passage"] == lantern["right_passage"] == (
        "Every family on Quay Street has a story about the water coming through the door, and tonight we "
        "decided that those stories end here")


def test_documents_highlight_the_passages_of_contained_links(report, tables):
    _, page, _ = report
    documents = section(page, "documents")
    for link in _contained_links(tables):
        for side in ("left", "right"):
            paragraph = documents[documents.index(f'id="p-{link[f"{side}_id"]}"'):]
            paragraph = paragraph[:paragraph.index("</p>")]
            # one contained link per paragraph in the sample; removed spans may split the passage
            assert "".join(_marks(paragraph)) == link[f"{side}_passage"]
            other = link["right_id" if side == "left" else "left_id"]
            assert re.search(rf'<mark title="shared with [^"]*\({other}\)">', paragraph)


def test_a_run_without_span_columns_still_renders(raw_out, tmp_path):
    out = tmp_path / "old"
    shutil.copytree(raw_out, out, ignore=shutil.ignore_patterns("_work"))
    links = pl.read_parquet(out / "links.parquet").select(list(LINKS))
    links.write_parquet(out / "links.parquet")
    page = render_report(out, out / "report.html").read_text("utf-8")
    quotes = section(page, "quotes")
    assert quotes.count('<article class="quote"') == links.filter(pl.col("kind") == "contained").height
    assert _marks(page) == ["highlighted", "highlighted"]  # the two legends, no passage


def test_removals_by_rule_and_outlet_match_group_by(report, tables):
    _, page, _ = report
    removals = section(page, "removals")
    shown = {html.unescape(rule): int(n) for rule, n in re.findall(r'<tr data-rule="([^"]*)" data-spans="(\d+)">', removals)}
    expected = dict(tables["removed"].group_by("reason").len().iter_rows())
    assert shown == expected
    by_outlet = {html.unescape(o): int(n) for o, n in re.findall(r'<tr data-outlet="([^"]*)" data-spans="(\d+)">', removals)}
    assert by_outlet == dict(tables["removed"].group_by("outlet").len().iter_rows())
    assert '<figure id="removals-chart"><svg' in removals


def test_errors_are_listed_by_reason(report, tables):
    _, page, _ = report
    errors = section(page, "errors")
    for error_type, n in tables["errors"].group_by("error_type").len().iter_rows():
        assert f'data-error="{error_type}" data-inputs="{n}"' in errors
    for row in tables["errors"].iter_rows(named=True):
        assert esc(row["source_path"]) in errors and esc(row["message"]) in errors


def test_documents_strike_removed_spans_and_link_reused_paragraphs(report, tables):
    _, page, _ = report
    documents = section(page, "documents")
    assert "All 10 documents" in documents
    for doc_id in tables["documents"]["doc_id"]:
        assert f'id="doc-{doc_id}"' in documents
    # every removed span is struck through once, with its rule
    struck = re.findall(r'<del title="([^"]*)">(.*?)</del>', documents, flags=re.S)
    assert len(struck) == tables["removed"].height
    assert sorted(html.unescape(rule) for rule, _ in struck) == sorted(tables["removed"]["reason"])
    assert sorted(html.unescape(text) for _, text in struck) == sorted(tables["removed"]["text"])
    # a span cut from the title line sits inside the title paragraph, before the kept text
    assert re.search(rf'<p class="para title" id="p-{raw_doc_id("northwind-wire/portsmere-tidal-barrier-vote.txt")}-0000"><del title="generic.photo_credit_prefix">'
                     r'© Northwind/ Maria Ellery ?</del>', documents)
    # each clustered paragraph links to its cluster, and every in-page anchor has a target
    for row in tables["paragraphs"].filter(pl.col("cluster_id").is_not_null()).iter_rows(named=True):
        assert re.search(rf'id="p-{row["paragraph_id"]}"><a class="badge" href="#cluster-{row["cluster_id"]}"', documents)
    targets = set(re.findall(r'\bid="([^"]+)"', page))
    anchors = set(re.findall(r'href="#([^"]+)"', page))
    assert anchors and anchors <= targets


def test_same_day_ties_are_counted_and_said(raw_out, tmp_path):
    """The Tribune's copies moved to the wire's date: their direction becomes a tie (path order); the
    Lantern's quote undated: placed after its dated source."""
    out = tmp_path / "ties"
    shutil.copytree(raw_out, out, ignore=shutil.ignore_patterns("_work", "*.html"))
    paragraphs = pl.read_parquet(out / "paragraphs.parquet")
    wire_date = paragraphs.filter(pl.col("outlet") == "Northwind Wire", pl.col("is_canonical"),
                                  pl.col("cluster_id").is_not_null())["date"][0]
    date = (pl.when(pl.col("outlet") == "Harbor Tribune").then(pl.lit(wire_date))
            .when(pl.col("outlet") == "The Lantern").then(pl.lit(None)).otherwise(pl.col("date")))
    paragraphs.with_columns(date=date.cast(paragraphs["date"].dtype)).write_parquet(out / "paragraphs.parquet")
    pairs = pl.read_parquet(out / "reprints.parquet")
    tribune = pl.col("later_outlet") == "Harbor Tribune"
    pairs.with_columns(ordered_by=pl.when(tribune).then(pl.lit("same_date")).otherwise(pl.lit("undated")),
                       lag_days=pl.when(tribune).then(0).otherwise(None).cast(pl.Int32),
                       ).write_parquet(out / "reprints.parquet")
    page = render_report(out, out / "report.html").read_text("utf-8")
    reuse = section(page, "reuse")
    assert 'data-copies="6" data-same-day="5" data-undated="1"' in reuse
    assert ("5 of 6 copies share their canonical's date: their direction is path order, not evidence."
            "</span> 1 more have no date") in reuse
    assert re.search(r'data-reprint="Harbor Tribune" data-paragraphs="5" data-documents="1" data-same-day="5"', reuse)
    assert re.search(r'data-reprint="The Lantern" data-paragraphs="1" data-documents="1" data-same-day="0"', reuse)
    listed = section(page, "reprints")
    assert "0 ordered by\ndate" in listed and "1 on the same day and 1 with an undated document" in listed
    tied = listed[listed.index('data-ordered-by="same_date"'):]
    assert "same day, path order" in tied[:tied.index("</tr>")]
    assert "same day, path order" in section(page, "documents")


def test_reprints_section_lists_the_document_pairs(report, raw_out):
    _, page, _ = report
    pairs = pl.read_parquet(raw_out / "reprints.parquet")
    assert pairs.height == 2  # the wire's barrier story: reprinted by the Tribune, quoted by the Lantern
    assert '<a href="#reprints">Reprints</a>' in page
    listed = section(page, "reprints")
    assert "2 pairs of documents share text: 2 ordered by\ndate" in listed and "All 2 document pairs" in listed
    rows = re.findall(r'<tr data-earlier="([0-9a-f]+)" data-later="([0-9a-f]+)" data-ordered-by="([a-z_]+)">(.*?)</tr>',
                      listed, flags=re.S)
    # largest first: the Tribune shares five paragraphs, the Lantern one
    assert [(e, l, o) for e, l, o, _ in rows] == [
        (r["earlier_doc_id"], r["later_doc_id"], r["ordered_by"])
        for r in pairs.sort("later_shared_paragraphs", descending=True).iter_rows(named=True)]
    for (earlier, later, _, cells), row in zip(rows, pairs.sort("later_shared_paragraphs", descending=True).iter_rows(named=True)):
        assert f'<a href="#doc-{earlier}">' in cells and f'<a href="#doc-{later}">' in cells
        assert f"{row['earlier_outlet']} · {row['earlier_date']}" in cells
        assert f"{row['later_outlet']} · {row['later_date']}" in cells
        assert f"<td>{row['lag_days']} day{'s' if row['lag_days'] != 1 else ''} later</td>" in cells
        assert f"{row['earlier_shared_paragraphs']} / {row['later_shared_paragraphs']}" in cells
        assert f">{row['earlier_share']:.0%}<" in cells and f">{row['later_share']:.0%}<" in cells
        assert f"<td>{row['kinds']}</td>" in cells


def test_documents_list_their_reprints_and_sources(report, raw_out, tables):
    _, page, _ = report
    documents = section(page, "documents")
    pairs = pl.read_parquet(raw_out / "reprints.parquet")
    for doc_id in tables["documents"]["doc_id"]:
        article = documents[documents.index(f'id="doc-{doc_id}"'):]
        article = article[:article.index("</article>")]
        reprinted_by = sorted(re.findall(r'<li data-reprint="([0-9a-f]+)">', article))
        sources = sorted(re.findall(r'<li data-source="([0-9a-f]+)">', article))
        assert reprinted_by == sorted(pairs.filter(pl.col("earlier_doc_id") == doc_id)["later_doc_id"])
        assert sources == sorted(pairs.filter(pl.col("later_doc_id") == doc_id)["earlier_doc_id"])
    wire = raw_doc_id("northwind-wire/portsmere-tidal-barrier-vote.txt")
    tribune = raw_doc_id("harbor-tribune/portsmere-votes-for-tidal-barrier.html")
    article = documents[documents.index(f'id="doc-{tribune}"'):]
    entry = article[article.index(f'<li data-source="{wire}">'):]
    entry = entry[:entry.index("</li>")]
    row = pairs.filter(pl.col("later_doc_id") == tribune).row(0, named=True)
    assert f'<a href="#doc-{wire}">' in entry and "Northwind Wire · 2026-03-14 (3 days earlier)" in entry
    assert f"5 paragraphs of this document, {row['later_share']:.0%} of it ({row['earlier_share']:.0%} of the other)" in entry


def test_a_run_without_reprints_has_no_reprints_section(raw_out, tmp_path):
    out = tmp_path / "before-reprints"
    shutil.copytree(raw_out, out, ignore=shutil.ignore_patterns("_work", "*.html", "reprints.parquet"))
    page = render_report(out, out / "report.html").read_text("utf-8")
    assert 'id="reprints"' not in page and 'href="#reprints"' not in page and 'class="reprint-links"' not in page
    assert 'data-documents="1"' in section(page, "reuse")  # documents per flow come from the paragraphs
    targets = set(re.findall(r'\bid="([^"]+)"', page))
    assert set(re.findall(r'href="#([^"]+)"', page)) <= targets


def test_page_is_self_contained_small_and_fast(report):
    path, page, seconds = report
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r'\b(?:src|href)\s*=\s*"(?!#)', page), "only in-page links, no external resources"
    assert "<link" not in page and "@import" not in page and not re.search(r"url\((?!#)", page)
    assert page.count("<script>") == 2 and "<script src" not in page
    assert path.stat().st_size < 400_000
    assert seconds < 10


# ------------------------------------------------------------------------------------ caps, escaping


def test_caps_are_stated(raw_out, tmp_path):
    path = render_report(raw_out, tmp_path / "capped.html", max_documents=3, max_clusters=2, max_outlets=2)
    page = path.read_text("utf-8")
    assert "Showing 3 of 10 documents" in page
    assert "Showing 2 of 3 clusters" in page
    assert "Showing 2 of 3 outlets that share paragraphs" in page
    assert 'data-outlets="2"' in page
    assert len(re.findall(r'<article class="doc"', page)) == 3
    assert len(re.findall(r'<article class="cluster"', page)) == 2
    targets = set(re.findall(r'\bid="([^"]+)"', page))
    assert set(re.findall(r'href="#([^"]+)"', page)) <= targets


#: Corpus values that would break a page assembled without escaping, or a template fed corpus text.
EVIL_TEXT = ('Breaking: <script>alert("x")</script> & <b onmouseover="y">bold</b> {{ 7*7 }} {% if 1 %}z{% endif %} '
             "it's $5 & $10 </p></section><!--")
EVIL_OUTLET = '<script>"A&B"{{ 7*7 }}$5&$10'


class Page(HTMLParser):
    """A page parsed the way a browser tokenizes it: every tag with its attributes, and the text
    inside each element named in ``collect`` (entities decoded)."""

    def __init__(self, page: str, collect: tuple[str, ...] = ("h3", "td", "text", "blockquote", "title", "li")):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.texts: dict[str, list[str]] = {name: [] for name in collect}
        self.open: list[list[Any]] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in self.texts:
            self.open.append([tag, []])

    def handle_endtag(self, tag):
        if self.open and self.open[-1][0] == tag:
            name, parts = self.open.pop()
            self.texts[name].append("".join(parts))

    def handle_data(self, data):
        for _, parts in self.open:
            parts.append(data)


@pytest.fixture(scope="module")
def hostile(raw_out, tmp_path_factory) -> tuple[Path, str]:
    """The raw/ run with the Northwind Wire renamed :data:`EVIL_OUTLET` in every table, every title,
    the text of every paragraph that is shared, and rule names and error messages made hostile;
    rendered to ``report.html``."""
    out = tmp_path_factory.mktemp("hostile") / "evil"
    shutil.copytree(raw_out, out, ignore=shutil.ignore_patterns("_work", "*.html"))

    def rewrite(name: str, **columns: pl.Expr) -> None:
        frame = pl.read_parquet(out / f"{name}.parquet")
        frame.with_columns(**columns).write_parquet(out / f"{name}.parquet")

    wire = pl.col("outlet") == "Northwind Wire"
    rename = pl.when(wire).then(pl.lit(EVIL_OUTLET)).otherwise(pl.col("outlet"))
    rewrite("documents", outlet=rename, title=pl.lit(EVIL_TEXT), url=pl.lit('https://x.test/?a=1&b="2"<i>'))
    shared = pl.col("cluster_id").is_not_null() | pl.col("paragraph_id").is_in(
        pl.concat([pl.read_parquet(out / "links.parquet")[side] for side in ("left_id", "right_id")]).implode())
    rewrite("paragraphs", outlet=rename,
            text=pl.when(shared).then(pl.lit(EVIL_TEXT) + pl.col("text")).otherwise(pl.col("text")))
    rewrite("removed", outlet=rename, reason=pl.lit('"><img src=x onerror="alert(1)">{{ rule }}'))
    rewrite("errors", message=pl.lit(EVIL_TEXT), source_path=pl.lit('raw/<i>"&.html'))
    rewrite("reprints", earlier_outlet=pl.lit(EVIL_OUTLET))
    return out, render_report(out, out / "report.html").read_text("utf-8")


def test_hostile_corpus_text_comes_out_escaped(hostile):
    out, page = hostile
    parsed = Page(page)
    # nothing from the corpus became markup: the page's two scripts and no handler, no image
    assert page.count("<script") == 2 and page.count("</script>") == 2
    assert [tag for tag, _ in parsed.tags].count("script") == 2
    assert not [(tag, attrs) for tag, attrs in parsed.tags if any(name.startswith("on") for name in attrs)]
    assert "img" not in {tag for tag, _ in parsed.tags}
    for raw in (EVIL_TEXT, EVIL_OUTLET, '<script>alert("x")', '<script>"A&B"', '<b onmouseover="y">', "<img"):
        assert raw not in page
    # ... and came out escaped, template syntax included, verbatim (not evaluated: no "49", no "z")
    assert esc(EVIL_TEXT) in page and esc(EVIL_OUTLET) in page
    assert "{{ 7*7 }} {% if 1 %}z{% endif %}" in page
    # what a browser reads back is exactly the corpus value, wherever it is shown
    assert EVIL_TEXT in parsed.texts["h3"]                                    # document titles
    assert sum(text.startswith(EVIL_TEXT) for text in parsed.texts["blockquote"]) >= 3  # clusters, quotes
    assert EVIL_OUTLET in parsed.texts["td"]                                  # flows, clusters, removals
    assert EVIL_OUTLET in parsed.texts["text"]                                # heatmap label (SVG text)
    assert any(EVIL_OUTLET in text for text in parsed.texts["li"])            # a document's sources
    assert any(attrs.get("data-source") == EVIL_OUTLET for tag, attrs in parsed.tags if tag == "tr")
    assert any(attrs.get("data-rule") == '"><img src=x onerror="alert(1)">{{ rule }}' for _, attrs in parsed.tags)
    # and the page is still whole: every section, in order, each closed before the next opens
    sections = [attrs["id"] for tag, attrs in parsed.tags if tag == "section"]
    assert sections == ["summary", "reuse", "reprints", "clusters", "quotes", "removals", "errors", "documents"]
    assert page.count("<section") == page.count("</section>") == len(sections)
    assert page.rstrip().endswith("</body></html>")


def test_templates_escape_everything_they_print():
    env = environment()
    assert env.autoescape is True
    names = sorted(path.name for path in TEMPLATES.iterdir())
    assert {"report.html.j2", "macros.html.j2", "documents.html.j2", "reprints.html.j2"} <= set(names)
    for name in names:
        env.get_template(name)  # every template parses
    # the only markup a template receives is the SVG of our own figures
    source = (TEMPLATES.parent / "report.py").read_text("utf-8")
    assert source.count("Markup(") == 1 and "|safe" not in "".join((TEMPLATES / n).read_text() for n in names)


def test_missing_run_is_a_usage_error(tmp_path):
    from corpusclean.errors import UsageError

    with pytest.raises(UsageError, match="not a finished corpusclean run"):
        render_report(tmp_path, tmp_path / "r.html")


def synthetic_run(out: Path, n_docs: int, seed: int = 7) -> Path:
    """Tables shaped like a run of ``n_docs`` documents in 60 outlets: 8 paragraphs each, paragraphs
    2-4 shared by runs of documents (clusters of 2 to 40 copies), 3 removals per document."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    doc_ids = [f"{i:016x}" for i in range(n_docs)]
    outlets = [f"Outlet {i % 60:02d}" for i in range(n_docs)]
    dates = [f"2026-{1 + i * 12 // n_docs:02d}-{1 + i % 28:02d}" for i in range(n_docs)]
    documents = pl.DataFrame({
        "doc_id": doc_ids, "source_path": [f"raw/o/{i:07d}.html" for i in range(n_docs)], "record_offset": 0,
        "source_hash": "0", "format": "html", "container": "file", "encoding": "utf-8", "encoding_evidence": "utf-8",
        "outlet": outlets, "outlet_source": "folder", "url": None, "title": [f"Title {i}" for i in range(n_docs)],
        "date": dates, "author": None, "sitename": None, "text": "", "n_paragraphs": 8, "n_removed": 3,
        "n_chars": 800, "config_hash": "0"}, schema=DOCUMENTS)
    para_doc = np.repeat(np.arange(n_docs), 8)
    para_idx = np.tile(np.arange(8), n_docs)
    paragraph_ids = [f"{doc_ids[d]}-{k:04d}" for d, k in zip(para_doc, para_idx)]
    paragraphs = pl.DataFrame({
        "paragraph_id": paragraph_ids, "doc_id": [doc_ids[d] for d in para_doc], "para_idx": para_idx,
        "is_title": para_idx == 0,
        "text": [f"Paragraph {k} of document {d}, with some words to show." for d, k in zip(para_doc, para_idx)],
        "char_start": 0, "char_end": 10, "source_units": [[int(k)] for k in para_idx], "n_words": 10,
        "exact_hash": 0, "source_path": [f"raw/o/{d:07d}.html" for d in para_doc], "record_offset": 0,
        "outlet": [outlets[d] for d in para_doc], "date": [dates[d] for d in para_doc], "config_hash": "0"},
        schema=PARAGRAPHS)
    # consecutive documents share paragraphs 2..4 in groups of 2..40; the first of a group is canonical
    sizes = rng.integers(2, 41, size=n_docs)
    group = np.repeat(np.arange(n_docs), sizes)[:n_docs]
    first = np.searchsorted(group, group)
    shared = (para_idx >= 2) & (para_idx <= 4)
    canonical_doc = first[para_doc]
    group_size = np.bincount(group)[group][para_doc]
    in_cluster = shared & (group_size > 1)
    canonical_ids = [f"{doc_ids[c]}-{k:04d}" for c, k in zip(canonical_doc, para_idx)]
    paragraphs = paragraphs.with_columns(
        cluster_id=pl.Series([f"c{c:07d}{k}" if s else None for c, k, s in zip(canonical_doc, para_idx, in_cluster)],
                             dtype=pl.String),
        cluster_size=pl.Series(np.where(in_cluster, group_size, 1), dtype=pl.Int32),
        is_canonical=pl.Series(~in_cluster | (canonical_doc == para_doc)),
        canonical_id=pl.Series([c if s else p for c, p, s in zip(canonical_ids, paragraph_ids, in_cluster)]),
        canonical_doc_id=pl.Series([doc_ids[c] if s else doc_ids[d]
                                    for c, d, s in zip(canonical_doc, para_doc, in_cluster)]),
        similarity=pl.lit(1.0),
        cluster_outlets=pl.Series(np.where(in_cluster, np.minimum(group_size, 60), 1), dtype=pl.Int32),
    ).cast(CLUSTER_COLUMNS)
    members = paragraphs.filter(pl.col("cluster_id").is_not_null() & ~pl.col("is_canonical"))
    links = members.select(pl.col("canonical_id").alias("left_id"), pl.col("paragraph_id").alias("right_id"),
                           pl.col("canonical_doc_id").alias("left_doc_id"), pl.col("doc_id").alias("right_doc_id"),
                           pl.lit("exact").alias("kind"), pl.lit(1.0).alias("jaccard"),
                           pl.lit(1.0).alias("containment_left"), pl.lit(1.0).alias("containment_right")).cast(LINKS)
    rules = [f"generic.rule_{i:02d}" for i in range(20)]
    rem_doc = np.repeat(np.arange(n_docs), 3)
    removed = pl.DataFrame({
        "doc_id": [doc_ids[d] for d in rem_doc], "source_path": [f"raw/o/{d:07d}.html" for d in rem_doc],
        "unit_idx": np.tile([8, 9, 10], n_docs), "char_start": 0, "char_end": 12, "text": "Share: print",
        "reason": [rules[i % 20] for i in rng.integers(0, 20, size=len(rem_doc))], "stage": "strip",
        "outlet": [outlets[d] for d in rem_doc]}, schema=REMOVED)
    n_errors = max(1, n_docs // 100)
    errors = pl.DataFrame({"doc_id": [f"e{i:015x}" for i in range(n_errors)],
                           "source_path": [f"raw/o/bad-{i:05d}.html" for i in range(n_errors)], "record_offset": 0,
                           "stage": "clean",
                           "error_type": (["no_article", "empty", "binary"] * n_errors)[:n_errors],
                           "message": "synthetic"}, schema=ERRORS)
    for name, frame in zip(TABLES, (documents, paragraphs, removed, links, errors)):
        frame.write_parquet(out / f"{name}.parquet")
    chars = paragraphs.with_columns(chars=pl.col("text").str.len_chars())
    reprints(chars, links, documents.select("doc_id", "outlet", "date").join(
        chars.group_by("doc_id").agg(pl.col("chars").sum()), on="doc_id")).write_parquet(out / "reprints.parquet")
    counts = {"inputs": n_docs + n_errors, "documents": n_docs, "errors": n_errors, "paragraphs": paragraphs.height,
              "removed": removed.height, "links": links.height, "clusters": paragraphs["cluster_id"].n_unique() - 1}
    manifest = {"version": "synthetic", "inputs": ["raw"], "counts": counts, "accounting": {"balanced": True},
                "timings_seconds": {"total": 1.0}}
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


def test_large_run_is_capped_small_and_fast(tmp_path):
    out = synthetic_run(tmp_path / "big", 20_000)
    started = time.perf_counter()
    path = render_report(out, tmp_path / "big.html")
    seconds = time.perf_counter() - started
    page = path.read_text("utf-8")
    assert "Showing 200 of 20,000 documents" in page
    assert re.search(r"Showing 50 of [\d,]+ clusters", page)
    assert "Showing 30 of 60 outlets that share paragraphs" in page
    assert "Showing 100 of 200 failed inputs" in page
    assert len(re.findall(r'<article class="doc"', page)) == 200
    assert path.stat().st_size < 3_000_000
    assert seconds < 20, f"rendering took {seconds:.1f} s"


# ------------------------------------------------------------------------------------------- CLI


def test_report_command(raw_out, tmp_path):
    target = tmp_path / "cli.html"
    completed, default = corpusclean_together(["report", str(raw_out), "-o", str(target), "--max-documents", "4"],
                                              ["report", str(raw_out)])  # two pages, two files, side by side
    assert completed.returncode == 0, completed.stderr
    assert "report:" in completed.stdout and target.is_file()
    assert "Showing 4 of 10 documents" in target.read_text("utf-8")
    assert default.returncode == 0, default.stderr
    assert (raw_out / "report.html").is_file()


def test_report_command_on_a_missing_run_exits_2(tmp_path):
    completed = corpusclean("report", str(tmp_path / "nothing"))
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines() == [f"corpusclean: error: no such output folder: {tmp_path / 'nothing'}"]


# ------------------------------------------------------------------------------ headless Chromium


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium; installed with apt-get when missing (CI runs as root), else the test skips."""
    if not CHROMIUM.exists():
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        try:
            for command in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]):
                subprocess.run(command, check=True, capture_output=True, text=True, timeout=1800, env=env)
        except (OSError, subprocess.SubprocessError) as exc:
            detail = getattr(exc, "stderr", None) or str(exc)
            pytest.skip(f"headless Chromium is not installed and `apt-get install chromium` failed: "
                        f"{detail.strip().splitlines()[-1] if detail.strip() else exc}")
        if not CHROMIUM.exists():
            pytest.skip(f"`apt-get install chromium` did not provide {CHROMIUM}")
    return CHROMIUM


def run_chromium(binary: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(binary), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120)


def test_report_renders_in_headless_chromium(chromium, report, tmp_path):
    import matplotlib.image

    path = report[0]
    dom = run_chromium(chromium, tmp_path / "profile-dom", "--dump-dom", path.as_uri())
    _assert_rendered(dom)
    assert "Uncaught" not in dom.stderr and ":CONSOLE" not in dom.stderr, dom.stderr[-2000:]

    png = tmp_path / "report.png"
    shot = run_chromium(chromium, tmp_path / "profile-shot", f"--screenshot={png}", "--window-size=1280,2000",
                        path.as_uri())
    assert shot.returncode == 0 and png.is_file() and png.stat().st_size > 0, shot.stderr[-2000:]
    image = matplotlib.image.imread(png)
    assert image.shape[:2] == (2000, 1280)
    colours = np.unique((image[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 50, "the screenshot is (nearly) one colour: the page did not render"
    assert float(image[..., :3].std()) > 0.05


def _assert_rendered(dom) -> None:
    """Chromium's --dump-dom of the report: it ran, its scripts raised nothing, the heatmap has a width."""
    assert dom.returncode == 0, dom.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", dom.stdout)
    assert body, dom.stdout[:500]
    attributes = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body.group(1)))
    assert attributes.get("js-errors") == "0", attributes
    assert int(attributes.get("heatmap-width", "0")) > 200, attributes


def test_hostile_report_renders_in_headless_chromium(chromium, hostile, tmp_path):
    """A browser runs no corpus text as script: no error, the page's two scripts only, every section."""
    out, _ = hostile
    dom = run_chromium(chromium, tmp_path / "profile-hostile", "--dump-dom", (out / "report.html").as_uri())
    _assert_rendered(dom)
    assert len(re.findall(r"<script\b", dom.stdout)) == 2
    assert "onmouseover" not in re.sub(r"&lt;.*?&gt;", "", dom.stdout) and "<img" not in dom.stdout
    assert len(re.findall(r'<section id="', dom.stdout)) == 8
