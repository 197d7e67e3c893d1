"""A whole run: phase A (per document, sharded, resumable) then phase B (across the corpus).

``OUT/`` after a run::

    documents.parquet  paragraphs.parquet  removed.parquet  links.parquet  errors.parquet  manifest.json
    _work/phase_a.json           what phase A was run on (inputs, config, shards, timings)
    _work/discovered.parquet     every path discovery found, for the accounting check
    _work/shards/shard-*/        phase-A tables per shard (see :mod:`corpusclean.shards`)

Example:
    >>> from corpusclean import run
    >>> result = run(["raw"], "out")                           # doctest: +SKIP
    >>> result.counts["documents"], result.counts["errors"]    # doctest: +SKIP
    (10, 1)
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import polars as pl

from . import __version__
from .clean import Context, problem_rows
from .config import Config, load_config
from .dedup.phase_b import run_phase_b
from .errors import UsageError
from .executors.local import default_workers, run_shards
from .readers.discover import discover
from .schema import ERRORS, frame
from .shards import finished, plan_shards, read_shards
from .writers.parquet import write_json, write_table

TABLES = ("documents", "paragraphs", "removed", "links", "errors")
ProgressCallback = Callable[[str, int, int], None]


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


def run_extract(inputs: Sequence[str | Path], output: str | Path, config: Config | str | Path | None = None,
                workers: int | None = None, fresh: bool = False,
                on_progress: ProgressCallback | None = None, engine: str = "local",
                address: str | None = None) -> dict[str, Any]:
    """Phase A: discover ``inputs`` and clean every page into shard tables under ``output/_work``.

    Finished shards of an earlier run with the same inputs and config are kept (``fresh=True``
    discards them). ``engine`` is ``local`` (a process pool of ``workers``) or ``ray`` (Ray Data on a
    local Ray of ``workers`` CPUs, or the cluster at ``address``). Returns the phase-A record also
    written to ``_work/phase_a.json``.

    Raises:
        UsageError: a missing input, a bad config, an unwritable output folder.
    """
    started = time.perf_counter()
    config = _resolve_config(config)
    context = Context.from_config(config)
    output = Path(output)
    _prepare_output(output)
    work = output / "_work"
    shards_dir = work / "shards"
    if fresh:
        shutil.rmtree(work, ignore_errors=True)
    shards_dir.mkdir(parents=True, exist_ok=True)
    workers = workers or default_workers()

    clock = time.perf_counter()
    files, problems = discover(inputs, skip_hidden=config.section("input")["skip_hidden"])
    discovered = sorted({f.source_path for f in files} | {p.source_path for p in problems})
    write_table(pl.DataFrame({"source_path": discovered}, schema={"source_path": pl.String}),
                work / "discovered.parquet")
    write_table(frame(problem_rows(problems).errors, ERRORS), work / "discovery_errors.parquet")
    discover_seconds = time.perf_counter() - clock

    clock = time.perf_counter()
    shards = plan_shards(files, config.section("run")["shard_files"], context.config_hash)
    done_before = finished(shards_dir)
    todo = [shard for shard in shards if shard.name not in done_before]
    files_done = sum(len(shard.files) for shard in shards if shard.name in done_before)
    if on_progress:
        on_progress("clean", files_done, len(files))

    def advance(shard) -> None:
        nonlocal files_done
        files_done += len(shard.files)
        if on_progress:
            on_progress("clean", files_done, len(files))

    if engine == "local":
        run_shards(todo, config.to_json(), shards_dir, workers, advance)
    elif engine == "ray":
        from .executors.ray_engine import run_shards_ray
        run_shards_ray(todo, config.to_json(), shards_dir, address=address, num_cpus=workers, on_done=advance)
    else:
        raise UsageError(f"unknown engine {engine!r}: use local or ray")
    record = {
        "version": __version__,
        "inputs": [str(path) for path in inputs],
        "config_source": config.source,
        "config_hash": context.config_hash,
        "config": config.values,
        "workers": workers,
        "engine": engine,
        "files": len(files),
        "discovery_problems": len(problems),
        "shards": [shard.name for shard in shards],
        "shards_resumed": len(shards) - len(todo),
        "timings_seconds": {"discover": round(discover_seconds, 4),
                            "clean": round(time.perf_counter() - clock, 4),
                            "phase_a_total": round(time.perf_counter() - started, 4)},
    }
    write_json(record, work / "phase_a.json")
    return record


def run_dedup(output: str | Path, config: Config | str | Path | None = None,
              on_progress: ProgressCallback | None = None) -> RunResult:
    """Phase B on the phase-A output in ``output``: link, de-template, cluster, write the final tables.

    ``config`` defaults to the one phase A ran with (its ``[dedup]`` section is what matters here).

    Raises:
        UsageError: ``output`` holds no phase-A output.
    """
    started = time.perf_counter()
    output = Path(output)
    work = output / "_work"
    try:
        record = json.loads((work / "phase_a.json").read_text("utf-8"))
    except FileNotFoundError:
        raise UsageError(f"no phase-A output in {output}: run `corpusclean extract INPUT... -o {output}` "
                         "or `corpusclean run` first") from None
    config = Config(values=record["config"], source=record["config_source"]) if config is None else _resolve_config(config)
    if on_progress:
        on_progress("dedup", 0, 1)
    clock = time.perf_counter()
    tables = read_shards(work / "shards", record["shards"])
    tables["errors"] = pl.concat([pl.read_parquet(work / "discovery_errors.parquet"), tables["errors"]]).sort(
        "source_path", "record_offset")
    read_seconds = time.perf_counter() - clock

    clock = time.perf_counter()
    result = run_phase_b(tables["documents"], tables["paragraphs"], tables["removed"], config.section("dedup"))
    tables.update(documents=result.documents, paragraphs=result.paragraphs, removed=result.removed,
                  links=result.links)
    dedup_seconds = time.perf_counter() - clock
    if on_progress:
        on_progress("dedup", 1, 1)

    _check_accounting(pl.read_parquet(work / "discovered.parquet")["source_path"], tables)
    clock = time.perf_counter()
    for name in TABLES:
        write_table(tables[name], output / f"{name}.parquet")
    timings = {**record["timings_seconds"], "read_shards": read_seconds, "dedup": dedup_seconds,
               "write": time.perf_counter() - clock}
    timings["total"] = timings["phase_a_total"] + time.perf_counter() - started
    counts = _counts(record, tables)
    manifest = {
        "tool": "corpusclean",
        **{key: record[key] for key in ("version", "inputs", "config_source", "config_hash", "config",
                                        "workers", "engine", "shards_resumed")},
        "shards": len(record["shards"]),
        "counts": counts,
        "accounting": {"discovered_inputs": counts["inputs"], "documents": counts["documents"],
                       "errors": counts["errors"], "balanced": True},
        "removed_by_reason": dict(sorted(Counter(tables["removed"]["reason"].to_list()).items())),
        "errors_by_type": dict(sorted(Counter(tables["errors"]["error_type"].to_list()).items())),
        "timings_seconds": {name: round(seconds, 4) for name, seconds in timings.items()},
    }
    write_json(manifest, output / "manifest.json")
    return RunResult(output, tables, counts, timings, manifest)


def run(inputs: Sequence[str | Path], output: str | Path, config: Config | str | Path | None = None,
        workers: int | None = None, fresh: bool = False, on_progress: ProgressCallback | None = None,
        engine: str = "local", address: str | None = None) -> RunResult:
    """Clean ``inputs`` (files or folders) into the tables of ``output``: phase A, then phase B.

    Args:
        inputs: files and folders to read (folders recursively).
        output: folder for ``documents``/``paragraphs``/``removed``/``links``/``errors`` Parquet and
            ``manifest.json``; created if missing.
        config: a :class:`Config`, a TOML path, or ``None`` for the defaults.
        workers: processes for phase A (default: all cores).
        fresh: discard finished shards of an earlier run instead of resuming from them.
        on_progress: called as ``(stage, done, total)`` while work advances.
        engine: ``local`` or ``ray`` for phase A; ``address`` joins an existing Ray cluster.

    Raises:
        UsageError: a missing input, a bad config, an unwritable output folder.
    """
    config = _resolve_config(config)
    run_extract(inputs, output, config, workers, fresh, on_progress, engine, address)
    return run_dedup(output, config, on_progress)


def _counts(record: dict[str, Any], tables: dict[str, pl.DataFrame]) -> dict[str, int]:
    paragraphs, links = tables["paragraphs"], tables["links"]
    documents, errors = tables["documents"].height, tables["errors"].height
    return {
        "files": record["files"],
        "discovery_problems": record["discovery_problems"],
        "inputs": documents + errors,
        "documents": documents,
        "errors": errors,
        "paragraphs": paragraphs.height,
        "removed": tables["removed"].height,
        "links": links.height,
        **{f"links_{kind}": links.filter(pl.col("kind") == kind).height for kind in ("exact", "near", "contained")},
        "templates_removed": tables["removed"].filter(pl.col("reason") == "template").height,
        "clusters": paragraphs["cluster_id"].drop_nulls().n_unique(),
        "duplicate_paragraphs": paragraphs.filter(pl.col("cluster_id").is_not_null() & ~pl.col("is_canonical")).height,
    }


def _check_accounting(discovered: pl.Series, tables: dict[str, pl.DataFrame]) -> None:
    """Every discovered path must appear in documents or errors, and no record twice: nothing vanishes."""
    seen = set(tables["documents"]["source_path"].to_list()) | set(tables["errors"]["source_path"].to_list())
    missing = sorted(set(discovered.to_list()) - seen)
    if missing:
        raise RuntimeError(f"accounting failed: {len(missing)} input(s) are in neither documents nor errors, "
                           f"e.g. {missing[:3]}")
    ids = pl.concat([tables["documents"]["doc_id"], tables["errors"]["doc_id"]])
    if ids.n_unique() != ids.len():
        raise RuntimeError("accounting failed: a record is in documents and errors at once, or twice")
