"""Local executor: phase-A shards in a process pool.

Each worker rebuilds the :class:`~corpusclean.clean.Context` once from its JSON (config values and
LSH band shape; rule packs compile once per process, not per file), processes a whole shard and
writes its tables itself, so rows never travel back through the parent and memory stays bounded by
the shard, not the corpus.
Shards finish in any order; phase B sorts, so the output does not depend on the worker count.
The pieces of a large JSONL file come as shards too (:mod:`corpusclean.shards`), submitted in line
order, so each worker gets its pieces of one file in increasing order and, for a gzipped file, goes on
decompressing the stream it left open instead of starting again (:mod:`corpusclean.readers.records`).

Workers are *spawned*, not forked: the parent has used polars (and numba) threads by then, and a
forked child can inherit a lock held by a thread that does not exist in it and hang for ever (polars
documents this; it happened here with four shards on two workers).

A worker settles before its first shard (:func:`settle_worker`): it builds the context, loads the
compiled fingerprint kernels, then hides every object made so far from Python's cyclic garbage
collector. Those are the imported modules of polars, numba, scipy, trafilatura and our rule packs,
hundreds of thousands of objects that never die; each full collection walked them all again. On the
text pages of ``benchmarks/crawl.py`` that was 11 % of a worker's time (0.34-0.41 of 3.1-3.3 s for
eight shards), and a worker's exit, which frees everything, took 0.26 s instead of 0.05 s.

Stopping (issue 13). Leaving the pool's ``with`` block waits for every queued shard, so Ctrl-C used to
let two workers go on through the whole queue (70 s once) behind a frozen progress bar. Now any
exception out of the loop (:class:`~corpusclean.interrupts.Interrupted` for SIGINT and SIGTERM)
cancels the queue and SIGKILLs the workers: they hold nothing to save, a shard being written is a
hidden temporary folder the next start removes. Workers ignore SIGINT and SIGTERM, so a Ctrl-C that
the terminal sends to the whole process group (or a ``timeout``/systemd SIGTERM to all of it) reaches
only the parent, which decides, instead of spraying tracebacks or breaking the pool under it; they are
started with both signals blocked (the mask survives fork and exec) so that also holds while they
import. Workers never outlive the parent, even after ``kill -9``: on Linux ``PR_SET_PDEATHSIG``
(SIGKILL), elsewhere too a thread that watches ``os.getppid()``. The death signal is tied to the
parent *thread* that started the worker; in Python 3.11 (to 3.13) that is the caller of ``submit()``,
which stays in :func:`run_shards` while the pool lives (the pool's manager thread starts workers only
to replace ones that exit, which ``max_tasks_per_child`` alone would cause).
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import polars as pl

from ..clean import context_from_json
from ..dedup.fingerprints import fingerprint_table
from ..interrupts import STOP_SIGNALS, deferred
from ..shards import Shard, finished, process_shard

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def settle_worker(context_json: str) -> None:
    """Pool initializer: make what every shard needs, then freeze it out of the garbage collector.

    ``gc.freeze()`` moves all objects tracked so far into a permanent generation that collections skip
    (see the module docstring for why); objects a shard makes later are collected as usual.
    """
    context = context_from_json(context_json)  # rule packs compile here, once per process
    warm_up = pl.DataFrame({"paragraph_id": ["warm-up"], "text": ["one two three four five six"]})
    fingerprint_table(warm_up, context.config.section("dedup"), context.bands)  # loads numba's cached kernels
    gc.freeze()


def _die_with_parent(parent_pid: int) -> None:
    """End this worker when the process that started it dies (see the module docstring)."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no libc prctl: the thread below does it
            pass
    if os.getppid() != parent_pid:  # the parent died before the death signal was set
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="corpusclean-parent-watch", daemon=True).start()


def _start_worker(context_json: str, parent_pid: int) -> None:
    """Pool initializer: ignore the stop signals (the parent stops the pool), die with the parent,
    then :func:`settle_worker`."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # blocked by _spawning, now ignored
    _die_with_parent(parent_pid)
    settle_worker(context_json)


@contextmanager
def _spawning() -> Iterator[None]:
    """Where the pool starts its workers: they inherit SIGINT and SIGTERM blocked, and a signal to
    this process takes effect (as ``Interrupted``) after the block, not in the middle of
    starting a worker the pool has not registered yet."""
    with deferred():
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            yield
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel what is queued and SIGKILL the workers; returns once they are gone (well under 1 s)."""
    processes = list((pool._processes or {}).values())
    manager = pool._executor_manager_thread
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.kill()
    deadline = time.monotonic() + 1.0
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
    if manager is not None:  # it sees the workers gone, fails the futures and ends
        manager.join(max(0.0, deadline - time.monotonic()))


def run_shards(shards: list[Shard], context_json: str, shards_dir: Path, workers: int,
               on_done: Callable[[Shard], None] | None = None, finished_before: int | None = None) -> None:
    """Process ``shards`` with ``workers`` processes (1: in this process), calling ``on_done`` per shard.

    On any exception, :class:`~corpusclean.interrupts.Interrupted` (SIGINT, SIGTERM) among them, the
    workers are stopped at once. A ``KeyboardInterrupt`` is given ``done`` of ``total`` shards (as
    found on disk), where ``finished_before`` (default: the finished folders in ``shards_dir`` now)
    count as done, and ``shards_dir``.
    """
    if finished_before is None:
        finished_before = len(finished(shards_dir))
    try:
        if workers <= 1 or len(shards) <= 1:
            for shard in shards:
                process_shard(shard, context_json, str(shards_dir))
                if on_done:
                    on_done(shard)
            return
        by_index = {shard.index: shard for shard in shards}
        spawn = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(max_workers=min(workers, len(shards)), mp_context=spawn,
                                   initializer=_start_worker, initargs=(context_json, os.getpid()))
        try:
            with _spawning():  # submit() starts the workers
                futures = [pool.submit(process_shard, shard, context_json, str(shards_dir)) for shard in shards]
            for future in as_completed(futures):
                index, _ = future.result()
                if on_done:
                    on_done(by_index[index])
        except BaseException:
            _stop_pool(pool)
            raise
        pool.shutdown()
    except KeyboardInterrupt as stop:  # Interrupted, or a plain Ctrl-C where no handler of ours is set
        # counted on disk, the workers being gone: a worker may have renamed a shard into place whose
        # result this process had not received yet
        kept = sum((shards_dir / shard.name).is_dir() for shard in shards)
        stop.done, stop.total, stop.shards_dir = finished_before + kept, finished_before + len(shards), shards_dir
        raise
