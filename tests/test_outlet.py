"""Outlets are sites: registered domains, the order of the evidence, and no network for the suffix list."""

from __future__ import annotations

import json
import os
import socket

import polars as pl
import pytest
import regex

from corpusclean.extractors import outlet as outlet_module
from corpusclean.extractors.outlet import registered_domain, resolve_outlet, url_host
from corpusclean.filters.rules import RulePack

from tests.conftest import corpusclean, read_tables

LANTERN = RulePack(name="lantern", rules=(), outlet="The Lantern", domains=("example.com",))


def _resolve(url=None, sitename=None, field_outlet=None, folder=None, text="", packs=()):
    return resolve_outlet(url=url, sitename=sitename, field_outlet=field_outlet, folder=folder, text=text,
                          packs=list(packs))


@pytest.mark.parametrize("url", [
    "https://www.theguardian.com/world/2024/may/07/x", "https://amp.theguardian.com/world/2024/may/07/x",
    "https://m.theguardian.com/x", "http://edition.theguardian.com/x?y=1", "theguardian.com/x",
    "https://WWW.TheGuardian.com./x", "https://amp.theguardian.com:443/x",
])
def test_hosts_of_one_site_are_one_outlet(url):
    assert registered_domain(url) == "theguardian.com"
    assert _resolve(url=url, folder="crawl") == ("theguardian.com", "domain")


@pytest.mark.parametrize(("url", "domain"), [
    ("https://news.bbc.co.uk/1/hi/x.stm", "bbc.co.uk"),
    ("https://www.bbc.co.uk/news/x", "bbc.co.uk"),
    ("https://amp.abc.net.au/article/x", "abc.net.au"),
    ("https://m.smh.com.au/x", "smh.com.au"),
    ("https://edition.lemonde.fr/x", "lemonde.fr"),
    ("https://ria.ru/x", "ria.ru"),
    ("https://www.kommersant.ru/doc/1", "kommersant.ru"),
])
def test_multi_label_public_suffixes(url, domain):
    assert registered_domain(url) == domain


def test_hosts_that_are_their_own_domain():
    assert registered_domain("http://127.0.0.1:8080/a") == "127.0.0.1"
    assert registered_domain("http://[::1]/a") == "::1"
    assert registered_domain("http://localhost/a") == "localhost"
    assert registered_domain("https://co.uk/") == "co.uk"  # a bare public suffix has nothing above it
    # a suffix the list does not know (.example) is one label, as the list's default rule says
    assert registered_domain("https://amp.harbortribune.example/a") == "harbortribune.example"
    # private suffixes count: two blogs are two sites, not one outlet "blogspot.com"
    assert registered_domain("https://a.blogspot.com/x") == "a.blogspot.com"
    assert registered_domain("https://b.blogspot.com/x") == "b.blogspot.com"


@pytest.mark.parametrize("url", [None, "", "https:///path", "http://[bad/"])
def test_no_host_no_domain(url):
    assert registered_domain(url) is None
    assert _resolve(url=url) == ("", "")


def test_url_host_is_unchanged_for_its_callers():
    assert url_host("https://www.amp.theguardian.com/x") == "amp.theguardian.com"
    assert url_host("https://news.example/1") == "news.example"
    assert url_host(None) is None


