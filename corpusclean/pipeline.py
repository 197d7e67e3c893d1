"""The whole run: discover inputs, phase A per document, phase B across the corpus, write ``OUT/``.

Example:
    >>> from corpusclean import run
    >>> result = run(["raw"], "out", progress=False)          # doctest: +SKIP
    >>> result.counts["documents"], result.counts["errors"]    # doctest: +SKIP
    (11, 1)
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import polars as pl

from . import __version__
from .clean import Context, Rows, problem_rows
from .config import Config, load_config
from .dedup.clusters import assign_clusters
from .dedup.exact import exact_links
from .errors import UsageError
from .executors.local import default_workers, map_files
from .readers.discover import discover
from .schema import DOCUMENTS, ERRORS, LINKS, PARAGRAPHS, REMOVED, frame
from .writers.parquet import write_json, write_table

TABLES = ("documents", "paragraphs", "removed", "links", "errors")


@dataclass
class RunResult:
    """What a run produced: the output folder, the tables, counts and per-stage timings."""

    output: Path
    tables: dict[str, pl.DataFrame]
    counts: dict[str, int]
    timings: dict[str, float]
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def removed_by_reason(self) -> dict[str, int]:
        return dict(self.manifest["removed_by_reason"])

    @property
    def errors_by_type(self) -> dict[str, int]:
        return dict(self.manifest["errors_by_type"])


def _resolve_config(config: Config | str | Path | None) -> Config:
    return config if isinstance(config, Config) else load_config(config)


def _prepare_output(output: Path) -> None:
    try:
        output.mkdir(parents=True, exist_ok=True)
        probe = output / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"cannot write to output folder {output}: {exc.strerror or exc}") from None


def phase_a_tables(rows: Rows) -> dict[str, pl.DataFrame]:
    """Phase-A rows to sorted tables (paragraphs still without cluster columns)."""
    return {
        "documents": frame(rows.documents, DOCUMENTS).sort("source_path", "record_offset"),
        "paragraphs": frame(rows.paragraphs, PARAGRAPHS).sort("source_path", "record_offset", "para_idx"),
        "removed": frame(rows.removed, REMOVED).sort("source_path", "doc_id", "unit_idx", "char_start", "reason",
                                                       nulls_last=False),
        "errors": frame(rows.errors, ERRORS).sort("source_path", "record_offset"),
    }


def phase_b(paragraphs: pl.DataFrame, config: Config) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Corpus-wide pass: link duplicate paragraphs and cluster them. Returns ``(paragraphs, links)``."""
    links = exact_links(paragraphs, min_words=config.section("dedup")["min_words"])
    clustered = assign_clusters(paragraphs, links).sort("source_path", "record_offset", "para_idx")
    return clustered, frame(links.to_dicts(), LINKS).sort("left_id", "right_id")


def run(inputs: Sequence[str | Path], output: str | Path, config: Config | str | Path | None = None,
        workers: int | None = None, on_progress: Callable[[str, int, int], None] | None = None) -> RunResult:
    """Clean ``inputs`` (files or folders) into the tables of ``output``.

    Args:
        inputs: files and folders to read (folders recursively).
        output: folder for ``documents``/``paragraphs``/``removed``/``links``/``errors`` Parquet and
            ``manifest.json``; created if missing.
        config: a :class:`Config`, a TOML path, or ``None`` for the defaults.
        workers: processes for phase A (default: all cores).
        on_progress: called as ``(stage, done, total)`` while work advances.

    Raises:
        UsageError: a missing input, a bad config, an unwritable output folder.
    """
    started = time.perf_counter()
    timings: dict[str, float] = {}
    config = _resolve_config(config)
    context = Context.from_config(config)
    output = Path(output)
    _prepare_output(output)
    workers = workers or default_workers()

    clock = time.perf_counter()
    files, problems = discover(inputs, skip_hidden=config.section("input")["skip_hidden"])
    timings["discover"] = time.perf_counter() - clock

    clock = time.perf_counter()
    rows = problem_rows(problems)
    done = 0

    def advance(batch: list) -> None:
        nonlocal done
        done += len(batch)
        if on_progress:
            on_progress("clean", done, len(files))

    if on_progress:
        on_progress("clean", 0, len(files))
    for batch_rows in map_files(files, config.to_json(), workers, advance):
        rows.extend(batch_rows)
    tables = phase_a_tables(rows)
    timings["clean"] = time.perf_counter() - clock

    clock = time.perf_counter()
    if on_progress:
        on_progress("dedup", 0, 1)
    tables["paragraphs"], tables["links"] = phase_b(tables["paragraphs"], config)
    if on_progress:
        on_progress("dedup", 1, 1)
    timings["dedup"] = time.perf_counter() - clock

    _check_accounting(files, problems, tables)
    clock = time.perf_counter()
    for name in TABLES:
        write_table(tables[name], output / f"{name}.parquet")
    timings["write"] = time.perf_counter() - clock
    timings["total"] = time.perf_counter() - started

    counts = _counts(files, problems, tables)
    manifest = {
        "tool": "corpusclean",
        "version": __version__,
        "inputs": [str(path) for path in inputs],
        "config_source": config.source,
        "config_hash": context.config_hash,
        "config": config.values,
        "workers": workers,
        "counts": counts,
        "accounting": {"inputs": counts["inputs"], "documents_plus_errors": counts["documents"] + counts["errors"],
                       "balanced": True},
        "removed_by_reason": dict(sorted(Counter(tables["removed"]["reason"].to_list()).items())),
        "errors_by_type": dict(sorted(Counter(tables["errors"]["error_type"].to_list()).items())),
        "timings_seconds": {name: round(seconds, 4) for name, seconds in timings.items()},
    }
    write_json(manifest, output / "manifest.json")
    return RunResult(output, tables, counts, timings, manifest)


def _counts(files: list, problems: list, tables: dict[str, pl.DataFrame]) -> dict[str, int]:
    paragraphs = tables["paragraphs"]
    documents, errors = tables["documents"].height, tables["errors"].height
    return {
        "files": len(files),
        "discovery_problems": len(problems),
        "inputs": documents + errors,
        "documents": documents,
        "errors": errors,
        "paragraphs": paragraphs.height,
        "removed": tables["removed"].height,
        "links": tables["links"].height,
        "clusters": paragraphs["cluster_id"].drop_nulls().n_unique(),
        "duplicate_paragraphs": paragraphs.filter(pl.col("cluster_id").is_not_null() & ~pl.col("is_canonical")).height,
    }


def _check_accounting(files: list, problems: list, tables: dict[str, pl.DataFrame]) -> None:
    """Every discovered file and problem path must appear in documents or errors: nothing vanishes."""
    seen = set(tables["documents"]["source_path"].to_list()) | set(tables["errors"]["source_path"].to_list())
    expected = {file.source_path for file in files} | {problem.source_path for problem in problems}
    missing = sorted(expected - seen)
    if missing:
        raise RuntimeError(f"accounting failed: {len(missing)} input(s) are in neither documents nor errors, "
                           f"e.g. {missing[:3]}")
    ids = pl.concat([tables["documents"]["doc_id"], tables["errors"]["doc_id"]])
    if ids.n_unique() != ids.len():
        raise RuntimeError("accounting failed: a record is in documents and errors at once, or twice")
