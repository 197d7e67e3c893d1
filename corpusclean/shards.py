"""Shards: the unit of phase-A work, of atomic output and of resumption.

Discovered files, in sorted order, are cut into shards of at most ``run.shard_files`` files and
``run.shard_mb`` megabytes of input (a single larger file is a shard of its own). A shard's folder
name carries its index and a hash of its file list and of the config hash, so a rerun with the same
inputs and config finds its finished shards and skips them, while a changed config or input list
starts them anew. A worker writes a shard's four tables into a hidden temporary folder and renames the
folder into place, which is atomic: a shard folder either holds all its tables or does not exist, so a
run killed at any moment (even ``kill -9``) leaves only whole shards to resume from.

A JSONL file (``.jsonl``, ``.ndjson``, also gzipped) of more than ``run.shard_mb`` megabytes of JSONL
is a shard of its own made of *pieces*: line ranges planned by
:func:`~corpusclean.readers.records.jsonl_pieces`, each processed by any worker as a shard of its own
(``shard-…-<hash>.piece-003-<hash>``, named by the shard and the piece's line range), so that one big
file keeps every worker busy and a worker holds one piece's rows, not the file's. When all its pieces
are done, :func:`merge_pieces` joins their tables, streaming, into the shard's folder, which is then
exactly what processing the file whole would have written (ids and offsets are those of the whole file
anyway), and phase B sees the same shards as without pieces. (It must: phase B writes the ``removed``
rows of each shard in document-id order, so a file left in pieces would give the same rows in another
order.) A file-level failure (unreadable, too large, bad gzip, binary) leaves the file uncut, so it is
reported once.

Layout::

    OUT/_work/shards/shard-00000-<hash>/{documents,paragraphs,removed,errors,fingerprints}.parquet
    OUT/_work/shards/shard-00001-<hash>.piece-000-<hash>/...   (until the pieces are merged)

In an object store (a Ray run with an ``s3://`` output, :mod:`corpusclean.executors.ray_engine`), S3
having no rename, a shard's objects are uploaded by the worker that made them (:func:`upload_shard`)
and a marker object written last says the shard is whole::

    s3://bucket/out/_work/shards/shard-00000-<hash>/{documents,...,fingerprints}.parquet
    s3://bucket/out/_work/shards/shard-00000-<hash>/_SHARD.json    {"tables": {name: bytes}, ...}

A shard without its marker does not exist (a killed upload is done again, over it); the driver copies
a marked shard into its local folder (:func:`fetch_shard`), atomically as :func:`write_shard` does.
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import polars as pl
import xxhash

from .clean import Rows, clean_files, context_from_json
from .dedup.fingerprints import fingerprint_table
from .readers.discover import InputFile
from .readers.records import ID_SCHEME, is_jsonl_name, jsonl_pieces
from .schema import DOCUMENTS, ERRORS, PARAGRAPHS, REMOVED, frame

PHASE_A_TABLES = {"documents": DOCUMENTS, "paragraphs": PARAGRAPHS, "removed": REMOVED, "errors": ERRORS}
SORT_KEYS = {
    "documents": ["source_path", "record_offset"],
    "paragraphs": ["source_path", "record_offset", "para_idx"],
    "removed": ["source_path", "doc_id", "unit_idx", "char_start", "reason"],
    "errors": ["source_path", "record_offset"],
}


@dataclass(frozen=True)
class Shard:
    """Files ``files`` processed together; ``name`` is stable for the same files and config;
    ``bytes`` is their size when the shard was planned (for progress rates).

    A shard of one large JSONL file has ``pieces``: shards of one :class:`Piece` of it each
    (``files[0].piece``), processed apart and merged into this shard. Indexes are unique in a plan:
    shards are numbered in order, then the pieces after them."""

    index: int
    files: tuple[InputFile, ...]
    name: str
    bytes: int = 0
    pieces: tuple["Shard", ...] = ()


def _file_size(file: InputFile) -> int:
    try:
        return file.path.stat().st_size
    except OSError:  # unreadable now: reading it will say why, in the errors table
        return 0


def plan_shards(files: list[InputFile], shard_files: int, config_hash: str,
                shard_bytes: int | None = None, input_config: dict[str, Any] | None = None) -> list[Shard]:
    """Cut sorted ``files`` into shards of at most ``shard_files`` files and ``shard_bytes`` bytes.

    Why bytes too: a shard costs a fixed overhead in phase A and phase B (a few table writes and
    reads), so 64 files of 6 KB made shards too small to pay for it, while 64 pages of 1 MB would
    hold a worker's memory longer than needed. The plan depends only on the files and the config, so
    a rerun finds the same shard names.

    With ``input_config`` (the ``[input]`` section) and ``shard_bytes``, a JSONL file of more than
    ``shard_bytes`` of JSONL is a shard of its own with pieces of about ``shard_bytes`` each (see the
    module docstring); a gzipped one is decompressed once for that, in threads when there are several.
    """
    split = _plan_pieces(files, input_config, shard_bytes) if input_config is not None and shard_bytes else {}
    chunks: list[list[InputFile]] = []
    sizes: list[int] = []
    alone = False  # the last chunk is a file cut into pieces
    for file in files:
        size = _file_size(file)
        cut = file.source_path in split
        if (not chunks or alone or cut or len(chunks[-1]) >= shard_files
                or (shard_bytes and sizes[-1] + size > shard_bytes)):
            chunks.append([])
            sizes.append(0)
        chunks[-1].append(file)
        sizes[-1] += size
        alone = cut
    shards = []
    piece_index = len(chunks)
    for index, (chunk, size) in enumerate(zip(chunks, sizes)):
        # the id scheme too: a shard finished by a version that made ids otherwise is not resumed
        digest = xxhash.xxh64(f"{config_hash}#{ID_SCHEME}".encode())
        for file in chunk:
            digest.update(file.source_path.encode() + b"\0" + str(file.path).encode() + b"\0")
        name = f"shard-{index:05d}-{digest.hexdigest()[:12]}"
        pieces = []
        for piece in split.get(chunk[0].source_path, ()) if len(chunk) == 1 else ():
            piece_digest = xxhash.xxh64(f"{name}#{piece.start}-{piece.end}".encode()).hexdigest()[:12]
            share = size * (piece.end - piece.start) // split[chunk[0].source_path][-1].end
            pieces.append(Shard(piece_index, (replace(chunk[0], piece=piece),),
                                f"{name}.piece-{piece.index:03d}-{piece_digest}", share))
            piece_index += 1
        shards.append(Shard(index, tuple(chunk), name, size, tuple(pieces)))
    return shards


def _plan_pieces(files: list[InputFile], input_config: dict[str, Any], shard_bytes: int) -> dict[str, list]:
    """The pieces of every JSONL file among ``files`` that is cut, by source path."""
    candidates = [file for file in files if is_jsonl_name(file.source_path) and _file_size(file) > shard_bytes // 4]
    if not candidates:
        return {}
    if len(candidates) == 1:
        planned = [jsonl_pieces(candidates[0], input_config, shard_bytes)]
    else:  # zlib lets go of the GIL while it decompresses
        with ThreadPoolExecutor(max_workers=min(len(candidates), os.cpu_count() or 1)) as threads:
            planned = list(threads.map(lambda file: jsonl_pieces(file, input_config, shard_bytes), candidates))
    return {file.source_path: pieces for file, pieces in zip(candidates, planned) if pieces}


def rows_to_tables(rows: Rows) -> dict[str, pl.DataFrame]:
    """Phase-A rows to the four sorted tables."""
    raw = {"documents": rows.documents, "paragraphs": rows.paragraphs, "removed": rows.removed, "errors": rows.errors}
    return {name: frame(raw[name], schema).sort(SORT_KEYS[name], nulls_last=False)
            for name, schema in PHASE_A_TABLES.items()}


def write_shard(tables: dict[str, pl.DataFrame], shards_dir: Path, name: str) -> None:
    """Write a shard's tables into a temporary folder and rename it into place (atomic)."""
    final = shards_dir / name
    temporary = shards_dir / f".{name}.{os.getpid()}.tmp"
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    for table_name, table in tables.items():
        # lz4, not zstd as in the final tables: these are read once or twice, by phase B, and lz4
        # halves the write (0.046 against 0.095 s for 8 MB of text in) for 1.4x the disk
        table.write_parquet(temporary / f"{table_name}.parquet", compression="lz4")
    try:
        os.rename(temporary, final)
    except OSError:  # another worker finished the same shard first: keep its copy
        shutil.rmtree(temporary, ignore_errors=True)


