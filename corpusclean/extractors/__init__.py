"""Extractors: a decoded page to its article text and metadata (title, date, url, site, author)."""
