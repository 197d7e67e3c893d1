"""Local executor: phase A over input files in a process pool.

Each worker rebuilds the :class:`~corpusclean.clean.Context` once from the config's JSON (rule packs
compile once per process, not per file) and returns plain row lists. Results come back as they finish
so the progress bar moves; the pipeline sorts the tables afterwards, so the output does not depend on
the worker count or on completion order.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable, Iterator

from ..clean import Rows, clean_file, context_from_json
from ..readers.discover import InputFile


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _clean_batch(files: list[InputFile], values_json: str) -> tuple[list[InputFile], Rows]:
    context = context_from_json(values_json)
    rows = Rows()
    for file in files:
        rows.extend(clean_file(file, context))
    return files, rows


def map_files(files: list[InputFile], values_json: str, workers: int,
              on_done: Callable[[list[InputFile]], None] | None = None) -> Iterator[Rows]:
    """Yield the phase-A rows of ``files``, in batches, using ``workers`` processes (1: in this one)."""
    batch_size = max(1, min(64, len(files) // (workers * 8) or 1))
    batches = [files[i:i + batch_size] for i in range(0, len(files), batch_size)]
    if workers <= 1 or len(batches) <= 1:
        for batch in batches:
            done, rows = _clean_batch(batch, values_json)
            if on_done:
                on_done(done)
            yield rows
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_clean_batch, batch, values_json) for batch in batches]
        for future in as_completed(futures):
            done, rows = future.result()
            if on_done:
                on_done(done)
            yield rows
