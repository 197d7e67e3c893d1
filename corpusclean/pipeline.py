"""A whole run: phase A (per document, sharded, resumable) then phase B (across the corpus).

``OUT/`` after a run::

    documents.parquet  paragraphs.parquet  removed.parquet  links.parquet  errors.parquet  manifest.json
    fingerprints.parquet         shingles and LSH band hashes, for ``--against`` in later runs
    .corpusclean.lock            held by the run writing the folder (:mod:`corpusclean.writers.output`)
    _work/phase_a.json           what phase A was run on (inputs, config, shards, timings)
    _work/discovered.parquet     every path discovery found, for the accounting check
    _work/shards/shard-*/        phase-A tables per shard (see :mod:`corpusclean.shards`)

``_work`` is resume data: it stays while phase A is unfinished or failed, and after a successful run
only with ``keep_work`` (``--keep-work``), which ``corpusclean dedup OUT`` needs. Phase B writes the
final tables and the manifest into a staging folder that is switched in for ``OUT`` in one step, so
``OUT`` always holds one run's complete tables.

Example:
    >>> from corpusclean import run
    >>> result = run(["raw"], "out")                           # doctest: +SKIP
    >>> result.counts["documents"], result.counts["errors"]    # doctest: +SKIP
    (10, 1)
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import polars as pl
import xxhash

from . import __version__, storage
from .clean import Context, problem_rows
from .config import Config, load_config
from .dedup.phase_b import Part, link_corpus, part_lengths
from .errors import UsageError
from .executors.local import default_workers, run_shards
from .executors.tasks import TaskStore, engine_session, task_runner
from .failpoints import failpoint
from .readers.discover import discover
from .readers.records import ID_SCHEME, OLD_ID_SCHEME
from .schema import ERRORS, frame
from .shards import drop_pieces, finished, merge_pieces, plan_shards
from .writers.final import write_final, write_reprints
from .writers.output import OutputFolder, folder_bytes, space_checked
from .writers.parquet import write_json, write_table
from .writers.remote import output_folder

#: ``[dedup]`` keys that decide what a fingerprint is; an earlier output must share them.
FINGERPRINT_KEYS = ("shingle_size", "num_perm", "minhash_seed", "near_threshold")

#: phase-A tables per byte of uncompressed input, before a shard has shown the real figure: 78 KB for
#: the 42 KB of raw/ (1.9), 516 MB for 216 MB of real text (2.4; 6x the gzipped file's size).
WORK_PER_INPUT_BYTE = 2.5

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
    #: the object-store URI the corpus was published to (``output`` is then its local copy)
    uri: str | None = None

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


def run_extract(inputs: Sequence[str | Path], output: str | Path, config: Config | str | Path | None = None,
                workers: int | None = None, fresh: bool = False,
                on_progress: ProgressCallback | None = None, engine: str = "local",
                address: str | None = None, follow_links: bool = False,
                exclude: Sequence[str | Path] = ()) -> dict[str, Any]:
    """Phase A: discover ``inputs`` and clean every page into shard tables under ``output/_work``.

    Finished shards of an earlier run with the same inputs and config are kept (``fresh=True``
    discards them). ``engine`` is ``local`` (a process pool of ``workers``) or ``ray`` (Ray Data on a
    local Ray of ``workers`` CPUs, or the cluster at ``address``). ``output`` and the ``exclude``
    folders are never read as input; symbolic links leading out of the inputs are followed only with
    ``follow_links``. Returns the phase-A record also written to ``_work/phase_a.json``.

    Raises:
        UsageError: a missing input, a bad config, an unwritable output folder or one in use.
        OutOfSpace: the output's file system filled up (finished shards are kept for a resume).
    """
    config = _resolve_config(config)
    target, output = output, storage.output_path(output)  # an object-store output works in a local folder
    planned = {"input_bytes": 0, "done_bytes": 0}
    with (output_folder(target, "extract") as folder,
          space_checked(output, lambda: _space_needed(output, planned["input_bytes"], planned["done_bytes"]), folder.clean_leftovers)):
        return _extract(inputs, output, config, workers, fresh, on_progress, engine, address, planned,
                        follow_links, [output, *([str(target)] if storage.is_remote(target) else []), *exclude],
                        _work_uri(target))


def _work_uri(target: str | Path) -> str | None:
    """``OUT/_work`` in the object store for an ``s3://`` output (where a Ray run's nodes exchange
    shards and phase-B task files), else None."""
    return storage.join(str(target), "_work") if storage.is_remote(target) else None


def _space_needed(output: Path, input_bytes: int, done_bytes: int = 0) -> int:
    """Rough bytes a run still needs in ``output``: phase-A tables take what the finished shards took
    per input byte (``done_bytes`` of input made the shards there now), or ``WORK_PER_INPUT_BYTE``
    before any is finished, and the final tables about as much as the phase-A tables."""
    work = output / "_work" / "shards"
    written = folder_bytes(work)
    per_byte = written / done_bytes if done_bytes and written else WORK_PER_INPUT_BYTE
    expected_work = max(written, int(input_bytes * per_byte))
    return max(0, 2 * expected_work - written)


def _extract(inputs: Sequence[str | Path], output: Path, config: Config, workers: int | None, fresh: bool,
             on_progress: ProgressCallback | None, engine: str, address: str | None,
             planned: dict[str, int], follow_links: bool, exclude: list[Path],
             work_uri: str | None = None) -> dict[str, Any]:
    started = time.perf_counter()
    context = Context.from_config(config)
    work = output / "_work"
    shards_dir = work / "shards"
    if fresh:
        shutil.rmtree(work, ignore_errors=True)
        if work_uri:
            storage.delete_prefix(work_uri)  # a Ray run's shards there would be taken again
    shards_dir.mkdir(parents=True, exist_ok=True)
    workers = workers or default_workers()

    clock = time.perf_counter()
    files, problems = discover(inputs, skip_hidden=config.section("input")["skip_hidden"], exclude=exclude,
                               follow_links=follow_links)
    discovered = sorted({f.source_path for f in files} | {p.source_path for p in problems})
    write_table(pl.DataFrame({"source_path": discovered}, schema={"source_path": pl.String}),
                work / "discovered.parquet")
    write_table(frame(problem_rows(problems).errors, ERRORS), work / "discovery_errors.parquet")
    discover_seconds = time.perf_counter() - clock
    failpoint("extract.discovered")

    clock = time.perf_counter()
    run_config = config.section("run")
    shards = plan_shards(files, run_config["shard_files"], context.config_hash,
                         shard_bytes=int(run_config["shard_mb"] * 1_000_000), input_config=config.section("input"))
    planned["input_bytes"] = sum(shard.bytes for shard in shards)
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
                planned["done_bytes"] += unit.bytes
    if on_progress:
        on_progress("clean", files_done, len(files), bytes_done)

    def advance(unit) -> None:
        nonlocal bytes_done
        count_done(unit)
        bytes_done += unit.bytes
        planned["done_bytes"] += unit.bytes
        if on_progress:
            on_progress("clean", files_done, len(files), bytes_done)

    if engine == "local":
        units = sum(len(shard.pieces) or 1 for shard in shards)
        run_shards(todo, context.to_json(), shards_dir, workers, advance, finished_before=units - len(todo))
    elif engine == "ray":
        from .executors.ray_engine import run_shards_ray
        # with an object-store output the nodes share no folder: the shards go through OUT/_work/shards
        run_shards_ray(todo, context.to_json(), shards_dir, address=address, num_cpus=workers, on_done=advance,
                       store=storage.join(work_uri, "shards") if work_uri else None)
    else:
        raise UsageError(f"unknown engine {engine!r}: use local or ray")
    failpoint("extract.shards_done")
    for shard in shards:
        if shard.pieces:
            if shard.name in done_before:
                drop_pieces(shard, shards_dir)  # left by a run killed right after merging them
            else:
                merge_pieces(shard, shards_dir)
    record = {
        "version": __version__,
        "inputs": [str(path) for path in inputs],
        "follow_links": follow_links,
        "config_source": config.source,
        "config_hash": context.config_hash,
        "config": config.values,
        "id_scheme": ID_SCHEME,
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


def _earlier_part(earlier: str | Path, dedup: dict[str, Any], output: Path) -> Part:
    """An earlier output to link against; its fingerprints must have been made the same way."""
    if storage.is_remote(earlier) or storage.is_remote(output):
        if storage.is_remote(earlier) and storage.is_remote(output) and \
                storage.normalize(str(earlier)) == storage.normalize(str(output)):
            raise UsageError(f"--against {earlier} is the output itself: the run would replace the corpus it "
                             "links to; write the new run to another output (-o)")
    folder = storage.fetch_against(str(earlier)) if storage.is_remote(earlier) else storage.local_path(earlier)
    if os.path.realpath(folder) == os.path.realpath(storage.output_path(output)):
        raise UsageError(f"--against {folder} is the output folder itself: the run would replace the corpus it "
                         "links to; write the new run to another folder (-o)")
    fingerprints = folder / "fingerprints.parquet"
    try:
        manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--against {folder}: no manifest.json there; give the output folder of an earlier run") from None
    if not fingerprints.is_file():
        raise UsageError(f"--against {folder}: no fingerprints.parquet there (written by corpusclean 0.1+ runs)")
    if manifest.get("id_scheme", OLD_ID_SCHEME) != ID_SCHEME:
        raise UsageError(f"--against {folder}: its ids were made as {manifest.get('id_scheme', OLD_ID_SCHEME)}, "
                         f"which can give two crawls' different pages one id; rerun it with this version "
                         f"(ids: {ID_SCHEME})")
    theirs = manifest["config"]["dedup"]
    for key in FINGERPRINT_KEYS:
        if theirs.get(key) != dedup[key]:
            raise UsageError(f"--against {folder}: it was made with dedup.{key} = {theirs.get(key)!r}, this run "
                             f"uses {dedup[key]!r}; fingerprints are only comparable with equal values")
    source = storage.table_uri(str(earlier), "fingerprints", manifest) if storage.is_remote(earlier) else None
    return Part(fingerprints, fingerprints, new=False, source=source)


def _effective_config(record: dict[str, Any], config: Config | None) -> tuple[dict[str, Any], str]:
    """The config the final tables are made with: phase A's, with phase B's ``[dedup]`` section, and
    its hash (phase A's own when the two agree, so an ordinary run keeps one hash)."""
    values = dict(record["config"])
    if config is None or config.section("dedup") == values["dedup"]:
        return values, record["config_hash"]
    values["dedup"] = config.section("dedup")
    material = record["config_hash"] + json.dumps(values["dedup"], sort_keys=True)
    return values, xxhash.xxh64(material.encode()).hexdigest()


def run_dedup(output: str | Path, config: Config | str | Path | None = None,
              on_progress: ProgressCallback | None = None, against: Sequence[str | Path] = (),
              keep_work: bool = False, engine: str = "local", address: str | None = None,
              workers: int | None = None) -> RunResult:
    """Phase B on the phase-A output in ``output``: link, de-template, cluster, write the final tables.

    ``config`` defaults to the one phase A ran with (its ``[dedup]`` section is what matters here).
    ``against`` names earlier output folders: new paragraphs are linked and clustered with theirs
    (from their stored fingerprints, without reprocessing them) and say which earlier paragraphs they
    repeat in ``earlier_ids``. The tables and the manifest replace those of ``output`` in one step;
    ``keep_work`` keeps the phase-A data in ``output/_work`` (for another ``dedup``), else it goes.
    ``engine`` (``local``: in this process, or from ``dedup.task_pool_paragraphs`` paragraphs in a
    local process pool of ``workers``; ``pool``: in that pool whatever the size; ``serial``: in this
    process; ``ray``: on the Ray at ``address`` or a private local one) says where phase B's partition tasks run
    (:func:`corpusclean.executors.tasks.task_runner`); the tables are the same.

    Raises:
        UsageError: ``output`` holds no phase-A output or is in use, or an ``against`` folder is unusable.
        OutOfSpace: the output's file system filled up; the previous tables are left as they were.
    """
    target, output = output, storage.output_path(output)
    config = None if config is None else _resolve_config(config)
    with (output_folder(target, "dedup") as folder,
          space_checked(output, lambda: _space_needed(output, 0), folder.clean_leftovers)):
        return _dedup(folder, config, on_progress, against, keep_work, engine, address, workers)


def _dedup(folder: OutputFolder, config: Config | None, on_progress: ProgressCallback | None,
           against: Sequence[str | Path], keep_work: bool, engine: str = "local", address: str | None = None,
           workers: int | None = None) -> RunResult:
    started = time.perf_counter()
    output = folder.path
    work = output / "_work"
    shards_dir = work / "shards"
    try:
        record = json.loads((work / "phase_a.json").read_text("utf-8"))
    except FileNotFoundError:
        raise UsageError(f"no phase-A output in {output}: run `corpusclean extract INPUT... -o {output}` or "
                         "`corpusclean run` first (a finished run keeps it only with --keep-work)") from None
    config_values, config_hash = _effective_config(record, config)
    dedup = config_values["dedup"]
    parts = [Part(shards_dir / name / "paragraphs.parquet", shards_dir / name / "fingerprints.parquet")
             for name in record["shards"]]
    parts += [_earlier_part(earlier, dedup, getattr(folder, "uri", output)) for earlier in against]
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

    work_uri = _work_uri(getattr(folder, "uri", output))
    # on Ray with an object-store output, phase B's task files go through OUT/_work/phase_b there
    store = TaskStore(work_uri, work) if engine == "ray" and work_uri else None
    # (a phase A of an older version has no task_pool_paragraphs: its tasks run in this process)
    with task_runner(engine, workers, address, store=store, paragraphs=sum(part_lengths(parts)),
                     pool_paragraphs=dedup.get("task_pool_paragraphs")) as runner:
        phase_b_runner = repr(runner)
        linked = link_corpus(parts, dedup, on_step, runner=runner, work=work / "phase_b")
    on_step("write")
    failpoint("dedup.linked")
    staging = folder.staging()
    try:
        failpoint("write.staging")
        counts = write_final(output / "_work", staging, record, linked, dedup, parts)
        del linked  # reprints come from the tables just written, not from phase B's frames
        counts.update(write_reprints(staging, pl.read_parquet(staging / "links.parquet"), parts))
        timings["write"] = time.perf_counter() - clock
        timings = {**record["timings_seconds"], **timings}
        timings["total"] = timings["phase_a_total"] + time.perf_counter() - started
        manifest = {
            "tool": "corpusclean",
            **{key: record[key] for key in ("version", "inputs", "config_source", "workers", "engine",
                                            "shards_resumed")},
            # phase A made the ids: an older phase A (``corpusclean dedup`` on its _work) keeps its scheme
            "id_scheme": record.get("id_scheme", OLD_ID_SCHEME),
            "config": config_values,
            "config_hash": config_hash,
            "phase_a_config_hash": record["config_hash"],
            "dedup_config_source": record["config_source"] if config is None else config.source,
            "against": [str(path) for path in against],
            "shards": len(record["shards"]),
            "phase_b_runner": phase_b_runner,  # where its partition tasks ran (SerialRunner: in this process)
            "work_kept": keep_work,
            "counts": {key: value for key, value in counts.items() if not isinstance(value, dict)},
            "accounting": {"discovered_inputs": counts["discovered"], "documents": counts["documents"],
                           "errors": counts["errors"], "balanced": True},
            "removed_by_reason": counts["removed_by_reason"],
            "errors_by_type": counts["errors_by_type"],
            "timings_seconds": {name: round(seconds, 4) for name, seconds in timings.items()},
        }
        write_json(manifest, staging / "manifest.json")
        failpoint("write.manifest")
        folder.commit(staging, keep_work)
    except BaseException:
        folder.abandon(staging)
        raise
    if work_uri and not keep_work:  # as the local _work goes: a Ray run's shards and task files
        try:
            storage.delete_prefix(work_uri)
        except Exception:  # noqa: BLE001 - published already; the next run's end tries again
            pass
    if on_progress:
        on_progress("dedup", len(steps), len(steps), 0)
    return RunResult(output, manifest["counts"], timings, manifest, uri=getattr(folder, "uri", None))


def run(inputs: Sequence[str | Path], output: str | Path, config: Config | str | Path | None = None,
        workers: int | None = None, fresh: bool = False, on_progress: ProgressCallback | None = None,
        engine: str = "local", address: str | None = None, against: Sequence[str | Path] = (),
        keep_work: bool = False, follow_links: bool = False) -> RunResult:
    """Clean ``inputs`` (files or folders) into the tables of ``output``: phase A, then phase B.

    Args:
        inputs: files and folders to read (folders recursively).
        output: folder for ``documents``/``paragraphs``/``removed``/``links``/``errors`` Parquet and
            ``manifest.json``; created if missing. Its previous tables stay until the new ones replace
            them all at once.
        config: a :class:`Config`, a TOML path, or ``None`` for the defaults.
        workers: processes for phase A (default: all cores).
        fresh: discard finished shards of an earlier run instead of resuming from them.
        on_progress: called as ``(stage, done, total, bytes_done)`` while work advances.
        engine: ``local`` or ``ray`` for phase A and phase B's partition tasks; ``address`` joins an
            existing Ray cluster.
        against: earlier output folders to link the new paragraphs to (incremental dedup).
        keep_work: keep the phase-A data in ``output/_work`` after success (for ``corpusclean dedup``).
        follow_links: follow symbolic links that lead out of the input folders (by default they are
            ``errors`` rows). The output folder and the ``against`` folders are never read as input.

    Raises:
        UsageError: a missing input, a bad config, an unusable ``against`` folder, an output folder
            that is unwritable or in use; all found before any work starts.
        OutOfSpace: the output's file system filled up.
    """
    config = _resolve_config(config)
    output = str(output) if storage.is_remote(output) else storage.local_path(output)
    for earlier in against:  # before phase A: a mistake here should not cost the whole of it
        _earlier_part(earlier, config.section("dedup"), output)
    # one engine for both phases (a private Ray is started once, not once a phase)
    with output_folder(output, "run"), engine_session(engine, workers, address):
        run_extract(inputs, output, config, workers, fresh, on_progress, engine, address, follow_links, against)
        return run_dedup(output, config, on_progress, against, keep_work, engine, address, workers)
