"""Ray executor: the same phase-A shards as the local executor, run as a Ray Data ``map_batches``.

Each Ray task receives shard descriptions (plain strings, cheap to ship; a piece of a large JSONL
file as its line range), runs :func:`corpusclean.shards.process_shard` — the very function the local
process pool runs — and returns one summary row per shard. Shard tables are written by the workers
under ``OUT/_work/shards``, so on a cluster ``OUT`` must be on storage every node sees (NFS or
similar); phase B then reads those files on the driver. Resumption works as locally: shards already finished are not submitted.

When this run started its Ray job itself, a worker process settles before its first shard, as in the
local pool (:func:`corpusclean.executors.local.settle_worker`); in a job of the caller's, the workers
may run the caller's tasks too, whose objects must stay collectable.

``address=None`` starts a private local Ray (``num_cpus`` CPUs, no dashboard, node address 127.0.0.1)
and shuts it down after the run. Ray 2.60 still gives the node the machine's routable address and its
servers listen on all interfaces: what keeps it private is token authentication, which Ray turns on
for a Ray that ``ray.init()`` starts unless ``RAY_AUTH_MODE`` says otherwise (generating
``~/.ray/auth_token`` if missing).

An address joins an existing cluster, which is left running: the head's GCS address (``head:6379``),
``auto`` on a node of the cluster, or ``ray://head:10001`` through Ray Client (which needs
``ray[client]`` besides the ``[ray]`` extra). A cluster with token authentication is joined with an
explicit address only when this process has ``RAY_AUTH_MODE=token`` and the token (``RAY_AUTH_TOKEN``,
``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token``): Ray turns token authentication on by itself only
for ``auto``. A refused or unreachable cluster is a :class:`~corpusclean.errors.UsageError` saying so.

Fault tolerance: a shard task whose worker process dies (``kill -9``, the out-of-memory killer, a node
lost) is run again on any node, by Ray Data's own default for its tasks (``max_retries=-1``: without
limit); a shard is written atomically, so a half-written one is never seen, and a retry that finds
the shard already in place keeps that copy. An exception in a shard (a bug, a full disk) is not
retried (Ray Data retries only Ray's system errors): it ends the run, which resumes from the shards
already done. A shard that kills its worker every time is therefore retried until the run is stopped
(Ctrl-C); Ray's logs (``/tmp/ray/session_latest/logs`` on each node) say why. A bound would need
``map_batches(..., max_retries=N)``, which Ray 2.60 deprecates (``**ray_remote_args``, removed in
2.64). ``tests/test_ray_cluster.py`` kills a worker in a shard and checks the tables.

Needs the optional extra: ``pip install corpusclean[ray]``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import astuple
from pathlib import Path
from typing import Callable

from ..errors import UsageError
from ..readers.discover import InputFile, Piece
from ..shards import Shard, process_shard
from ..storage import input_path
from .local import settle_worker

_SETTLED: set[str] = set()  # the contexts this worker process has settled for


def _describe(shard: Shard) -> dict[str, object]:
    return {"index": shard.index, "name": shard.name,
            "paths": [str(f.path) for f in shard.files],
            "source_paths": [f.source_path for f in shard.files],
            "folder_outlets": [f.folder_outlet or "" for f in shard.files],
            # a JSONL piece as "index,count,start,end,file_bytes" ("" for a whole file): plain strings
            "pieces": [",".join(map(str, astuple(f.piece))) if f.piece else "" for f in shard.files]}


def _piece(text: str) -> Piece | None:
    return Piece(*map(int, text.split(","))) if text else None


def _process_batch(batch: dict, context_json: str, shards_dir: str, settle: bool) -> dict[str, list]:
    if settle and context_json not in _SETTLED:  # once per worker process, like the local pool's initializer
        settle_worker(context_json)
        _SETTLED.add(context_json)
    indexes, counts = [], []
    for i in range(len(batch["index"])):
        files = tuple(InputFile(input_path(str(path)), source, outlet or None, _piece(str(piece))) for path, source, outlet, piece
                      in zip(batch["paths"][i], batch["source_paths"][i], batch["folder_outlets"][i], batch["pieces"][i]))
        index, done = process_shard(Shard(int(batch["index"][i]), files, str(batch["name"][i])), context_json, shards_dir)
        indexes.append(index)
        counts.append(done)
    return {"index": indexes, "files": counts}


def _quiet_ray() -> None:
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)


def init_ray(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Connect this process to Ray unless it is already: to the cluster at ``address``, or to a private
    local Ray started here (``num_cpus`` CPUs). Returns whether this call did it (then the caller
    calls ``ray.shutdown()`` when done)."""
    import ray

    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # Ray's own notices (token authentication, progress bars, "execution finished") would mix into
    # the tool's output; errors still show, and everything is in Ray's session logs
    _quiet_ray()
    if address:
        try:
            ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
        except ConnectionError as error:
            # Ray retries for about 20 s, then says only that it failed; a wrong token is the usual cause
            raise UsageError(
                f"cannot join the Ray cluster at {address}: {error}. If the cluster uses token "
                "authentication, set RAY_AUTH_MODE=token and give its token (RAY_AUTH_TOKEN, "
                "RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token)") from None
    else:
        ray.init(num_cpus=num_cpus, include_dashboard=False, _node_ip_address="127.0.0.1",
                 log_to_driver=False, logging_level=logging.ERROR)
    _quiet_ray()
    return True


def run_shards_ray(shards: list[Shard], context_json: str, shards_dir: Path, address: str | None = None,
                   num_cpus: int | None = None, on_done: Callable[[Shard], None] | None = None) -> None:
    """Process ``shards`` on Ray Data; see the module docstring for local versus cluster use."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise UsageError("--engine ray needs Ray: pip install 'corpusclean[ray]'") from None
    if not shards:
        return
    started_here = init_ray(address, num_cpus)
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        by_index = {shard.index: shard for shard in shards}
        dataset = ray.data.from_items([_describe(shard) for shard in shards], override_num_blocks=len(shards))
        results = dataset.map_batches(_process_batch, batch_size=1, batch_format="numpy",
                                      fn_kwargs={"context_json": context_json, "shards_dir": str(shards_dir),
                                                 "settle": started_here})
        for row in results.iter_rows():
            if on_done:
                on_done(by_index[int(row["index"])])
    finally:
        if started_here:
            ray.shutdown()
