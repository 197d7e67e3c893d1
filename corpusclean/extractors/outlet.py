"""Which outlet published a document, and how we know.

Evidence, strongest first; the first that answers wins and is recorded in ``outlet_source``:

1. ``url``: the page's URL host, named by the site pack that lists the domain, else by the page's own
   site name metadata (``metadata``), else the bare host;
2. ``field``: the JSONL record's outlet field;
3. ``folder``: the input layout ``raw/<outlet>/…`` (a site pack whose outlet slugs to the folder name
   gives the proper name);
4. ``pattern``: a site pack's ``detect`` regex found in the text (a dateline such as "(Sputnik) -" or
   "INTERFAX.RU").

When none answers the outlet is empty: never guessed.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import regex

from ..filters.rules import RulePack, detect_outlet


def url_host(url: str | None) -> str | None:
    """Lower-cased host of ``url`` without a leading ``www.``; ``None`` when there is none."""
    if not url:
        return None
    try:
        host = urlsplit(url if "//" in url else "//" + url).hostname
    except ValueError:
        return None
    return host.removeprefix("www.") if host else None


_NOT_ALPHANUMERIC = regex.compile(r"[^\p{L}\p{N}]+")


def slug(name: str) -> str:
    """``"The Lantern"`` → ``"the-lantern"``: how folder names and site names are compared."""
    return _NOT_ALPHANUMERIC.sub("-", name.casefold()).strip("-")


def resolve_outlet(*, url: str | None, sitename: str | None, field_outlet: str | None,
                   folder: str | None, text: str, packs: list[RulePack]) -> tuple[str, str]:
    """Return ``(outlet, outlet_source)``; ``("", "")`` when unknown.

    Example:
        >>> resolve_outlet(url=None, sitename=None, field_outlet=None, folder="northwind-wire",
        ...                text="", packs=[])
        ('northwind-wire', 'folder')
    """
    site_packs = [pack for pack in packs if pack.outlet]
    host = url_host(url)
    if host:
        for pack in site_packs:
            if pack.matches_outlet(None, host):
                return pack.outlet, "url"
        if sitename:
            return sitename.strip(), "metadata"
        return host, "url"
    if sitename:
        return sitename.strip(), "metadata"
    if field_outlet:
        return field_outlet.strip(), "field"
    if folder:
        for pack in site_packs:
            if slug(pack.outlet) == slug(folder):
                return pack.outlet, "folder"
        return folder, "folder"
    detected = detect_outlet(text, site_packs)
    return (detected, "pattern") if detected else ("", "")
