"""corpusclean: raw news crawls in, a clean deduplicated Parquet corpus with provenance out.

Each stage is importable on its own; :func:`run` runs them all:

    >>> from corpusclean import run, faithful, match_key
    >>> faithful("\u201cQuoted\u201d\u00a0text, \u00bd m\u00b2")   # the stored text: as written
    '\u201cQuoted\u201d text, \u00bd m\u00b2'
    >>> match_key("\u201cQuoted\u201d\u00a0text, \u00bd m\u00b2")  # what hashes and rules match on
    '"Quoted" text, 1\u20442 m2'
"""

__version__ = "0.1.0"

# Public names, imported on first use (PEP 562): phase-A worker processes import
# ``corpusclean.shards`` only, and should not pay for phase B, scipy and the report at start-up.
_EXPORTS = {
    "Context": "clean", "Rows": "clean", "clean_file": "clean", "clean_record": "clean",
    "Config": "config", "load_config": "config",
    "assign_clusters": "dedup.clusters", "exact_links": "dedup.exact", "link_corpus": "dedup.phase_b",
    "InputError": "errors", "UsageError": "errors",
    "extract_html": "extractors.html", "resolve_outlet": "extractors.outlet", "parse_text": "extractors.text",
    "apply_rules": "filters.rules", "load_packs": "filters.rules", "split_title": "filters.titles",
    "RunResult": "pipeline", "run": "pipeline", "run_dedup": "pipeline", "run_extract": "pipeline",
    "decode_bytes": "readers.decode", "discover": "readers.discover", "read_records": "readers.records",
    "normalize": "text.normalize", "faithful": "text.normalize", "match_key": "text.normalize",
    "rejoin_broken": "text.segment", "split_units": "text.segment",
}


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'corpusclean' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = [
    "Config", "Context", "InputError", "Rows", "RunResult", "UsageError", "apply_rules", "assign_clusters",
    "clean_file", "clean_record", "decode_bytes", "discover", "exact_links", "extract_html", "faithful",
    "load_config", "load_packs", "match_key", "normalize", "parse_text", "read_records", "rejoin_broken", "resolve_outlet", "run",
    "run_dedup", "run_extract", "link_corpus", "split_title", "split_units",
]
