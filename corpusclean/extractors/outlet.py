"""Which outlet published a document, and how we know.

An outlet is a site: ``amp.``, ``m.``, ``edition.`` and ``www.`` hosts of one site are one outlet, found
through the registered domain of the URL (the public-suffix list says where it begins: ``bbc.co.uk``,
not ``co.uk``). Evidence, strongest first; the first that answers wins and is recorded in
``outlet_source``:

1. ``url``: a site pack lists the URL's domain (its full host or its registered domain): the pack's
   outlet;
2. ``field``: the JSONL record's outlet field;
3. ``metadata``: the page's own site-name metadata;
4. ``domain``: the registered domain of the URL (``amp.theguardian.com`` → ``theguardian.com``);
5. ``folder``: the input layout ``raw/<outlet>/…``; the name as the page itself spells it when its
   a site pack whose outlet slugs to the folder name gives its name, else the page's own spelling when
   its text holds the folder's words in order with a capital (``the-lantern`` and "© 2026 The
   Lantern" give "The Lantern"), else the folder name;
6. ``pattern``: a site pack's ``detect`` regex found in the text (a dateline such as "(Sputnik) -" or
   "INTERFAX.RU").

When none answers the outlet is empty: never guessed.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import regex

from ..filters.rules import RulePack, detect_outlet

if TYPE_CHECKING:
    import tldextract


def url_host(url: str | None) -> str | None:
    """Lower-cased host of ``url`` without a leading ``www.``; ``None`` when there is none."""
    if not url:
        return None
    try:
        host = urlsplit(url if "//" in url else "//" + url).hostname
    except ValueError:
        return None
    host = host.rstrip(".") if host else None  # "example.com." is example.com
    return host.removeprefix("www.") if host else None


@functools.cache
def _suffix_extractor() -> "tldextract.TLDExtract":
    # No suffix list URLs and no cache directory: tldextract then reads only the snapshot bundled with
    # the package, so a run never touches the network or writes outside its output.
    # Private suffixes (blogspot.com, github.io) count: each blog on them is its own site, and merging
    # them into one outlet would make their shared text look like one outlet's template.
    import tldextract  # requests comes with it: 0.1 s paid only once a URL needs it

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)


@functools.lru_cache(maxsize=65536)
def _registered_domain_of_host(host: str) -> str:
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    parts = _suffix_extractor()(host)
    if parts.suffix:
        # a bare public suffix ("co.uk") has no registered domain above it: the host is all there is
        return parts.top_domain_under_public_suffix or host
    # a suffix outside the list (localhost, .example, .internal): the list's default rule "*" makes
    # the last label the suffix
    return ".".join(host.split(".")[-2:])


def registered_domain(url: str | None) -> str | None:
    """The registered domain of ``url``'s host (one site's hosts share it); ``None`` when there is no host.

    IP addresses and single-label hosts such as ``localhost`` are their own domain.

    Example:
        >>> registered_domain("https://amp.theguardian.com/x"), registered_domain("news.bbc.co.uk")
        ('theguardian.com', 'bbc.co.uk')
        >>> registered_domain("http://127.0.0.1:8080/a"), registered_domain("http://localhost/"), registered_domain("")
        ('127.0.0.1', 'localhost', None)
    """
    host = url_host(url)
    return _registered_domain_of_host(host) if host else None


_NOT_ALPHANUMERIC = regex.compile(r"[^\p{L}\p{N}]+")


def slug(name: str) -> str:
    """``"The Lantern"`` → ``"the-lantern"``: how folder names and site names are compared."""
    return _NOT_ALPHANUMERIC.sub("-", name.casefold()).strip("-")


def spelled_in(text: str, folder: str) -> str | None:
    """How ``text`` spells the name whose slug is ``folder``: its words in order, any separators
    between them, with at least one capital (a proper spelling, not the slug again); None if absent.

        >>> spelled_in("Copyright © 2026 The Harbor  Tribune. All rights reserved.", "the-harbor-tribune")
        'The Harbor  Tribune'
        >>> spelled_in("the harbor tribune", "the-harbor-tribune") is None
        True
    """
    words = [regex.escape(word) for word in folder.split("-") if word]
    if not words or not text:
        return None
    pattern = regex.compile(r"(?<![\p{L}\p{N}])" + r"[^\p{L}\p{N}\n]{1,3}".join(words) + r"(?![\p{L}\p{N}])",
                            regex.IGNORECASE)
    for match in pattern.finditer(text):
        if any(char.isupper() for char in match.group()):
            return match.group()
    return None


def resolve_outlet(*, url: str | None, sitename: str | None, field_outlet: str | None,
                   folder: str | None, text: str, packs: list[RulePack], page_text: str = "") -> tuple[str, str]:
    """Return ``(outlet, outlet_source)``; ``("", "")`` when unknown. ``text`` is what the site packs'
    ``detect`` patterns search; ``page_text`` (as written, chrome included) is where a folder's name
    is looked up as the page spells it.

    Example:
        >>> resolve_outlet(url=None, sitename=None, field_outlet=None, folder="northwind-wire",
        ...                text="", packs=[])
        ('northwind-wire', 'folder')
        >>> resolve_outlet(url=None, sitename=None, field_outlet=None, folder="northwind-wire",
        ...                text="", packs=[], page_text="PORTSMERE (Northwind Wire) - The council")
        ('Northwind Wire', 'folder')
        >>> resolve_outlet(url="https://edition.example.co.uk/a", sitename=None, field_outlet=None,
        ...                folder="crawl", text="", packs=[])
        ('example.co.uk', 'domain')
    """
    site_packs = [pack for pack in packs if pack.outlet]
    host = url_host(url)
    domain = _registered_domain_of_host(host) if host else None
    if host:
        for pack in site_packs:
            if pack.matches_outlet(None, host) or pack.matches_outlet(None, domain):
                return pack.outlet, "url"
    if field_outlet and field_outlet.strip():
        return field_outlet.strip(), "field"
    if sitename and sitename.strip():
        return sitename.strip(), "metadata"
    if domain:
        return domain, "domain"
    if folder:
        for pack in site_packs:
            if slug(pack.outlet) == slug(folder):
                return pack.outlet, "folder"
        spelled = spelled_in(page_text, slug(folder))
        return (" ".join(spelled.split()) if spelled else folder), "folder"
    detected = detect_outlet(text, site_packs)
    return (detected, "pattern") if detected else ("", "")
