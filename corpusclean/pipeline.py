"""A whole run: phase A (per document, sharded, resumable) then phase B (across the corpus).

``OUT/`` after a run::

    documents.parquet  paragraphs.parquet  removed.parquet  links.parquet  errors.parquet  manifest.json
    fingerprints.parquet         shingles and LSH band hashes, for ``--against`` in later runs
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
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import polars as pl

from . import __version__
from .clean import Context, problem_rows
from .config import Config, load_config
from .dedup.fingerprints import band_columns
from .dedup.phase_b import META_COLUMNS, Linked, Part, finalize_shard, link_corpus
from .dedup.spans import with_spans
from .errors import UsageError
from .executors.local import default_workers, run_shards
from .readers.discover import discover
from .schema import DOCUMENTS, ERRORS, FINAL_PARAGRAPHS, FINAL_REMOVED, frame
from .shards import drop_pieces, finished, merge_pieces, plan_shards, read_shard
from .writers.parquet import TableWriter, write_json, write_table

#: ``[dedup]`` keys that decide what a fingerprint is; an earlier output must share them.
FINGERPRINT_KEYS = ("shingle_size", "num_perm", "minhash_seed", "near_threshold")

TABLES = ("documents", "paragraphs", "removed", "links", "errors", "fingerprints")
#: ``(stage, done, total, bytes_done)``: files (or steps) done of total, and input bytes processed.
ProgressCallback = Callable[[str, int, int, int], None]


@dataclass
class RunResult:
    """What a run produced: the output folder, the tables, counts and per-stage timings."""

    output: Path
    counts: dict[str, int]
    timings: dict[str, float]
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def removed_by_reason(self) -> dict[str, int]:
        return dict(self.manifest["removed_by_reason"])

    @property
    def errors_by_type(self) -> dict[str, int]:
        return dict(self.manifest["errors_by_type"])

    def read(self, table: str) -> pl.DataFrame:
        """One output table, read back from its Parquet file."""
        return pl.read_parquet(self.output / f"{table}.parquet")


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
    for stale in shards_dir.glob(".shard-*.tmp"):  # half-written by a run that was killed
        shutil.rmtree(stale, ignore_errors=True)
    workers = workers or default_workers()

    clock = time.perf_counter()
    files, problems = discover(inputs, skip_hidden=config.section("input")["skip_hidden"])
    discovered = sorted({f.source_path for f in files} | {p.source_path for p in problems})
    write_table(pl.DataFrame({"source_path": discovered}, schema={"source_path": pl.String}),
                work / "discovered.parquet")
    write_table(frame(problem_rows(problems).errors, ERRORS), work / "discovery_errors.parquet")
    discover_seconds = time.perf_counter() - clock

    clock = time.perf_counter()
    run_config = config.section("run")
    shards = plan_shards(files, run_config["shard_files"], context.config_hash,
                         shard_bytes=int(run_config["shard_mb"] * 1_000_000), input_config=config.section("input"))
    done_before = finished(shards_dir)
    # the units of work: shards, and the pieces of the shards of large JSONL files (merged at the end)
    todo = [unit for shard in shards if shard.name not in done_before
            for unit in (shard.pieces or (shard,)) if unit.name not in done_before]
    # a file cut into pieces is done when the last of its pieces is
    pieces_left = Counter({shard.files[0].source_path: len(shard.pieces) for shard in shards
                           if shard.pieces and shard.name not in done_before})
    files_done = 0
    bytes_done = 0  # of this run's work, for the MB/s of the progress display

    def count_done(unit) -> None:
        nonlocal files_done
        if unit.files[0].piece is None:
            files_done += len(unit.files)
        else:
            pieces_left[unit.files[0].source_path] -= 1
            files_done += not pieces_left[unit.files[0].source_path]

    for shard in shards:
        for unit in (shard,) if shard.name in done_before else shard.pieces:
            if unit.name in done_before:
                count_done(unit)
    if on_progress:
        on_progress("clean", files_done, len(files), bytes_done)

    def advance(unit) -> None:
        nonlocal bytes_done
        count_done(unit)
        bytes_done += unit.bytes
        if on_progress:
            on_progress("clean", files_done, len(files), bytes_done)

    if engine == "local":
        run_shards(todo, context.to_json(), shards_dir, workers, advance)
    elif engine == "ray":
        from .executors.ray_engine import run_shards_ray
        run_shards_ray(todo, context.to_json(), shards_dir, address=address, num_cpus=workers, on_done=advance)
    else:
        raise UsageError(f"unknown engine {engine!r}: use local or ray")
    for shard in shards:
        if shard.pieces:
            if shard.name in done_before:
                drop_pieces(shard, shards_dir)  # left by a run killed right after merging them
            else:
                merge_pieces(shard, shards_dir)
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
        "shards_resumed": sum(shard.name in done_before for shard in shards),
        "pieces": sum(len(shard.pieces) for shard in shards),
        "pieces_resumed": sum(piece.name in done_before or shard.name in done_before
                              for shard in shards for piece in shard.pieces),
        "timings_seconds": {"discover": round(discover_seconds, 4),
                            "clean": round(time.perf_counter() - clock, 4),
                            "phase_a_total": round(time.perf_counter() - started, 4)},
    }
    write_json(record, work / "phase_a.json")
    return record


def _earlier_part(earlier: str | Path, dedup: dict[str, Any]) -> Part:
    """An earlier output to link against; its fingerprints must have been made the same way."""
    folder = Path(earlier)
    fingerprints = folder / "fingerprints.parquet"
    try:
        manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--against {folder}: no manifest.json there; give the output folder of an earlier run") from None
    if not fingerprints.is_file():
        raise UsageError(f"--against {folder}: no fingerprints.parquet there (written by corpusclean 0.1+ runs)")
    theirs = manifest["config"]["dedup"]
    for key in FINGERPRINT_KEYS:
        if theirs.get(key) != dedup[key]:
            raise UsageError(f"--against {folder}: it was made with dedup.{key} = {theirs.get(key)!r}, this run "
                             f"uses {dedup[key]!r}; fingerprints are only comparable with equal values")
    return Part(fingerprints, fingerprints, new=False)


def run_dedup(output: str | Path, config: Config | str | Path | None = None,
              on_progress: ProgressCallback | None = None, against: Sequence[str | Path] = ()) -> RunResult:
    """Phase B on the phase-A output in ``output``: link, de-template, cluster, write the final tables.

    ``config`` defaults to the one phase A ran with (its ``[dedup]`` section is what matters here).
    ``against`` names earlier output folders: new paragraphs are linked and clustered with theirs
    (from their stored fingerprints, without reprocessing them) and say which earlier paragraphs they
    repeat in ``earlier_ids``.

    Raises:
        UsageError: ``output`` holds no phase-A output, or an ``against`` folder is unusable.
    """
    started = time.perf_counter()
    output = Path(output)
    work = output / "_work"
    shards_dir = work / "shards"
    try:
        record = json.loads((work / "phase_a.json").read_text("utf-8"))
    except FileNotFoundError:
        raise UsageError(f"no phase-A output in {output}: run `corpusclean extract INPUT... -o {output}` "
                         "or `corpusclean run` first") from None
    config = Config(values=record["config"], source=record["config_source"]) if config is None else _resolve_config(config)
    dedup = config.section("dedup")
    parts = [Part(shards_dir / name / "paragraphs.parquet", shards_dir / name / "fingerprints.parquet")
             for name in record["shards"]]
    parts += [_earlier_part(earlier, dedup) for earlier in against]
    steps = ["exact", "near", "templates", "contained", "clusters", "write"]
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def on_step(name: str) -> None:
        nonlocal clock
        if timings or name != steps[0]:
            previous = steps[steps.index(name) - 1]
            timings[f"dedup_{previous}"] = time.perf_counter() - clock
        clock = time.perf_counter()
        if on_progress:
            on_progress("dedup", steps.index(name), len(steps), 0)

    linked = link_corpus(parts, dedup, on_step)
    on_step("write")
    counts = _write_final(output, record, linked, dedup, parts)
    timings["write"] = time.perf_counter() - clock
    if on_progress:
        on_progress("dedup", len(steps), len(steps), 0)
    timings = {**record["timings_seconds"], **timings}
    timings["total"] = timings["phase_a_total"] + time.perf_counter() - started
    manifest = {
        "tool": "corpusclean",
        **{key: record[key] for key in ("version", "inputs", "config_source", "config_hash", "config",
                                        "workers", "engine", "shards_resumed")},
        "against": [str(path) for path in against],
        "shards": len(record["shards"]),
        "counts": {key: value for key, value in counts.items() if not isinstance(value, dict)},
        "accounting": {"discovered_inputs": counts["discovered"], "documents": counts["documents"],
                       "errors": counts["errors"], "balanced": True},
        "removed_by_reason": counts["removed_by_reason"],
        "errors_by_type": counts["errors_by_type"],
        "timings_seconds": {name: round(seconds, 4) for name, seconds in timings.items()},
    }
    write_json(manifest, output / "manifest.json")
    return RunResult(output, manifest["counts"], timings, manifest)


def _write_final(output: Path, record: dict[str, Any], linked: Linked, dedup: dict[str, Any],
                 parts: Sequence[Part] = ()) -> dict[str, Any]:
    """Write the final tables shard by shard (bounded memory) and check the accounting on the way.

    On the way, the texts of the paragraphs at either end of a ``contained`` link are kept (those
    alone), from the shards and from the earlier outputs among ``parts``, to locate each link's
    shared passage before ``links.parquet`` is written (:func:`.dedup.spans.with_spans`).
    """
    work = output / "_work"
    shards_dir = work / "shards"
    writers = {
        "documents": TableWriter(output / "documents.parquet", DOCUMENTS),
        "paragraphs": TableWriter(output / "paragraphs.parquet", FINAL_PARAGRAPHS),
        "removed": TableWriter(output / "removed.parquet", FINAL_REMOVED),
    }
    fingerprint_columns = ["shingles", *band_columns(dedup)]
    fingerprints = None
    errors = [pl.read_parquet(work / "discovery_errors.parquet")]
    seen_paths: set[str] = set()
    unique_ids: set[str] = set()
    removed_by_reason: Counter[str] = Counter()
    contained = linked.links.filter(pl.col("kind") == "contained").select("left_id", "right_id")
    ends = pl.concat([contained["left_id"], contained["right_id"]]).unique().implode()
    end_texts = _earlier_texts(parts, ends) if not contained.is_empty() else []
    # Parquet encoding and compression release the GIL: the four tables of a shard are written in
    # threads, while the next shard is read and finalized (1.2 -> 0.8 s for 50 MB of text on 2 cores).
    # A writer gets its next shard only after its previous write ended, so row order is kept.
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="corpusclean-write") as threads:
        pending: list[Future] = []
        for part, name in enumerate(record["shards"]):
            # rebuild_documents makes each document's text anew from its kept paragraphs
            tables = read_shard(shards_dir, name, skip={"documents": ("text",)})
            if not contained.is_empty():
                end_texts.append(tables["paragraphs"].filter(pl.col("paragraph_id").is_in(ends))
                                 .select("paragraph_id", "text"))
            final = finalize_shard(tables, linked, part)
            for future in pending:
                future.result()
            pending = [threads.submit(writers[table].write, final[table])
                       for table in ("documents", "paragraphs", "removed")]
            removed_by_reason.update(final["removed"]["reason"].to_list())
            errors.append(tables["errors"])
            seen_paths.update(final["documents"]["source_path"].to_list())
            unique_ids.update(final["documents"]["doc_id"].to_list())
            shard_fingerprints = pl.concat([
                tables["paragraphs"].select(META_COLUMNS),
                pl.read_parquet(shards_dir / name / "fingerprints.parquet").select(fingerprint_columns),
            ], how="horizontal").with_columns(linked.is_template(tables["paragraphs"]["paragraph_id"], part))
            if fingerprints is None:
                fingerprints = TableWriter(output / "fingerprints.parquet", dict(shard_fingerprints.schema))
            pending.append(threads.submit(fingerprints.write, shard_fingerprints))
        for future in pending:
            future.result()
    error_table = pl.concat(errors).sort("source_path", "record_offset")
    seen_paths.update(error_table["source_path"].to_list())
    unique_ids.update(error_table["doc_id"].to_list())
    records = writers["documents"].rows + error_table.height
    discovered = pl.read_parquet(work / "discovered.parquet")["source_path"].to_list()
    missing = sorted(set(discovered) - seen_paths)
    if missing:
        raise RuntimeError(f"accounting failed: {len(missing)} input(s) are in neither documents nor errors, "
                           f"e.g. {missing[:3]}")
    if len(unique_ids) != records:
        raise RuntimeError("accounting failed: a record is in documents and errors at once, or twice")
    for writer in writers.values():
        writer.close()
    if fingerprints is None:
        fingerprints = TableWriter(output / "fingerprints.parquet", {c: pl.String for c in META_COLUMNS})
    fingerprints.close()
    write_table(error_table, output / "errors.parquet")
    links = with_spans(linked.links, contained, end_texts, dedup["shingle_size"])
    del end_texts
    write_table(links, output / "links.parquet")

    new = linked.meta.filter(pl.col("is_new")) if not linked.meta.is_empty() else linked.meta
    clustered = new.filter(pl.col("cluster_id").is_not_null()) if not new.is_empty() else new
    return {
        "files": record["files"],
        "discovery_problems": record["discovery_problems"],
        "discovered": len(discovered),
        "inputs": writers["documents"].rows + error_table.height,
        "documents": writers["documents"].rows,
        "errors": error_table.height,
        "paragraphs": writers["paragraphs"].rows,
        "removed": writers["removed"].rows,
        "links": links.height,
        **{f"links_{kind}": links.filter(pl.col("kind") == kind).height for kind in ("exact", "near", "contained")},
        "links_with_span": links.height - links["left_start"].null_count(),
        "templates_removed": removed_by_reason.get("template", 0),
        "clusters": clustered["cluster_id"].n_unique() if not clustered.is_empty() else 0,
        "duplicate_paragraphs": clustered.filter(~pl.col("is_canonical")).height if not clustered.is_empty() else 0,
        "repeating_earlier": (new.filter(pl.col("earlier_ids").list.len() > 0).height
                              if not new.is_empty() and "earlier_ids" in new.columns else 0),
        "removed_by_reason": dict(sorted(removed_by_reason.items())),
        "errors_by_type": dict(sorted(Counter(error_table["error_type"].to_list()).items())),
    }


def _earlier_texts(parts: Sequence[Part], ids: pl.Series) -> list[pl.DataFrame]:
    """``paragraph_id`` and ``text`` of the paragraphs ``ids`` (an imploded Series) in the earlier
    outputs among ``parts`` (``--against``): their folder holds ``paragraphs.parquet`` beside the
    fingerprints. An earlier output without it contributes nothing; its links get no span."""
    found = []
    for part in parts:
        path = part.fingerprints.parent / "paragraphs.parquet"
        if not part.new and path.is_file():
            found.append(pl.scan_parquet(path).filter(pl.col("paragraph_id").is_in(ids))
                         .select("paragraph_id", "text").collect())
    return found


def run(inputs: Sequence[str | Path], output: str | Path, config: Config | str | Path | None = None,
        workers: int | None = None, fresh: bool = False, on_progress: ProgressCallback | None = None,
        engine: str = "local", address: str | None = None, against: Sequence[str | Path] = ()) -> RunResult:
    """Clean ``inputs`` (files or folders) into the tables of ``output``: phase A, then phase B.

    Args:
        inputs: files and folders to read (folders recursively).
        output: folder for ``documents``/``paragraphs``/``removed``/``links``/``errors`` Parquet and
            ``manifest.json``; created if missing.
        config: a :class:`Config`, a TOML path, or ``None`` for the defaults.
        workers: processes for phase A (default: all cores).
        fresh: discard finished shards of an earlier run instead of resuming from them.
        on_progress: called as ``(stage, done, total, bytes_done)`` while work advances.
        engine: ``local`` or ``ray`` for phase A; ``address`` joins an existing Ray cluster.
        against: earlier output folders to link the new paragraphs to (incremental dedup).

    Raises:
        UsageError: a missing input, a bad config, an unwritable output folder.
    """
    config = _resolve_config(config)
    run_extract(inputs, output, config, workers, fresh, on_progress, engine, address)
    return run_dedup(output, config, on_progress, against)
