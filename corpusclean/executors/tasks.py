"""Task runners: one ``map(func, items) -> list`` for phase B's partitions, serial, pooled or on Ray.

Phase B cuts some of its steps into independent partitions (the LSH search of one band, the posting
reduction of one shingle-hash partition; :mod:`corpusclean.dedup.phase_b`). One code path runs them:
the step builds a list of task descriptions and hands them to a runner, which returns one result per
item, in the items' order, wherever the tasks ran.

What a task may hold and return:

* ``func`` is a module-level function (pickled by reference: a worker imports it), called as
  ``func(item)``. It must not depend on state of the driver process: no globals set there, no open
  handles.
* ``item`` is small and picklable: plain values (ints, strings, paths as strings, flags). Data a task
  reads comes from files named in it, never as frames or arrays carried in the argument; a row filter
  the task needs is a file the driver wrote before submitting.
* the result is small too: counts and the paths of what the task wrote. Its real output goes to files
  (under the folder named in ``item``), which the driver reads back, so per-row data never travels
  through the runner and a retried task just writes its files again (write to a temporary name, then
  rename, or upload one whole object: a killed attempt leaves no half file where the driver reads).
* a task may run more than once (Ray retries a task whose worker died): it must be idempotent.

**Task files** (:class:`TaskFiles`, one per step: where the driver puts a step's inputs and the tasks
their results). Locally, and for every runner but Ray with an object-store output, they are files of
the driver's work folder (``OUT/_work/phase_b/<step>/``), named by path: the workers are processes of
this machine. On Ray with an ``s3://`` output the nodes share no folder, so the files cross through
the store under ``OUT/_work/phase_b/<step>/`` (:class:`TaskStore`): the driver uploads what the tasks
read that is not there yet (a row filter; the fingerprints of a shard the workers did not upload, a
merged one or an earlier output's) and names each input as ``{"uri", "version"}`` (its ETag); a task
reads its inputs through :func:`task_input`, which fetches an object once per node into a cache of
the node's temporary folder (``corpusclean-task-cache-<uid>``, keyed by URI and version, files unused
for :data:`CACHE_MAX_AGE` seconds removed), and writes each result through :func:`task_output`, which
uploads it whole; the driver fetches the results (:meth:`TaskFiles.fetch`). The task bodies are the
same either way: they see local paths.

Runners:

* :class:`SerialRunner` calls ``func`` in this process, one item after the other.
* :class:`PoolRunner` runs them in a local pool of *spawned* processes (not forked: the parent has
  run polars and numba threads; see :mod:`corpusclean.executors.local`). Its workers, like phase A's,
  ignore SIGINT and SIGTERM (the parent decides), die with the parent, and are stopped at once
  (SIGKILL) when the parent's ``map`` ends in an exception, a Ctrl-C among them. They are started
  when the runner is made and import phase B's modules (polars, the compiled numba kernels) while the
  driver reads its metadata.
* :class:`RayRunner` submits ``ray.remote`` tasks with ``max_retries`` (a task whose worker was
  killed is retried elsewhere). It joins the cluster at ``address`` (``auto``, ``ray://…``), or a Ray
  already initialized in this process, or starts a private local Ray of ``workers`` CPUs as
  :func:`corpusclean.executors.ray_engine.run_shards_ray` does, shut down when the runner closes.

:func:`task_runner` makes one from a run's ``(engine, workers, address)`` and its size (the ``local``
engine runs phase B's tasks in this process below ``dedup.task_pool_paragraphs`` paragraphs, where a
pool costs more than it saves, and in a pool from there on, so that no task's memory is the
driver's; see there); runners are context managers (``close()`` stops the pool or the private Ray).

Example:
    >>> with task_runner("serial") as runner:
    ...     runner.map(abs, [-2, 3])
    [2, 3]
"""

from __future__ import annotations

import fcntl
import gc
import multiprocessing
import os
import shutil
import signal
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterable, Iterator, Protocol, TypeVar

from ..errors import UsageError
from ..interrupts import STOP_SIGNALS
from .local import _die_with_parent, _spawning, _stop_pool, default_workers

T = TypeVar("T")
R = TypeVar("R")

#: Attempts Ray makes again for a task whose worker process died (not for exceptions it raised).
MAX_RETRIES = 3
#: Engines :func:`task_runner` knows.
ENGINES = ("serial", "local", "pool", "ray")


class TaskRunner(Protocol):
    """Runs ``func(item)`` for every item; results in the items' order (see the module docstring)."""

    workers: int

    def map(self, func: Callable[[T], R], items: Iterable[T]) -> list[R]: ...

    def close(self) -> None: ...

    def __enter__(self) -> "TaskRunner": ...

    def __exit__(self, *exc: object) -> None: ...


