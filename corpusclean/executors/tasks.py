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
  reads comes from files named in it (Parquet under ``OUT/_work`` or another folder every worker
  sees), never as frames or arrays carried in the argument; a row filter the task needs is a file the
  driver wrote before submitting.
* the result is small too: counts and the paths of what the task wrote. Its real output goes to files
  (under the folder named in ``item``), which the driver reads back, so per-row data never travels
  through the runner and a retried task just writes its files again (write to a temporary name, then
  rename: a killed attempt leaves no half file where the driver reads).
* a task may run more than once (Ray retries a task whose worker died): it must be idempotent.

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

:func:`task_runner` makes one from a run's ``(engine, workers, address)`` (the ``local`` engine runs
phase B's tasks serially: faster than a pool at the scale measured, see there); runners are context
managers (``close()`` stops the pool or the private Ray).

Example:
    >>> with task_runner("serial") as runner:
    ...     runner.map(abs, [-2, 3])
    [2, 3]
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, Iterable, Protocol, TypeVar

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
                 max_retries: int = MAX_RETRIES) -> None:
        try:
            import ray
        except ImportError:
            raise UsageError("--engine ray needs Ray: pip install 'corpusclean[ray]'") from None
        from .ray_engine import init_ray

        self._ray = ray
        self.max_retries = max_retries
        self.started_here = init_ray(address, workers)  # as run_shards_ray joins or starts Ray
        self.workers = max(1, int(ray.cluster_resources().get("CPU", workers or 1)))
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
        if self.started_here and self._ray.is_initialized():
            self._ray.shutdown()
        self.started_here = False

    def __repr__(self) -> str:
        return f"RayRunner(workers={self.workers})"


def task_runner(engine: str = "serial", workers: int | None = None, address: str | None = None) -> TaskRunner:
    """The runner of a run's ``engine``.

    * ``serial`` and ``local`` (a run's default engine): :class:`SerialRunner`. On allsides-dev (11k
      articles, 16 bands, one hash partition) a pool of 2 took 4-5 s to start its workers (spawn,
      then polars and numba imports) against 1.7-2.1 s of band tasks and 1.6-2.1 s of contained step
      either way; phase B took 10.5-11.2 s serially and 16.4-19.2 s with the pool (2 cores, shared).
    * ``pool``: a :class:`PoolRunner` of ``workers`` processes (default: all cores; one: serial),
      for corpora whose partitions outweigh the pool's start.
    * ``ray``: a :class:`RayRunner` on ``address`` (default: a private local Ray of ``workers``
      CPUs, or the Ray this process has initialized).
    """
    if engine in ("serial", "local"):
        return SerialRunner()
    if engine == "pool":
        workers = workers or default_workers()
        return SerialRunner() if workers <= 1 else PoolRunner(workers)
    if engine == "ray":
        return RayRunner(address=address, workers=workers)
    raise UsageError(f"unknown engine {engine!r}: use {', '.join(ENGINES)}")