def test_order_of_evidence():
    url = "https://amp.example.com/a"
    other = "https://amp.theguardian.com/a"
    # 1. a site pack that lists the domain beats everything, matched on the host or its registered domain
    assert _resolve(url=url, sitename="Site", field_outlet="Field", folder="dir", packs=[LANTERN]) == (
        "The Lantern", "url")
    assert _resolve(url="https://example.com/a", field_outlet="Field", packs=[LANTERN]) == ("The Lantern", "url")
    assert _resolve(url="https://a.b.example.com/a", field_outlet="Field", packs=[LANTERN]) == (
        "The Lantern", "url")
    pack_of_a_host = RulePack(name="amp", rules=(), outlet="Amp Only", domains=("amp.example.com",))
    assert _resolve(url=url, packs=[pack_of_a_host]) == ("Amp Only", "url")
    assert _resolve(url="https://m.example.com/a", packs=[pack_of_a_host]) == ("example.com", "domain")
    # 2. the record's field beats the page's metadata and the URL's domain
    assert _resolve(url=other, sitename="Site", field_outlet=" Field ", folder="dir", packs=[LANTERN]) == (
        "Field", "field")
    # 3. metadata beats the domain
    assert _resolve(url=other, sitename="The Guardian", folder="dir", packs=[LANTERN]) == ("The Guardian", "metadata")
    # 4. the domain beats the folder
    assert _resolve(url=other, folder="dir", packs=[LANTERN]) == ("theguardian.com", "domain")
    # 5. folder, named by the pack whose outlet slugs to it; 6. a pack's detection pattern
    assert _resolve(folder="the-lantern", packs=[LANTERN]) == ("The Lantern", "folder")
    detecting = RulePack(name="wire", rules=(), outlet="Northwind Wire", detect=(regex.compile(r"\(Northwind\) -"),))
    assert _resolve(text="PORTSMERE (Northwind) - The council met.", packs=[detecting]) == ("Northwind Wire", "pattern")
    # blank evidence is no evidence
    assert _resolve(url=other, sitename="  ", field_outlet="") == ("theguardian.com", "domain")