class _Closing:
    workers = 1
    #: where task files cross between nodes (:class:`TaskStore`); None: the driver's folders
    store: "TaskStore | None" = None

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        pass


class SerialRunner(_Closing):
    """Every task in this process, in order."""

    def map(self, func: Callable[[T], R], items: Iterable[T]) -> list[R]:
        return [func(item) for item in items]

    def __repr__(self) -> str:
        return "SerialRunner()"


def _start_task_worker(parent_pid: int) -> None:
    """Pool initializer: ignore the stop signals, die with the parent, import phase B, freeze.

    As :func:`corpusclean.executors.local.settle_worker` does for phase A, the objects made by the
    imports are hidden from the cyclic garbage collector, which would otherwise walk them again in
    every full collection.
    """
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # blocked by _spawning, now ignored
    _die_with_parent(parent_pid)
    from ..dedup import phase_b

    phase_b.warm_up()
    gc.freeze()


def _ready(_: object = None) -> int:
    return os.getpid()


class PoolRunner(_Closing):
    """Tasks in a pool of ``workers`` spawned processes (see the module docstring)."""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, int(workers))
        spawn = multiprocessing.get_context("spawn")
        self._pool: ProcessPoolExecutor | None = ProcessPoolExecutor(
            max_workers=self.workers, mp_context=spawn, initializer=_start_task_worker, initargs=(os.getpid(),))
        # start every worker now (a spawned pool starts one per submitted task, up to max_workers), so
        # that they import while the driver works; nothing waits for these
        with _spawning():
            for _ in range(self.workers):
                self._pool.submit(_ready)

    def map(self, func: Callable[[T], R], items: Iterable[T]) -> list[R]:
        if self._pool is None:
            raise RuntimeError("the pool is closed")
        try:
            with _spawning():  # a worker that died is replaced in submit(): signals blocked there too
                futures = [self._pool.submit(func, item) for item in items]
            return [future.result() for future in futures]
        except BaseException:
            self._kill()
            raise

    def _kill(self) -> None:
        if self._pool is not None:
            _stop_pool(self._pool)
            self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __exit__(self, kind: type | None, *exc: object) -> None:
        if kind is None:
            self.close()
        else:  # the driver failed or was stopped: the workers hold nothing to wait for
            self._kill()

    def __repr__(self) -> str:
        return f"PoolRunner(workers={self.workers})"


class RayRunner(_Closing):
    """Tasks as ``ray.remote`` functions on a private local Ray or the cluster at ``address``."""

    def __init__(self, address: str | None = None, workers: int | None = None,
                 max_retries: int = MAX_RETRIES, store: "TaskStore | None" = None) -> None:
        from .ray_engine import init_ray, require_ray

        self._ray = require_ray()
        self.max_retries = max_retries
        self.store = store
        self.started_here = init_ray(address, workers)  # as run_shards_ray joins or starts Ray
        self.workers = max(1, int(self._ray.cluster_resources().get("CPU", workers or 1)))
        self._remote: dict[Callable, Any] = {}

    def map(self, func: Callable[[T], R], items: Iterable[T]) -> list[R]:
        ray = self._ray
        remote = self._remote.get(func)
        if remote is None:
            remote = self._remote[func] = ray.remote(max_retries=self.max_retries)(func)
        refs = [remote.remote(item) for item in items]
        try:
            return ray.get(refs)
        except BaseException:
            for ref in refs:
                try:
                    ray.cancel(ref, force=True)
                except Exception:  # finished already, or Ray is going down
                    pass
            raise

    def close(self) -> None:
        if self.started_here:
            from .ray_engine import shutdown_ray

            shutdown_ray()
        self.started_here = False

    def __repr__(self) -> str:
        return f"RayRunner(workers={self.workers})"


