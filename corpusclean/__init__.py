"""corpusclean: raw news crawls in, a clean deduplicated Parquet corpus with provenance out.

Each stage is importable on its own; :func:`run` runs them all:

    >>> from corpusclean import run, normalize
    >>> normalize("\u201cQuoted\u201d\u00a0text")
    '"Quoted" text'
"""

__version__ = "0.1.0"

from .clean import Context, Rows, clean_file, clean_record  # noqa: E402
from .config import Config, load_config  # noqa: E402
from .dedup.clusters import assign_clusters  # noqa: E402
from .dedup.exact import exact_links  # noqa: E402
from .errors import InputError, UsageError  # noqa: E402
from .extractors.html import extract_html  # noqa: E402
from .extractors.outlet import resolve_outlet  # noqa: E402
from .extractors.text import parse_text  # noqa: E402
from .filters.rules import apply_rules, load_packs  # noqa: E402
from .filters.titles import split_title  # noqa: E402
from .dedup.phase_b import link_corpus  # noqa: E402
from .pipeline import RunResult, run, run_dedup, run_extract  # noqa: E402
from .readers.decode import decode_bytes  # noqa: E402
from .readers.discover import discover  # noqa: E402
from .readers.records import read_records  # noqa: E402
from .text.normalize import normalize  # noqa: E402
from .text.segment import rejoin_broken, split_units  # noqa: E402

__all__ = [
    "Config", "Context", "InputError", "Rows", "RunResult", "UsageError", "apply_rules", "assign_clusters",
    "clean_file", "clean_record", "decode_bytes", "discover", "exact_links", "extract_html", "load_config",
    "load_packs", "normalize", "parse_text", "read_records", "rejoin_broken", "resolve_outlet", "run",
    "run_dedup", "run_extract", "link_corpus", "split_title", "split_units",
]
