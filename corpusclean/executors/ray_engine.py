"""Ray executor: the same phase-A shards as the local executor, run as a Ray Data ``map_batches``.

Each Ray task receives shard descriptions (plain strings, cheap to ship; a piece of a large JSONL
file as its line range), runs :func:`corpusclean.shards.process_shard` — the very function the local
process pool runs — and returns one summary row per shard. Resumption works as locally: shards already
finished are not submitted.

Where the shard tables go:

* **An object-store output** (``-o s3://bucket/out``; the run's ``store``, ``OUT/_work/shards``): a
  worker writes its shard into a scratch folder of its own node (under the node's temporary folder,
  ``TMPDIR``), uploads it to ``s3://bucket/out/_work/shards/<shard>/`` with a marker object written
  last (:func:`corpusclean.shards.upload_shard`), removes the scratch and returns. The driver then
  fetches each finished shard into its local work folder (:func:`corpusclean.shards.fetch_shard`,
  renamed into place), so phase B and the final write on the driver read local files as for any run.
  No folder is shared between the nodes: no NFS is needed, only the store, which every node reaches
  with its own credentials (``AWS_*`` in the environment of its ``ray start``). A task whose shard has
  its marker already (a retry, or a resumed run whose driver lost its local copy) keeps that copy.
  Phase B's tasks then exchange their files through ``OUT/_work/phase_b/`` too
  (:class:`corpusclean.executors.tasks.TaskStore`).
* **A local output**: the workers write under ``OUT/_work/shards`` directly, so on a cluster ``OUT``
  must be on storage every node sees at the same path (NFS or similar).

When this run started its Ray job itself, a worker process settles before its first shard, as in the
local pool (:func:`corpusclean.executors.local.settle_worker`); in a job of the caller's, the workers
may run the caller's tasks too, whose objects must stay collectable.

``address=None`` starts a private local Ray (``num_cpus`` CPUs, no dashboard, node address 127.0.0.1)
and shuts it down after the run. A whole run (phase A, then phase B's tasks) uses one Ray
(:func:`ray_session`): started once a phase, a private Ray cost its start-up twice
(``tests/test_ray.py``, a run of each engine: 37.0 s, then 21.6 s with one Ray). Ray 2.60 still
gives the node the machine's routable address and its servers listen on all interfaces: what keeps
it private is token authentication, which Ray turns on for a Ray that ``ray.init()`` starts unless
``RAY_AUTH_MODE`` says otherwise (generating ``~/.ray/auth_token`` if missing).

An address joins an existing cluster, which is left running: the head's GCS address (``head:6379``),
``auto`` on a node of the cluster, or ``ray://head:10001`` through Ray Client (which needs
``ray[client]`` besides the ``[ray]`` extra). A cluster with token authentication is joined with an
explicit address only when this process has ``RAY_AUTH_MODE=token`` and the token (``RAY_AUTH_TOKEN``,
``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token``): Ray turns token authentication on by itself only
for ``auto``. A refused or unreachable cluster is a :class:`~corpusclean.errors.UsageError` saying so.

Fault tolerance: a shard task whose worker process dies (``kill -9``, the out-of-memory killer, a node
lost) is run again on any node, by Ray Data's own default for its tasks (``max_retries=-1``: without
limit); a shard is written atomically (a local folder renamed into place; in the store, the marker
last), so a half-written one is never seen, and a retry that finds the shard already in place keeps
that copy. An exception in a shard (a bug, a full disk) is not
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
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import astuple
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterator

from ..errors import UsageError
from ..readers.discover import InputFile, Piece
from ..shards import Shard, fetch_shard, process_shard, shard_done_in_store, upload_shard
from ..storage import input_path, remove_dead_folders
from .local import settle_worker

_SETTLED: set[str] = set()  # the contexts this worker process has settled for
_OWN_JOB = False  # whether this process's Ray job was started by init_ray (not by a caller's ray.init)


def _describe(shard: Shard) -> dict[str, object]:
    return {"index": shard.index, "name": shard.name,
            "paths": [str(f.path) for f in shard.files],
            "source_paths": [f.source_path for f in shard.files],
            "folder_outlets": [f.folder_outlet or "" for f in shard.files],
            # a JSONL piece as "index,count,start,end,file_bytes" ("" for a whole file): plain strings
            "pieces": [",".join(map(str, astuple(f.piece))) if f.piece else "" for f in shard.files]}


def _piece(text: str) -> Piece | None:
    return Piece(*map(int, text.split(","))) if text else None


#: The prefix of a worker's scratch folders (``<tempdir>/corpusclean-shard-<pid>-...``).
SCRATCH_PREFIX = "corpusclean-shard-"


def _shard_to_store(shard: Shard, context_json: str, store: str) -> tuple[int, int, int]:
    """Phase A for one shard in a scratch folder of this node, uploaded to ``store/<shard>/`` (marker
    last). Returns ``(shard index, files done, bytes uploaded)``; a shard whose marker is there
    already (a retry, a resumed run) is kept, not made again."""
    if shard_done_in_store(store, shard.name) is not None:
        return shard.index, len(shard.files), 0
    scratch = tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-")
    try:
        index, done = process_shard(shard, context_json, scratch)
        if shard_done_in_store(store, shard.name) is not None:  # another attempt finished first: keep its copy
            return index, done, 0
        return index, done, upload_shard(Path(scratch) / shard.name, store)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _process_batch(batch: dict, context_json: str, shards_dir: str, settle: bool,
                   store: str | None = None) -> dict[str, list]:
    if settle and context_json not in _SETTLED:  # once per worker process, like the local pool's initializer
        settle_worker(context_json)
        _SETTLED.add(context_json)
    if store and "scratch" not in _SETTLED:  # scratch folders of this node's workers that died in a shard
        remove_dead_folders(SCRATCH_PREFIX)
        _SETTLED.add("scratch")
    indexes, counts, uploaded = [], [], []
    for i in range(len(batch["index"])):
        files = tuple(InputFile(input_path(str(path)), source, outlet or None, _piece(str(piece))) for path, source, outlet, piece
                      in zip(batch["paths"][i], batch["source_paths"][i], batch["folder_outlets"][i], batch["pieces"][i]))
        shard = Shard(int(batch["index"][i]), files, str(batch["name"][i]))
        if store:
            index, done, sent = _shard_to_store(shard, context_json, store)
        else:
            (index, done), sent = process_shard(shard, context_json, shards_dir), 0
        indexes.append(index)
        counts.append(done)
        uploaded.append(sent)
    return {"index": indexes, "files": counts, "bytes": uploaded}


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
    global _OWN_JOB
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
    _OWN_JOB = True
    return True


def shutdown_ray() -> None:
    """End the Ray job :func:`init_ray` started (a private local Ray stops with it)."""
    global _OWN_JOB
    import ray

    if ray.is_initialized():
        ray.shutdown()
    _OWN_JOB = False


def owns_ray_job() -> bool:
    """Whether this process's Ray job is the tool's own (:func:`init_ray`), not a caller's: only then
    may its workers be settled (``gc.freeze``), since a caller's job runs the caller's tasks too."""
    import ray

    return _OWN_JOB and ray.is_initialized()


def require_ray() -> ModuleType:
    """The ``ray`` module, or the one-line error that says how to install it.

    Raises:
        UsageError: Ray is not installed in this environment.
    """
    try:
        import ray
    except ImportError:
        raise UsageError("--engine ray needs Ray: pip install 'corpusclean[ray]'") from None
    return ray


@contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[None]:
    """One Ray for the ``with`` block: joined or started here (:func:`init_ray`) unless this process
    is connected already, and ended at the block's end if it was started here. Phase A
    (:func:`run_shards_ray`) and phase B's :class:`~corpusclean.executors.tasks.RayRunner` inside it
    find Ray initialized and use it, instead of each starting and stopping one.

    Raises:
        UsageError: Ray is not installed, or the cluster at ``address`` refuses or cannot be reached.
    """
    require_ray()
    started_here = init_ray(address, num_cpus)
    try:
        yield
    finally:
        if started_here:
            shutdown_ray()


def run_shards_ray(shards: list[Shard], context_json: str, shards_dir: Path, address: str | None = None,
                   num_cpus: int | None = None, on_done: Callable[[Shard], None] | None = None,
                   store: str | None = None) -> dict[str, int]:
    """Process ``shards`` on Ray Data; see the module docstring for local versus cluster use.

    ``store`` (an object-store prefix, ``OUT/_work/shards`` of an ``s3://`` output): the workers
    upload the shards there and this process fetches each into ``shards_dir`` before ``on_done``;
    without it the workers write into ``shards_dir`` themselves. Returns the bytes moved through the
    store (``uploaded`` by the workers, ``fetched`` here)."""
    moved = {"uploaded": 0, "fetched": 0}
    ray = require_ray()
    import ray.data
    if not shards:
        return moved
    started_here = init_ray(address, num_cpus)
    _quiet_ray()  # Ray Data sets its loggers up when first imported, which may be after init_ray
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        by_index = {shard.index: shard for shard in shards}
        dataset = ray.data.from_items([_describe(shard) for shard in shards], override_num_blocks=len(shards))
        results = dataset.map_batches(_process_batch, batch_size=1, batch_format="numpy",
                                      fn_kwargs={"context_json": context_json,
                                                 # with a store, no path of this machine goes to the workers
                                                 "shards_dir": "" if store else str(shards_dir),
                                                 "settle": owns_ray_job(), "store": store})
        for row in results.iter_rows():
            shard = by_index[int(row["index"])]
            if store:
                moved["uploaded"] += int(row["bytes"])
                moved["fetched"] += fetch_shard(store, shard.name, shards_dir)
            if on_done:
                on_done(shard)
        return moved
    finally:
        if started_here:
            shutdown_ray()