def task_runner(engine: str = "serial", workers: int | None = None, address: str | None = None,
                store: "TaskStore | None" = None, paragraphs: int = 0,
                pool_paragraphs: int | None = None) -> TaskRunner:
    """The runner of a run's ``engine``, for a corpus of ``paragraphs`` paragraphs.

    * ``serial``: :class:`SerialRunner`.
    * ``local`` (a run's default engine): a :class:`PoolRunner` of ``workers`` processes (default:
      all cores) from ``pool_paragraphs`` paragraphs on (``dedup.task_pool_paragraphs``), else a
      :class:`SerialRunner`. A task holds its band column or shingle partition, and in this
      process that memory is the driver's: on allsides-dev grown 3x (900k paragraphs) the contained
      step's postings task took the driver from 513 to 918 MiB, its peak; in a pool of 2 the
      driver's peak was 860 MiB (the final write) and phase B 1.6 s slower (22.8 against 21.2 s).
      On a small corpus the pool costs more than it saves: on allsides-dev (297k paragraphs) it
      left the driver's peak where it was (682 MiB, the write equals it) and took 1.6 s more
      (10.3 against 8.7 s, 2 cores), and a pool's start (spawn, polars and numba imports) is
      seconds a run on a test corpus does not need.
    * ``pool``: a :class:`PoolRunner` of ``workers`` processes (default: all cores; one: serial),
      whatever the size.
    * ``ray``: a :class:`RayRunner` on ``address`` (default: a private local Ray of ``workers``
      CPUs, or the Ray this process has initialized), whose task files go through ``store`` when
      given (an ``s3://`` output's ``_work``; the other runners' tasks run on this machine and ignore it).
    """
    if engine == "local":
        pooled = pool_paragraphs is not None and paragraphs >= pool_paragraphs
        engine = "pool" if pooled else "serial"
    if engine == "serial":
        return SerialRunner()
    if engine == "pool":
        workers = workers or default_workers()
        return SerialRunner() if workers <= 1 else PoolRunner(workers)
    if engine == "ray":
        return RayRunner(address=address, workers=workers, store=store)
    raise UsageError(f"unknown engine {engine!r}: use {', '.join(ENGINES)}")


def engine_session(engine: str, workers: int | None = None, address: str | None = None) -> ContextManager[None]:
    """What a whole run's ``engine`` holds from its first phase to its last: for ``ray``, one Ray
    (:func:`~corpusclean.executors.ray_engine.ray_session`) that phase A and phase B's
    :class:`RayRunner` share; for the others, nothing."""
    if engine == "ray":
        from .ray_engine import ray_session

        return ray_session(address, workers)
    return nullcontext()


# -- task files -------------------------------------------------------------------------------------
#: Seconds a cached object may go unused on a node before it is removed.
CACHE_MAX_AGE = 6 * 3600
_pruned = {"at": 0.0}


class TaskStore:
    """Phase B's task files of one run in an object store: the prefix ``uri`` (``OUT/_work``) stands
    for the driver's local work folder ``local`` (``OUT``'s local ``_work``); see the module docstring.

    ``bytes`` counts what the driver moved through the store: ``uploaded`` (inputs) and ``fetched``
    (results)."""

    def __init__(self, uri: str, local: Path) -> None:
        from .. import storage

        self.uri = storage.normalize(uri)
        self.local = Path(local)
        self.bytes = {"uploaded": 0, "fetched": 0}
        self._listed: dict[str, tuple[int, str]] | None = None
        self._shared: dict[tuple, dict[str, str]] = {}

    def _marked_shards(self) -> dict[str, tuple[int, str]]:
        """The objects of the shards the workers uploaded whole (with their marker), listed once."""
        if self._listed is None:
            from .. import storage
            from ..shards import SHARD_MARKER

            objects = storage.list_versions(storage.join(self.uri, "shards"))
            whole = {uri.rsplit("/", 1)[0] for uri in objects if uri.endswith("/" + SHARD_MARKER)}
            self._listed = {uri: version for uri, version in objects.items() if uri.rsplit("/", 1)[0] in whole}
        return self._listed

    def share(self, path: Path, uri: str | None = None, source: str | None = None) -> dict[str, str]:
        """The reference to the local file ``path`` in the store: the object ``source`` when ``path``
        is a local copy of it (named with its version, not uploaded again); its object under
        ``OUT/_work`` when a worker uploaded it (same relative name, same size, marked shard); else
        uploaded now to ``uri`` (default ``OUT/_work/phase_b/inputs/<hash>-<name>``). Once per file
        and version: a later step sharing the same file asks the store nothing."""
        from .. import storage

        import xxhash

        path = Path(path)
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns, uri, source)
        if key in self._shared:
            return self._shared[key]
        if source is not None:
            self._shared[key] = {"uri": source, "version": storage.object_version(source) or ""}
            return self._shared[key]
        try:
            relative = path.relative_to(self.local).as_posix()
        except ValueError:
            relative = None
        there = self._marked_shards().get(storage.join(self.uri, relative)) if relative else None
        if there is not None and there[0] == stat.st_size:
            ref = {"uri": storage.join(self.uri, relative), "version": there[1]}
        else:
            target = uri or storage.join(self.uri, "phase_b", "inputs",
                                         f"{xxhash.xxh64(str(path).encode()).hexdigest()[:16]}-{path.name}")
            self.bytes["uploaded"] += storage.upload_file(path, target)
            ref = {"uri": target, "version": storage.object_version(target) or ""}
        self._shared[key] = ref
        return ref

    def fetch(self, uri: str, target: Path) -> Path:
        """A task's result ``uri`` into the local file ``target``."""
        from .. import storage

        target.parent.mkdir(parents=True, exist_ok=True)
        self.bytes["fetched"] += storage.fetch_object(uri, target)
        return target