def process_shard(shard: Shard, context_json: str, shards_dir: str) -> tuple[int, int]:
    """Phase A for one shard, written atomically. Returns ``(shard index, files done)``.

    ``context_json`` is :meth:`~corpusclean.clean.Context.to_json` (or a config's JSON)."""
    context = context_from_json(context_json)
    tables = rows_to_tables(clean_files(shard.files, context))
    tables["fingerprints"] = fingerprint_table(tables["paragraphs"], context.config.section("dedup"), context.bands)
    write_shard(tables, Path(shards_dir), shard.name)
    return shard.index, len(shard.files)


def merge_pieces(shard: Shard, shards_dir: Path) -> None:
    """Join the finished pieces of ``shard`` into its folder (atomically, as :func:`write_shard`) and
    remove them. The pieces are in line order and each piece's tables are sorted, so their
    concatenation is sorted as the tables of the whole file would be, except ``removed`` (by document
    id), which is sorted again; the tables stream from file to file, never whole in memory."""
    final = shards_dir / shard.name
    temporary = shards_dir / f".{shard.name}.{os.getpid()}.tmp"
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    for table in (*PHASE_A_TABLES, "fingerprints"):
        scan = pl.scan_parquet([shards_dir / piece.name / f"{table}.parquet" for piece in shard.pieces])
        if table == "removed":
            scan = scan.sort(SORT_KEYS[table], nulls_last=False, maintain_order=True)
        scan.sink_parquet(temporary / f"{table}.parquet", compression="lz4")
    try:
        os.rename(temporary, final)
    except OSError:  # another process merged them first: keep its copy
        shutil.rmtree(temporary, ignore_errors=True)
    drop_pieces(shard, shards_dir)