def test_suffix_list_is_the_bundled_snapshot_and_never_fetched(monkeypatch, tmp_path):
    monkeypatch.setenv("TLDEXTRACT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "https://publicsuffix.org/list/public_suffix_list.dat")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))

    def no_network(*args, **kwargs):
        raise AssertionError(f"network used: {args!r}")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    # build the extractor afresh, under the hostile environment, and restore the shared one afterwards
    outlet_module._suffix_extractor.cache_clear()
    outlet_module._registered_domain_of_host.cache_clear()
    try:
        extractor = outlet_module._suffix_extractor()
        assert extractor.suffix_list_urls == () and not extractor._cache.enabled
        assert registered_domain("https://amp.theguardian.com/x") == "theguardian.com"
        assert registered_domain("https://news.bbc.co.uk/x") == "bbc.co.uk"
        assert len(extractor.tlds) > 5000  # the whole snapshot, not a stub
    finally:
        outlet_module._suffix_extractor.cache_clear()
        outlet_module._registered_domain_of_host.cache_clear()
    assert not list(tmp_path.rglob("*")), "tldextract wrote a cache"


def _article(n: int) -> str:
    """A distinct article per record: shared paragraphs would make phase B call them one site's template."""
    return (f"Story number {n} tells how the harbour committee voted on plan {n * 7919 % 1000} this week.\n\n"
            f"Members of the board said proposal {n} would cost {n * 37 % 100} million over {n % 9 + 2} years, "
            f"and residents of district {n} asked for another hearing before work starts.")


def _page(n: int, sitename: str) -> str:
    paragraphs = "".join(f"<p>{p}</p>" for p in _article(n).split("\n\n"))
    return (f'<html><head><meta property="og:site_name" content="{sitename}"><title>Page {n} headline</title>'
            f"</head><body><article><h1>Page {n} headline</h1>{paragraphs}</article></body></html>")


def test_cli_run_collapses_hosts_and_prefers_the_field(tmp_path):
    records = {
        "guardian-amp": {"url": "https://amp.theguardian.com/uk/1", "text": _article(1)},
        "guardian-www": {"url": "https://www.theguardian.com/uk/2", "text": _article(2)},
        "guardian-m": {"url": "https://m.theguardian.com/uk/3", "text": _article(3)},
        "cnn-edition": {"url": "https://edition.cnn.com/2024/05/07/4", "text": _article(4)},
        "cnn-www": {"url": "https://www.cnn.com/2024/05/07/5", "text": _article(5)},
        "bbc-news": {"url": "http://news.bbc.co.uk/1/hi/6.stm", "text": _article(6)},
        "bbc-www": {"url": "https://www.bbc.co.uk/news/7", "text": _article(7)},
        # the record says who published it: the URL's host does not overrule it
        "field": {"url": "https://amp.theguardian.com/uk/8", "outlet": "Guardian Weekly", "text": _article(8)},
        # ... nor does the page's own site name
        "field-over-metadata": {"url": "https://m.cnn.com/9", "outlet": "CNN Wire", "html": _page(9, "CNN Site")},
        "metadata": {"url": "https://m.cnn.com/10", "html": _page(10, "CNN Site")},
        # a site pack that lists the domain (bundled configs/sites/harbor_tribune.toml) still wins
        "pack": {"url": "https://amp.harbortribune.example/11", "outlet": "Someone Else", "text": _article(11)},
    }
    feed = tmp_path / "in" / "crawl" / "feed.jsonl"
    feed.parent.mkdir(parents=True)
    feed.write_text("".join(json.dumps(record) + "\n" for record in records.values()), encoding="utf-8")
    out = tmp_path / "out"
    # were tldextract allowed a cache, this is where it would write it
    env = {**os.environ, "TLDEXTRACT_CACHE": str(tmp_path / "tldextract-cache")}
    completed = corpusclean("run", str(tmp_path / "in"), "-o", str(out), "--workers", "1", "--quiet", env=env)
    assert completed.returncode == 0, completed.stderr
    tables = read_tables(out)
    assert tables["errors"].height == 0, tables["errors"].to_dicts()
    documents = tables["documents"].sort("record_offset")
    assert documents.height == len(records)
    got = dict(zip(records, zip(documents["outlet"], documents["outlet_source"])))
    assert got == {
        "guardian-amp": ("theguardian.com", "domain"), "guardian-www": ("theguardian.com", "domain"),
        "guardian-m": ("theguardian.com", "domain"),
        "cnn-edition": ("cnn.com", "domain"), "cnn-www": ("cnn.com", "domain"),
        "bbc-news": ("bbc.co.uk", "domain"), "bbc-www": ("bbc.co.uk", "domain"),
        "field": ("Guardian Weekly", "field"), "field-over-metadata": ("CNN Wire", "field"),
        "metadata": ("CNN Site", "metadata"), "pack": ("Harbor Tribune", "url"),
    }
    # the outlet reaches the other tables too
    paragraphs = tables["paragraphs"].join(documents.select("doc_id", pl.col("outlet").alias("doc_outlet")), on="doc_id")
    assert (paragraphs["outlet"] == paragraphs["doc_outlet"]).all()
    assert not (tmp_path / "tldextract-cache").exists()


def test_a_folder_outlet_takes_the_name_as_its_pages_spell_it(tmp_path):
    # no site name, no URL: the folder names the outlet, spelled as the page itself prints it
    from corpusclean import run

    folder = tmp_path / "crawl" / "eastvale-gazette"
    folder.mkdir(parents=True)
    (folder / "a.txt").write_text(
        "Harbour wall approved\n\nThe council approved the new harbour wall on Tuesday after three winters of floods "
        "closed the quay and the fish market for weeks.\n\nCopyright © 2026 Eastvale Gazette. All rights reserved.\n",
        encoding="utf-8")
    (tmp_path / "crawl" / "millbrook-courier").mkdir()
    (tmp_path / "crawl" / "millbrook-courier" / "b.txt").write_text(
        "Ferry times change\n\nThe island ferry will run two more crossings a day through the winter, the operator "
        "said on Saturday after residents complained.\n", encoding="utf-8")
    result = run([tmp_path / "crawl"], tmp_path / "out", workers=1)
    outlets = dict(result.read("documents").select("source_path", "outlet").iter_rows())
    assert outlets == {"crawl/eastvale-gazette/a.txt": "Eastvale Gazette",
                       "crawl/millbrook-courier/b.txt": "millbrook-courier"}  # never spelled: the folder