class TaskFiles:
    """The files of one step's tasks: the local folder ``folder`` (the driver writes its inputs
    there, and reads the results from there), and with a :class:`TaskStore` the prefix where they
    cross between the nodes (``OUT/_work/phase_b/<step>``)."""

    def __init__(self, folder: Path, store: TaskStore | None = None, name: str = "") -> None:
        from .. import storage

        self.folder = Path(folder)
        self.store = store
        self.prefix = storage.join(store.uri, "phase_b", name) if store is not None else None

    def path(self, name: str) -> Path:
        """A local file of this step (for the driver to write an input into)."""
        return self.folder / name

    def share(self, path: Path, source: str | None = None) -> "str | dict[str, str]":
        """How a task names the input ``path`` the driver has: the path, or its object in the store
        (a file of this step's folder goes under this step's prefix; a local copy of the object
        ``source`` is named by ``source`` itself, with its version, and not uploaded again)."""
        if self.store is None:
            return str(path)
        from .. import storage

        path = Path(path)
        inside = path.parent == self.folder and source is None
        return self.store.share(path, storage.join(self.prefix, path.name) if inside else None, source)

    def out(self, name: str) -> str:
        """Where a task writes its result ``name`` (a file or a folder): a local path or a URI."""
        if self.prefix is None:
            return str(self.folder / name)
        from .. import storage

        return storage.join(self.prefix, name)

    def fetch(self, written: str) -> Path:
        """A result a task wrote (:meth:`out`, or a file under it) as a local file, for the driver."""
        if self.prefix is None:
            return Path(written)
        relative = written[len(self.prefix):].strip("/")
        return self.store.fetch(written, self.folder / relative)


def task_child(folder: str, name: str) -> str:
    """The file ``name`` in the result folder ``folder`` a task was given (a path or a URI)."""
    from .. import storage

    return storage.join(folder, name) if storage.is_remote(folder) else str(Path(folder) / name)


def _cache_folder() -> Path:
    folder = Path(tempfile.gettempdir()) / f"corpusclean-task-cache-{os.getuid()}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _prune_cache(folder: Path) -> None:
    """Remove the cached objects (and their lock files) unused for :data:`CACHE_MAX_AGE`; at most every
    ten minutes per process."""
    now = time.time()
    if now - _pruned["at"] < 600:
        return
    _pruned["at"] = now
    for entry in folder.iterdir():
        try:
            if now - entry.stat().st_mtime > CACHE_MAX_AGE:
                entry.unlink()
        except OSError:
            pass


def task_input(ref: "str | dict[str, str]") -> str:
    """A local path to read a task's input ``ref`` from: the path itself, or the object fetched into
    this node's cache (once per node per object version: the node's processes wait for one fetch)."""
    if isinstance(ref, (str, os.PathLike)):
        return str(ref)
    from .. import storage

    import xxhash

    uri, version = ref["uri"], ref.get("version", "")
    folder = _cache_folder()
    _prune_cache(folder)
    name = xxhash.xxh64(f"{uri}\0{version}".encode()).hexdigest() + "-" + uri.rsplit("/", 1)[-1][-60:]
    path = folder / name
    if not path.exists():
        with open(folder / f".{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not path.exists():
                storage.fetch_object(uri, path)
    try:
        os.utime(path)  # in use: not pruned
    except OSError:
        pass
    return str(path)


#: A task's scratch folder on its node, ``<tempdir>/corpusclean-task-<pid>-*`` (the node's cache,
#: ``corpusclean-task-cache-<uid>``, is no pid's and is never swept as one).
TASK_SCRATCH_PREFIX = "corpusclean-task-"
_SWEPT: list[bool] = []


@contextmanager
def task_output(ref: str) -> Iterator[Path]:
    """A local path to write a task's result ``ref`` to: the path itself (write it atomically), or a
    scratch file of this node uploaded to the URI ``ref`` when the block ends (one whole object)."""
    from .. import storage

    if not storage.is_remote(ref):
        Path(ref).parent.mkdir(parents=True, exist_ok=True)
        yield Path(ref)
        return
    if not _SWEPT:  # once per worker process: the scratch of this node's workers killed in a task
        storage.remove_dead_folders(TASK_SCRATCH_PREFIX)
        _SWEPT.append(True)
    scratch = Path(tempfile.mkdtemp(prefix=f"{TASK_SCRATCH_PREFIX}{os.getpid()}-"))
    try:
        path = scratch / ref.rsplit("/", 1)[-1]
        yield path
        storage.upload_file(path, ref)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