def drop_pieces(shard: Shard, shards_dir: Path) -> None:
    """Remove the piece folders of ``shard``: merged, left by a run killed right after merging them,
    or planned for an earlier version of the file (other line ranges)."""
    for folder in shards_dir.glob(f"{shard.name}.piece-*"):
        shutil.rmtree(folder, ignore_errors=True)


def finished(shards_dir: Path) -> set[str]:
    """Names of the shard folders already complete."""
    if not shards_dir.is_dir():
        return set()
    return {entry.name for entry in shards_dir.iterdir() if entry.is_dir() and not entry.name.startswith(".")}


def read_shard(shards_dir: Path, name: str, skip: dict[str, tuple[str, ...]] | None = None,
               tables: tuple[str, ...] = tuple(PHASE_A_TABLES),
               rows: dict[str, tuple[int, int]] | None = None) -> dict[str, pl.DataFrame]:
    """The phase-A ``tables`` of one shard, without the columns ``skip`` names per table.

    ``rows`` maps a table to the row range ``(start, stop)`` to read of it: the reader then decodes
    little more than those rows (30k of 297k paragraphs: 42 MiB against 190 MiB for the table)."""
    skip = skip or {}
    rows = rows or {}
    read = {}
    for table in tables:
        columns = [c for c in PHASE_A_TABLES[table] if c not in skip.get(table, ())]
        path = shards_dir / name / f"{table}.parquet"
        if table in rows:
            start, stop = rows[table]
            read[table] = pl.scan_parquet(path).select(columns).slice(start, stop - start).collect()
        else:
            read[table] = pl.read_parquet(path, columns=columns)
    return read


#: The object written last into a shard's prefix in an object store: the shard is complete.
SHARD_MARKER = "_SHARD.json"


def shard_done_in_store(uri: str, name: str) -> dict[str, Any] | None:
    """The marker of shard ``name`` under the store prefix ``uri`` (``OUT/_work/shards``), or None."""
    from . import storage

    return storage.read_json(storage.join(uri, name, SHARD_MARKER))


def upload_shard(folder: Path, uri: str) -> int:
    """The tables of the finished shard ``folder`` to ``uri/<its name>/``, then its marker (last);
    the bytes uploaded. A second upload of the same shard (a retried task) writes the same bytes."""
    import socket

    from . import storage

    prefix = storage.join(uri, folder.name)
    tables = {path.name: storage.upload_file(path, storage.join(prefix, path.name))
              for path in sorted(folder.iterdir()) if path.is_file() and path.name.endswith(".parquet")}
    storage.put_json(storage.join(prefix, SHARD_MARKER),
                     {"tables": tables, "host": socket.gethostname(), "pid": os.getpid()})
    return sum(tables.values())


def fetch_shard(uri: str, name: str, shards_dir: Path) -> int:
    """Copy the complete shard ``name`` from the store prefix ``uri`` into ``shards_dir/name`` (into a
    temporary folder, renamed into place: atomic); the bytes fetched (0 when the folder is there).

    Raises:
        OSError: the shard has no marker in the store, or an object is missing or of another size.
    """
    from . import storage

    final = shards_dir / name
    if final.is_dir():
        return 0
    marker = shard_done_in_store(uri, name)
    if marker is None:
        raise OSError(f"shard {name}: no {SHARD_MARKER} under {uri}/{name}: it was not uploaded whole")
    temporary = shards_dir / f".{name}.{os.getpid()}.fetch"
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    fetched = 0
    try:
        for table, size in sorted(marker["tables"].items()):
            got = storage.fetch_object(storage.join(uri, name, table), temporary / table)
            if got != size:
                raise OSError(f"shard {name}: {table} has {got} bytes in the store, its marker says {size}")
            fetched += got
        os.rename(temporary, final)
    except OSError:
        shutil.rmtree(temporary, ignore_errors=True)
        if not final.is_dir():
            raise
    return fetched
