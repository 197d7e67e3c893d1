"""Where inputs and outputs live: local folders, ``file://`` URIs, or an S3-compatible object store.

A *location* is a local path (``raw``, ``/data/out``), a ``file://`` URI (the same as its path), or
``s3://bucket/prefix``. Credentials, region and endpoint come from the usual environment, read by
the AWS SDKs themselves (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``,
``AWS_PROFILE``, ``AWS_REGION`` / ``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL`` /
``AWS_ENDPOINT_URL_S3`` for MinIO, Ceph, moto and the like); none of them is ever written to a
manifest or a table.

Two clients, each for what only it does well:

* **pyarrow.fs.S3FileSystem** (already a dependency) lists prefixes, fetches input objects and uploads
  the tables (multipart, in threads), and reads tables back: whole (:func:`read_table`,
  :func:`local_copy`), or in place, a query fetching only the row groups it needs (:func:`scan_table`).
* **boto3** for the few calls pyarrow has no way to make: the lock is created with a conditional
  ``PUT`` (``If-None-Match: *``, which S3 has honoured since 2024 and MinIO and moto do too), the
  manifest is one plain ``PutObject``, and the start-up check (:func:`check_bucket`) needs the
  error *kinds* (no credentials, no such bucket, endpoint unreachable) that pyarrow only gives as text.

Inputs in an object store are read by **fetching each object to a local temporary file** when a reader
opens it (:class:`ObjectPath`), in the process that reads it (a phase-A worker, local or on Ray).
Why not stream: the readers seek (gzip members of a ``.warc.gz``, line ranges of a large JSONL cut
into pieces) and ``fstat`` the open file, and a page is a few kilobytes, fetched with one ``GET``
either way; a real file keeps every reader, limit and error path exactly as for local files. The last
object fetched stays cached in the process (pieces of one big JSONL read by one worker fetch it once),
and the temporary folder goes when the process ends (a killed process's is removed by the next
discovery on the machine).

The corpus of an object-store output is found through its manifest: :func:`table_uri` is the one
function that says where a table of an output is (see :mod:`corpusclean.writers.remote` for the layout).
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote, urlparse

import xxhash

from .errors import UsageError
from .writers.parquet import write_json

#: URI schemes of object stores (``file://`` is a local path, see :func:`local_path`).
REMOTE_SCHEMES = ("s3",)
MANIFEST = "manifest.json"


def is_remote(location: str | os.PathLike | None) -> bool:
    """Whether ``location`` is an object-store URI (``s3://...``)."""
    return isinstance(location, str) and location.split("://", 1)[0].lower() in REMOTE_SCHEMES and "://" in location


def is_uri(location: str | os.PathLike | None) -> bool:
    return isinstance(location, str) and re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", location) is not None


def local_path(location: str | os.PathLike) -> Path:
    """A local location as a :class:`Path` (``file:///data/raw`` is ``/data/raw``).

    Raises:
        UsageError: a URI of a scheme corpusclean does not read.
    """
    if isinstance(location, str) and is_uri(location):
        parsed = urlparse(location)
        if parsed.scheme.lower() != "file":
            raise UsageError(f"{location}: unsupported storage scheme {parsed.scheme}:// (use a local path, "
                             "file:// or s3://)")
        if parsed.netloc not in ("", "localhost"):
            raise UsageError(f"{location}: a file:// URI names a local path (file:///path), not host {parsed.netloc}")
        return Path(unquote(parsed.path))
    return Path(location)


def split(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b/`` -> ``("bucket", "a/b")``."""
    parsed = urlparse(uri)
    if not parsed.netloc:
        raise UsageError(f"{uri}: no bucket name (s3://BUCKET/prefix)")
    return parsed.netloc, parsed.path.strip("/")


def join(uri: str, *parts: str) -> str:
    """``join("s3://b/out", "_v", "x")`` -> ``s3://b/out/_v/x``."""
    bucket, key = split(uri)
    key = "/".join(p.strip("/") for p in (key, *parts) if p.strip("/"))
    return f"s3://{bucket}/{key}" if key else f"s3://{bucket}"


def normalize(uri: str) -> str:
    """An object-store URI without a trailing slash, the form used as a key and in provenance."""
    bucket, key = split(uri)
    return join(f"s3://{bucket}", key)


def _arrow_path(uri: str) -> str:
    bucket, key = split(uri)
    return f"{bucket}/{key}" if key else bucket


def endpoint() -> str | None:
    """The endpoint URL from the environment, if any (else the AWS default for the region)."""
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


def region() -> str | None:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None


@lru_cache(maxsize=None)
def _filesystem(pid: int, env: tuple):
    from pyarrow import fs as pafs

    options: dict[str, Any] = {"region": region() or "us-east-1", "connect_timeout": 5.0,
                               "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=3)}
    url = endpoint()
    if url:
        parsed = urlparse(url if "://" in url else f"https://{url}")
        options["endpoint_override"] = parsed.netloc + parsed.path.rstrip("/")
        options["scheme"] = parsed.scheme
    return pafs.S3FileSystem(**options)


def filesystem():
    """This process's pyarrow S3 file system, configured from the environment."""
    return _filesystem(os.getpid(), _env_key())


def _env_key() -> tuple:
    return tuple(os.environ.get(name) for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION",
                                                   "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_PROFILE"))


@lru_cache(maxsize=None)
def _client(pid: int, env: tuple):
    try:
        import boto3
        from botocore.config import Config
    except ImportError:  # pragma: no cover - a dependency
        raise UsageError("s3:// locations need boto3: pip install boto3") from None
    config = Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": 2, "mode": "standard"})
    return boto3.session.Session().client("s3", region_name=region(), endpoint_url=endpoint(), config=config)


def client():
    """This process's boto3 S3 client, configured from the environment."""
    return _client(os.getpid(), _env_key())


def describe_error(exc: BaseException, uri: str) -> str | None:
    """One line for a user mistake met talking to the store (no credentials, no bucket, no access,
    an endpoint that does not answer), or None when ``exc`` is something else."""
    from botocore import exceptions as be

    bucket = split(uri)[0]
    where = f" at {endpoint()}" if endpoint() else ""
    if isinstance(exc, (be.NoCredentialsError, be.PartialCredentialsError)):
        return (f"{uri}: no AWS credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                "(or AWS_PROFILE) in the environment")
    if isinstance(exc, (be.EndpointConnectionError, be.ConnectTimeoutError, be.ConnectionClosedError)):
        return (f"{uri}: cannot reach the object store{where or ' (AWS)'}: {exc}; check AWS_ENDPOINT_URL "
                "and the network")
    if isinstance(exc, be.ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ("404", "NoSuchBucket", "NotFound"):
            return f"{uri}: bucket {bucket!r} does not exist{where}; create it or fix the URI"
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken",
                    "AuthorizationHeaderMalformed"):
            return f"{uri}: the object store refused the credentials ({code}); check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        if code in ("403", "AccessDenied", "Forbidden") or status == 403:
            return f"{uri}: access to bucket {bucket!r} denied{where}; check the credentials' permissions"
        if code == "301" or code == "PermanentRedirect":
            return f"{uri}: bucket {bucket!r} is in another region; set AWS_REGION to it"
    return None


def check_bucket(uri: str) -> None:
    """Raise :class:`UsageError` (one line) unless the bucket of ``uri`` can be reached and read."""
    from botocore import exceptions as be

    bucket = split(uri)[0]
    try:
        client().head_bucket(Bucket=bucket)
    except (be.BotoCoreError, be.ClientError) as exc:
        message = describe_error(exc, uri)
        if message is None:
            raise UsageError(f"{uri}: {type(exc).__name__}: {' '.join(str(exc).split())}") from None
        raise UsageError(message) from None


# -- inputs -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ObjectPath:
    """An input object: what :class:`~corpusclean.readers.discover.InputFile` holds as ``path`` for
    an object-store input. Readers call :meth:`open` and :meth:`stat` as on a :class:`Path`."""

    uri: str
    size: int
    mtime_ns: int = 0

    def __str__(self) -> str:
        return self.uri

    @property
    def name(self) -> str:
        return self.uri.rstrip("/").rsplit("/", 1)[-1]

    def stat(self) -> SimpleNamespace:
        """The size and time the listing gave (no request)."""
        return SimpleNamespace(st_size=self.size, st_mtime_ns=self.mtime_ns)

    def open(self, mode: str = "rb"):
        """A real, seekable local file holding the object's bytes (fetched now, or cached)."""
        if mode != "rb":
            raise ValueError(f"object-store inputs are read only, not opened with {mode!r}")
        return open(_fetch(self), "rb")


_fetch_lock = threading.Lock()
_fetched: dict[str, Any] = {"key": None, "path": None, "dir": None}


def _fetch_dir() -> str:
    if _fetched["dir"] is None or _fetched.get("pid") != os.getpid():
        _fetched["dir"] = tempfile.mkdtemp(prefix=f"corpusclean-fetch-{os.getpid()}-")
        _fetched["pid"] = os.getpid()
        _fetched["key"] = _fetched["path"] = None
        atexit.register(shutil.rmtree, _fetched["dir"], True)
    return _fetched["dir"]


def _fetch(obj: ObjectPath) -> str:
    """Download ``obj`` into this process's temporary folder (keeping the last one), its local path.

    Raises:
        OSError: the object cannot be read (gone, no access): the reader makes it an ``unreadable`` row.
    """
    key = (obj.uri, obj.size, obj.mtime_ns)
    with _fetch_lock:
        if _fetched["key"] == key and _fetched.get("pid") == os.getpid() and os.path.exists(_fetched["path"]):
            return _fetched["path"]
        folder = _fetch_dir()
        if _fetched["path"]:
            try:
                os.unlink(_fetched["path"])
            except OSError:
                pass
            _fetched["key"] = _fetched["path"] = None
        target = os.path.join(folder, xxhash.xxh64(obj.uri.encode()).hexdigest() + "-" + obj.name[-80:])
        try:
            _download(obj.uri, target)
        except OSError as exc:
            try:
                os.unlink(target)
            except OSError:
                pass
            message = " ".join(str(exc).split())
            raise OSError(f"cannot fetch {obj.uri}: {message}") from None
        _fetched["key"], _fetched["path"] = key, target
        return target


def _download(uri: str, target: str | Path) -> None:
    """The bytes of the object ``uri`` into the local file ``target``, streamed in 1 MiB pieces."""
    with filesystem().open_input_stream(_arrow_path(uri), compression=None) as source, open(target, "wb") as sink:
        shutil.copyfileobj(source, sink, 1 << 20)


def clean_fetch_leftovers() -> None:
    """Remove the temporary folders of processes that died without removing theirs (``kill -9``)."""
    remove_dead_folders("corpusclean-fetch-")


def remove_dead_folders(prefix: str) -> None:
    """Remove the folders ``<tempdir>/<prefix><pid>-...`` whose process is gone (killed while it held
    one); this process's and live processes' stay."""
    for folder in Path(tempfile.gettempdir()).glob(f"{prefix}*-*"):
        try:
            pid = int(folder.name[len(prefix):].split("-")[0])
        except ValueError:
            continue
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass


def list_objects(uri: str) -> tuple[str, list[tuple[str, int, int]]]:
    """What ``uri`` names: ``("file", [(uri, size, mtime_ns)])`` for one object,
    ``("folder", [...every object under the prefix, sorted by key...])``, or ``("missing", [])``.

    Raises:
        UsageError: the store cannot be reached, or the bucket is missing or closed to us.
    """
    from pyarrow import fs as pafs

    uri = normalize(uri)
    bucket, key = split(uri)
    check_bucket(uri)
    system = filesystem()
    try:
        info = system.get_file_info(_arrow_path(uri)) if key else None
        if info is not None and info.type == pafs.FileType.File:
            return "file", [(uri, info.size or 0, info.mtime_ns or 0)]
        if info is not None and info.type == pafs.FileType.NotFound:
            return "missing", []
        listed = system.get_file_info(pafs.FileSelector(_arrow_path(uri), recursive=True))
    except OSError as exc:
        raise UsageError(f"{uri}: cannot list: {' '.join(str(exc).split())}") from None
    objects = [(f"s3://{entry.path}", entry.size or 0, entry.mtime_ns or 0) for entry in listed
               if entry.type == pafs.FileType.File and not entry.path.endswith("/")]
    return "folder", sorted(objects)


# -- outputs ----------------------------------------------------------------------------------------
def work_folder(uri: str) -> Path:
    """The local folder that stands for an object-store output on this machine: ``_work`` (phase-A
    shards, so a rerun resumes), the staging of a run's tables before they are published, and a copy
    of the last corpus this machine published. ``$CORPUSCLEAN_WORK_ROOT``, else
    ``$XDG_CACHE_HOME/corpusclean/outputs`` (``~/.cache/...``), holds one folder per URI."""
    uri = normalize(uri)
    root = os.environ.get("CORPUSCLEAN_WORK_ROOT") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "corpusclean", "outputs")
    bucket, key = split(uri)
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{bucket}_{key}")[-80:].strip("._") or "bucket"
    return Path(root) / f"{readable}-{xxhash.xxh64(uri.encode()).hexdigest()[:12]}"


def output_path(location: str | os.PathLike) -> Path:
    """The local folder a run writes through: the folder itself, or :func:`work_folder` of a URI."""
    return work_folder(location) if is_remote(location) else local_path(location)


def read_json(uri: str) -> dict[str, Any] | None:
    """A small JSON object of the store, or None when there is none at ``uri``."""
    from botocore import exceptions as be

    bucket, key = split(uri)
    try:
        body = client().get_object(Bucket=bucket, Key=key)["Body"].read()
    except be.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            return None
        raise
    return json.loads(body)


def read_manifest(output: str | os.PathLike) -> dict[str, Any]:
    """The manifest of an output (local folder or object store).

    Raises:
        UsageError: there is none (not a corpusclean output, or no run has finished there).
    """
    if is_remote(output):
        check_bucket(output)
        manifest = read_json(join(output, MANIFEST))
        if manifest is None:
            raise UsageError(f"{output} is not a corpusclean output (no {MANIFEST}; no run has finished there)")
        return manifest
    try:
        return json.loads((local_path(output) / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        raise UsageError(f"{output} is not a corpusclean output (no readable {MANIFEST})") from None


def table_uri(output: str | os.PathLike, table: str, manifest: dict[str, Any] | None = None) -> str:
    """Where ``table`` (``documents``, ``paragraphs``, ...) of an output is: ``OUT/documents.parquet``
    in a local folder, the generation the manifest names in an object store
    (``s3://b/out/_v/<run-id>/documents.parquet``). The one function readers find tables with."""
    if not is_remote(output):
        return str(local_path(output) / f"{table}.parquet")
    manifest = manifest if manifest is not None else read_manifest(output)
    tables = manifest.get("storage", {}).get("tables", {})
    if table not in tables:
        raise UsageError(f"{output}: its manifest names no {table} table")
    return join(output, tables[table])


def read_table(output: str | os.PathLike, table: str, columns: list[str] | None = None,
               manifest: dict[str, Any] | None = None):
    """A table of an output as a polars DataFrame, wherever the output is."""
    import polars as pl

    where = table_uri(output, table, manifest)
    if not is_remote(where):
        return pl.read_parquet(where, columns=columns)
    import pyarrow.parquet as pq

    return pl.from_arrow(pq.read_table(_arrow_path(where), columns=columns, filesystem=filesystem()))


def scan_table(uri: str):
    """The table at ``uri`` (a :func:`table_uri`) as a polars LazyFrame that fetches only what a query
    needs: the footer, then, per query, the column chunks it selects of the row groups whose
    statistics can match its filter.

    Why: ``inspect --doc`` prints one page; the tables it reads are gigabytes on a large output, and
    :func:`local_copy` fetches them whole. Read in place, a query fetches the footer (once per table
    and process: a generation's objects never change once written) and then only the byte ranges of
    the column chunks it selects, in the row groups that pass its filter: the final write makes a
    row group of each slice of each shard, shards are cut in path order and sorted by path, so
    ``source_path`` statistics point at the row groups of a document, and a filter on it skips the
    others. (Ids are hashes: their statistics span every row group, and a filter on them alone
    fetches the selected columns of all of them.)

    The scan is a ``pyarrow.dataset`` over this process's :func:`filesystem` (the same endpoint and
    credentials as every other read, from the environment), handed to polars with
    ``pl.scan_pyarrow_dataset``: polars pushes the projection and the filter (comparisons, ``is_in``,
    ``&``/``|``) to pyarrow, which prunes row groups by their statistics; what it cannot push
    (``str.starts_with``) polars applies after reading the selected columns. A local path is
    ``pl.scan_parquet``.

    Raises:
        UsageError: the object is missing, or is not Parquet (one line).
        OSError: the store failed to answer.
    """
    import polars as pl

    if not is_remote(uri):
        return pl.scan_parquet(local_path(uri))
    import pyarrow as pa
    import pyarrow.dataset as ds

    try:
        fragment = _table_fragment(os.getpid(), _env_key(), normalize(uri))
    except (FileNotFoundError, pa.ArrowInvalid) as exc:  # the output is not whole: a user's to mend
        raise UsageError(f"cannot read {uri}: {' '.join(str(exc).split())}") from None
    # any other OSError (a store that stopped answering) is no usage error: the command line reports
    # it in one line, exit 1 (cli._storage_failure)
    dataset = ds.FileSystemDataset([fragment], fragment.physical_schema, fragment.format, fragment.filesystem)
    return pl.scan_pyarrow_dataset(dataset)


#: A table object of at most this many bytes is fetched whole, once (:func:`scan_table`): the first
#: read of a Parquet footer takes the object's last 64 KiB (pyarrow's default), all of a small
#: object, and the queries after it would fetch its column chunks again.
WHOLE_TABLE_BYTES = 64 << 10


@lru_cache(maxsize=32)
def _table_fragment(pid: int, env: tuple, uri: str):
    """The Parquet fragment of the table object ``uri``, its footer read (kept: its row groups'
    statistics are what prunes every later query of it); over its bytes in memory when it is small
    (:data:`WHOLE_TABLE_BYTES`)."""
    import pyarrow as pa
    import pyarrow.dataset as ds
    from pyarrow import fs as pafs

    system, path = filesystem(), _arrow_path(uri)
    info = system.get_file_info(path)
    if info.type != pafs.FileType.File:
        raise FileNotFoundError(f"no such object {uri}")
    if info.size <= WHOLE_TABLE_BYTES:
        with system.open_input_file(path) as source:
            fragment = ds.ParquetFileFormat().make_fragment(pa.BufferReader(source.read()))
    else:
        # with its size given, no query asks for it again
        fragment = ds.ParquetFileFormat().make_fragment(path, filesystem=system, file_size=info.size)
    fragment.ensure_complete_metadata()
    return fragment


def fetch_table(output: str, table: str, folder: Path, manifest: dict[str, Any] | None = None) -> Path:
    """Download ``table`` of an object-store output into ``folder``; its local path."""
    where = table_uri(output, table, manifest)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{table}.parquet"
    fetch_object(where, target)
    return target


def fetch_against(output: str) -> Path:
    """A local copy of what ``--against`` needs of an object-store output (its manifest and
    fingerprints), kept per generation under :func:`work_folder` so that it is fetched once."""
    manifest = read_manifest(output)
    generation = manifest.get("storage", {}).get("generation") or "unknown"
    folder = work_folder(output).parent / (work_folder(output).name + ".against") / generation
    if not (folder / MANIFEST).is_file():
        if "fingerprints" in manifest.get("storage", {}).get("tables", {}):
            fetch_table(output, "fingerprints", folder, manifest)
        folder.mkdir(parents=True, exist_ok=True)
        write_json(manifest, folder / MANIFEST)
    return folder


def input_path(text: str) -> "Path | ObjectPath":
    """The ``InputFile.path`` that ``str(path)`` came from: an executor that ships paths as text
    (Ray) rebuilds them with this, since ``Path("s3://b/k")`` would fold the ``//``."""
    return ObjectPath(text, 0) if is_remote(text) else Path(text)


# -- reading an output ------------------------------------------------------------------------------
def check_output(output: str, required: tuple[str, ...] = (), manifest: dict[str, Any] | None = None) -> dict[str, Any]:
    """The manifest of the object-store output ``output`` (read now unless given), checked to be a
    corpusclean run's that names every table of ``required``. Cheap (two requests): the check that
    ``inspect``, ``report`` and ``export`` make before any work.

    Raises:
        UsageError: one line: the bucket cannot be reached or read (:func:`describe_error`), there is
        no manifest (not a corpusclean output), or it names no such table.
    """
    from botocore import exceptions as be

    if manifest is None:
        try:
            manifest = read_manifest(output)
        except (be.BotoCoreError, be.ClientError) as exc:
            raise UsageError(describe_error(exc, output) or f"{output}: cannot read its {MANIFEST}: "
                             f"{type(exc).__name__}: {' '.join(str(exc).split())}") from None
        except ValueError:
            raise UsageError(f"{output} is not a corpusclean output (its {MANIFEST} is not JSON)") from None
    named = manifest.get("storage", {}).get("tables", {}) if isinstance(manifest, dict) else {}
    missing = [name for name in required if name not in named]
    if not isinstance(manifest, dict) or manifest.get("tool") != "corpusclean" or missing:
        raise UsageError(f"{output} is not a complete corpusclean output"
                         + (f" (its {MANIFEST} names no {', '.join(missing)} table)" if missing else ""))
    return manifest


@contextmanager
def local_copy(output: str | os.PathLike, tables: tuple[str, ...], optional: tuple[str, ...] = (),
               manifest: dict[str, Any] | None = None):
    """A local folder holding ``manifest.json`` and the ``tables`` of an output, to be read as a local
    output for the ``with`` block. A local output (a path, ``file://``) is its own folder, unchecked
    (its readers check it). An object-store output is checked (:func:`check_output`), then the tables
    of the generation its manifest names (``tables``, and those of ``optional`` it has) are fetched
    (:func:`fetch_table`) into a temporary folder, removed when the block ends (a killed process's by
    :func:`clean_fetch_leftovers`). Nothing is listed: the manifest says where each table is.

    Raises:
        UsageError: see :func:`check_output`; or a table cannot be fetched.
    """
    import errno

    if not is_remote(output):
        yield local_path(output)
        return
    manifest = check_output(str(output), tables, manifest)
    named = manifest.get("storage", {}).get("tables", {})
    folder = Path(tempfile.mkdtemp(prefix=f"corpusclean-fetch-{os.getpid()}-read-"))
    try:
        for table in (*tables, *(name for name in optional if name in named and name not in tables)):
            try:
                fetch_table(str(output), table, folder, manifest)
            except OSError as exc:
                if exc.errno == errno.ENOSPC:
                    raise
                raise UsageError(f"cannot fetch {table_uri(output, table, manifest)}: "
                                 f"{' '.join(str(exc).split())}") from None
        write_json(manifest, folder / MANIFEST)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- work files in the store (a Ray run's shards and phase-B task files under OUT/_work) ---------------
def upload_file(path: str | Path, uri: str) -> int:
    """The local file ``path`` to the object ``uri`` (multipart for a large one: an object appears
    whole or not at all); its size in bytes."""
    from pyarrow import fs as pafs

    pafs.copy_files(str(path), _arrow_path(uri), source_filesystem=pafs.LocalFileSystem(),
                    destination_filesystem=filesystem())
    return os.path.getsize(path)


def fetch_object(uri: str, target: str | Path) -> int:
    """The object ``uri`` into the local file ``target``, atomically (a temporary name beside it, then
    renamed: a killed fetch leaves no half file there); its size in bytes."""
    target = Path(target)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        _download(uri, temporary)
        os.replace(temporary, target)
    finally:
        try:
            os.unlink(temporary)
        except OSError:
            pass
    return target.stat().st_size


def put_json(uri: str, data: dict[str, Any]) -> None:
    """A small JSON object to ``uri``, in one PUT (a marker, written last)."""
    bucket, key = split(uri)
    client().put_object(Bucket=bucket, Key=key, Body=json.dumps(data, sort_keys=True).encode(),
                        ContentType="application/json")


def object_version(uri: str) -> str | None:
    """The ETag of the object ``uri`` (changes with its bytes), or None when there is none."""
    from botocore import exceptions as be

    bucket, key = split(uri)
    try:
        return str(client().head_object(Bucket=bucket, Key=key)["ETag"])
    except be.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            return None
        raise


def list_versions(uri: str) -> dict[str, tuple[int, str]]:
    """Every object under the prefix ``uri`` (as a folder: ``uri/...``): its URI -> (size, ETag)."""
    bucket, key = split(uri)
    found = {}
    pages = client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key + "/" if key else "")
    for page in pages:
        for item in page.get("Contents", []):
            found[f"s3://{bucket}/{item['Key']}"] = (int(item["Size"]), str(item["ETag"]))
    return found


def delete_prefix(uri: str) -> int:
    """Delete every object under the prefix ``uri`` (as a folder: ``uri/...``); how many there were."""
    bucket, key = split(uri)
    s3 = client()
    deleted = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key + "/" if key else ""):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            deleted += len(keys)
    return deleted
