"""Local executor: phase-A shards in a process pool.

Each worker rebuilds the :class:`~corpusclean.clean.Context` once from its JSON (config values and
LSH band shape; rule packs compile once per process, not per file), processes a whole shard and
writes its tables itself, so rows never travel back through the parent and memory stays bounded by
the shard, not the corpus.
Shards finish in any order; phase B sorts, so the output does not depend on the worker count.

Workers are *spawned*, not forked: the parent has used polars (and numba) threads by then, and a
forked child can inherit a lock held by a thread that does not exist in it and hang for ever (polars
documents this; it happened here with four shards on two workers).
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable

from ..shards import Shard, process_shard


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


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
    with ProcessPoolExecutor(max_workers=min(workers, len(shards)), mp_context=spawn) as pool:
        futures = [pool.submit(process_shard, shard, context_json, str(shards_dir)) for shard in shards]
        for future in as_completed(futures):
            index, _ = future.result()
            if on_done:
                on_done(by_index[index])
