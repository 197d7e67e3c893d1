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
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable

import polars as pl

from ..clean import context_from_json
from ..dedup.fingerprints import fingerprint_table
from ..shards import Shard, process_shard


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


def run_shards(shards: list[Shard], context_json: str, shards_dir: Path, workers: int,
               on_done: Callable[[Shard], None] | None = None) -> None:
    """Process ``shards`` with ``workers`` processes (1: in this process), calling ``on_done`` per shard."""
    if workers <= 1 or len(shards) <= 1:
        for shard in shards:
            process_shard(shard, context_json, str(shards_dir))
            if on_done:
                on_done(shard)
        return
    by_index = {shard.index: shard for shard in shards}
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(shards)), mp_context=spawn,
                             initializer=settle_worker, initargs=(context_json,)) as pool:
        futures = [pool.submit(process_shard, shard, context_json, str(shards_dir)) for shard in shards]
        for future in as_completed(futures):
            index, _ = future.result()
            if on_done:
                on_done(by_index[index])
