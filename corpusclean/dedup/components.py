"""Connected components of an edge list that no process holds whole: rounds of maps over partitions.

:func:`.clusters.components` builds components in one process with scipy, which needs every edge in
memory at once. Here the edges live in hash-partitioned Parquet files and each step is a *map over
partitions*: a task reads the files of one partition, joins and groups them with polars, and writes
its output rows into the partitions of the next step (a shuffle through files). The driver only
launches tasks and adds up the small counts they return; it never sees a node or an edge. Any
``map_fn(func, items) -> list`` that calls ``func(*item)`` runs the tasks: :func:`serial_map` in this
process by default, a process pool or Ray for a cluster (:func:`apply_task` adapts a runner whose
``map`` calls ``func(item)``).

Algorithm: random-mate contraction (Reif 1985; the leader contraction of PRAM connectivity), chosen
over the alternating large-star/small-star of Kiveris et al. (2014) because its bound has a short
complete proof, stated below, while for the star operations the proven bound is polylogarithmic
(O(log² n)) and O(log n) is what is observed.

**A round** ``t`` works on a graph ``G_t`` whose nodes are original node ids (``G_0`` is the input).
Every node draws a coin, *leader* or *follower*, from a hash of (node, seed, round): any task computes
any node's coin, so no coin is ever stored or sent. Each follower with at least one leader neighbour
*hooks* to the smallest such leader; leaders and the other followers stay. Every edge ``(u, v)`` then
becomes ``(p(u), p(v))`` (``p`` the node hooked to, or the node itself); self-loops and duplicates
go. A leader never hooks, so hooks form stars of depth one and ``G_{t+1}`` is ``G_t`` with each star
contracted to its leader: the components are the same, one node fewer per hook. Two maps make a round:

1. ``hook`` (edges partitioned by source ``u``): a task holds all edges out of its nodes, so it
   decides their hooks, rewrites ``u`` to ``p(u)`` and sends each edge, reversed, to the partition
   of ``v``; it also writes its hooks, by node and by parent.
2. ``relabel`` (edges partitioned by ``v``): a task reads the hooks of its own nodes, rewrites ``v``
   to ``p(v)``, drops self-loops and duplicates and sends each edge to the partition of its source.

Edges are stored in both directions, so both ends of an edge see it.

**Convergence and the round bound.** Let ``N_t`` be the number of nodes of ``G_t`` with an edge to
another node. Such a node hooks with probability ≥ 1/4 (it is a follower, 1/2, and a given neighbour
is a leader, 1/2, independently), a hooked node is gone, and no node gains an edge it did not have, so
``E[N_{t+1} | G_t] ≤ 3/4 · N_t`` and ``E[N_t] ≤ (3/4)^t · n``. The rounds stop when ``N_t = 0``
(no edge left), so by Markov ``P(T > t) = P(N_t ≥ 1) ≤ n · (3/4)^t``: with probability ≥ 1 - δ,

    T ≤ ⌈log_{4/3}(n / δ)⌉          (:func:`round_bound`; 97 rounds for n = 10⁶, δ = 10⁻⁶)

and ``E[T] = Σ_t P(T > t) ≤ log_{4/3} n + 5``. That is O(log n) rounds, whatever the graph's
diameter (label propagation needs as many rounds as the diameter: n - 1 on a chain). While an
edge is left a round hooks with probability ≥ 1/4, so the rounds end with probability 1. On a chain a
node hooks with probability 3/8 (both neighbours count), so a chain takes about log_{8/5} n rounds.
The coins are pseudo-random (splitmix64), the usual stand-in for the fair coins of the proof.

**Labels.** The hooks of round ``t`` are resolved last to first (one map per round): a node hooked
at ``t`` gets the root of its parent, which is known because the parent was alive at ``t + 1``.
Three more maps turn roots into the smallest node id of each component (``label``) without sending
the nodes to their root's partition, which would put a giant component in one task: each partition
sends, for each root among its nodes, its smallest node (a partial minimum); the
root's partition takes the minimum of those (one row a partition) and sends the name back to the
partitions that asked, which join it to their nodes.
So labels are deterministic and do not depend on the seed, the partitions or the coins: they equal a
canonical relabelling of scipy's (each component named by its smallest node).

**What a task holds.** A ``hook`` or ``relabel`` task holds the edges of its partition: about
``2m_t / P`` rows of two int64 (``m_t`` the edges left at round ``t``, ``P`` the partitions) plus
the skew of a high-degree node, whose edges share a partition. A resolving task holds the hooks
whose parent is in its partition and the roots already known there (≤ nodes / P, about); the label
tasks hold one partition of (node, root) rows, or one row a (root, partition) pair. Counts only
travel back to the driver.

File I/O is :func:`_read` and :func:`_write` (and :func:`_remove` for cleaning up), the one place
to change for object-store URIs. A stage's partition ``q`` is the folder ``<stage>/p<q>``; the task
that wrote a file is in its name, so tasks never write the same file and reruns of a task overwrite.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from glob import glob
from typing import Any, Callable, Sequence

import numpy as np
import polars as pl

#: ``map_fn(func, items)`` runs ``func(*item)`` for every item and returns the results in order.
MapFn = Callable[[Callable[..., dict], Sequence[tuple]], list]

_EDGES = {"src": pl.Int64, "dst": pl.Int64}
_HOOKS = {"node": pl.Int64, "parent": pl.Int64}
_ROOTS = {"node": pl.Int64, "root": pl.Int64}
_LABELS = {"node": pl.Int64, "label": pl.Int64}
_MINIMA = {"root": pl.Int64, "label": pl.Int64, "source": pl.Int64}
_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def serial_map(func: Callable[..., dict], items: Sequence[tuple]) -> list:
    """Run the tasks one after another in this process (the default ``map_fn``)."""
    return [func(*item) for item in items]


def apply_task(call: tuple[Callable[..., dict], tuple]) -> dict:
    """``func(*args)`` of ``call = (func, args)``: for a runner whose ``map`` calls ``func(item)``,
    pass ``map_fn=lambda f, items: runner.map(apply_task, [(f, a) for a in items])``."""
    func, args = call
    return func(*args)


def round_bound(n: int, delta: float = 1e-6) -> int:
    """Rounds within which the contraction of a graph of ``n`` nodes ends with probability ≥ 1 - δ.

    >>> round_bound(10**6)
    97
    """
    return max(1, math.ceil(math.log(max(n, 1) / delta) / math.log(4 / 3)))


@dataclass(frozen=True)
class RoundStats:
    """Counts of one contraction round (directed edge rows: each undirected edge is two)."""

    edges_in: int
    hooked: int
    edges_out: int


@dataclass(frozen=True)
class Components:
    """Where the labels are and what it took. ``labels_dir`` holds (node, label) partitioned by node."""

    labels_dir: str
    partitions: int
    nodes: int
    components: int
    rounds: int
    maps: int
    history: tuple[RoundStats, ...]
    #: the most rows one task read (edge, hook or root rows of two int64)
    max_task_rows: int
    #: the most bytes (polars ``estimated_size``) of the frames one task held, inputs and outputs
    max_task_bytes: int


# --- file I/O: the only functions that touch storage --------------------------------------------

def _read(paths: Sequence[str], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """The rows of these Parquet files (or folders of them), with exactly ``schema``'s columns."""
    files = sorted(f for p in paths for f in ([p] if p.endswith(".parquet") else glob(os.path.join(p, "*.parquet"))))
    if not files:
        return pl.DataFrame(schema=schema)
    return pl.read_parquet(files, columns=list(schema)).cast(schema)


def _write(frame: pl.DataFrame, key: str, stage: str, partitions: int, source: int, by_value: bool = False) -> None:
    """Send each row of ``frame`` to partition ``hash(row[key]) % partitions`` of ``stage`` (to
    partition ``row[key]`` itself with ``by_value``)."""
    where = frame[key].to_numpy() if by_value else partition_of(frame[key].to_numpy(), partitions)
    buckets = frame.with_columns(pl.Series("_bucket", where, dtype=pl.Int64))
    for (bucket,), rows in buckets.partition_by("_bucket", as_dict=True).items():
        folder = _part(stage, int(bucket))
        os.makedirs(folder, exist_ok=True)
        rows.drop("_bucket").write_parquet(os.path.join(folder, f"from-{source:05d}.parquet"))


def _remove(stage: str) -> None:
    shutil.rmtree(stage, ignore_errors=True)


def _part(stage: str, index: int) -> str:
    return os.path.join(stage, f"p{index:05d}")


# --- hashing -------------------------------------------------------------------------------------

def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64 of each value (uint64 arithmetic wraps, as the mixer wants)."""
    z = np.asarray(values).astype(np.int64).view(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def partition_of(nodes: np.ndarray, partitions: int) -> np.ndarray:
    """The partition of each node id: a hash, so consecutive ids spread over all partitions."""
    return (_mix(nodes) % np.uint64(partitions)).astype(np.int64)


def _leader(nodes: np.ndarray, seed: int, round_: int) -> np.ndarray:
    salt = int(_mix(np.array([seed * 1_000_003 + round_]))[0] & _M64)
    return (_mix(np.asarray(nodes).astype(np.int64).view(np.uint64) ^ np.uint64(salt)) >> np.uint64(63)) == 1


# --- tasks (module-level, plain arguments, small dicts back) -------------------------------------

def _stage(work_dir: str, name: str, round_: int | None = None) -> str:
    return os.path.join(work_dir, name if round_ is None else f"{name}-{round_:03d}")


def ingest_task(path: str, work_dir: str, source: int, partitions: int, left: str, right: str) -> dict:
    """Input file ``source`` → edge rows in both directions, partitioned by source node."""
    edges = pl.read_parquet(path, columns=[left, right]).select(
        pl.col(left).cast(pl.Int64).alias("src"), pl.col(right).cast(pl.Int64).alias("dst"))
    both = pl.concat([edges, edges.select(pl.col("dst").alias("src"), pl.col("src").alias("dst"))])
    _write(both, "src", _stage(work_dir, "edges", 0), partitions, source)
    return {"edges": edges.height, "rows": both.height, "held": both.height, "bytes": both.estimated_size()}


def hook_task(work_dir: str, part: int, partitions: int, round_: int, seed: int) -> dict:
    """Round ``round_``, map 1, partition ``part``: hooks of its nodes; edges rewritten at the source."""
    edges = _read([_part(_stage(work_dir, "edges", round_), part)], _EDGES).unique()
    leader = _leader(edges["dst"].to_numpy(), seed, round_)
    follower = ~_leader(edges["src"].to_numpy(), seed, round_)
    marked = edges.with_columns(pl.Series("_to_leader", leader & follower))
    hooks = (marked.filter(pl.col("_to_leader")).group_by("src").agg(pl.col("dst").min().alias("parent"))
             .rename({"src": "node"}))
    moved = (marked.join(hooks, left_on="src", right_on="node", how="left")
             .select(pl.col("dst").alias("src"), pl.coalesce("parent", "src").alias("dst")))
    _write(hooks, "node", _stage(work_dir, "hooks", round_), partitions, part)
    _write(hooks, "parent", _stage(work_dir, "parents", round_), partitions, part)
    _write(moved, "src", _stage(work_dir, "moved", round_), partitions, part)
    return {"edges_in": edges.height, "hooked": hooks.height, "held": edges.height,
            "bytes": edges.estimated_size() + marked.estimated_size() + moved.estimated_size()}


def relabel_task(work_dir: str, part: int, partitions: int, round_: int) -> dict:
    """Round ``round_``, map 2, partition ``part``: the other end rewritten; the next round's edges."""
    moved = _read([_part(_stage(work_dir, "moved", round_), part)], _EDGES)
    hooks = _read([_part(_stage(work_dir, "hooks", round_), part)], _HOOKS)
    edges = (moved.join(hooks, left_on="src", right_on="node", how="left")
             .select(pl.coalesce("parent", "src").alias("src"), "dst")
             .filter(pl.col("src") != pl.col("dst")).unique())
    _write(edges, "src", _stage(work_dir, "edges", round_ + 1), partitions, part)
    return {"edges_out": edges.height, "held": moved.height + hooks.height,
            "bytes": moved.estimated_size() + hooks.estimated_size() + edges.estimated_size()}


def finish_task(work_dir: str, partitions: int, round_: int) -> dict:
    """The last round in one task, for a graph already small (``local_below``): every node hooks to
    its component's smallest node (scipy), written as the round's hooks."""
    from .clusters import components

    edges = _read([_part(_stage(work_dir, "edges", round_), p) for p in range(partitions)], _EDGES).unique()
    nodes = pl.concat([edges["src"], edges["dst"]]).unique().sort()
    src, dst = nodes.search_sorted(edges["src"]).to_numpy(), nodes.search_sorted(edges["dst"]).to_numpy()
    groups = pl.DataFrame({"node": nodes, "_group": components(len(nodes), src, dst)})
    hooks = (groups.with_columns(pl.col("node").min().over("_group").alias("parent"))
             .filter(pl.col("node") != pl.col("parent")).select("node", "parent"))
    _write(hooks, "parent", _stage(work_dir, "parents", round_), partitions, 0)
    return {"edges_in": edges.height, "hooked": hooks.height, "held": edges.height,
            "bytes": edges.estimated_size() + groups.estimated_size() + hooks.estimated_size()}


def resolve_task(work_dir: str, part: int, partitions: int, round_: int, rounds: int) -> dict:
    """Roots of the nodes hooked at ``round_`` whose parent is in partition ``part``."""
    hooks = _read([_part(_stage(work_dir, "parents", round_), part)], _HOOKS)
    later = _read([_part(_stage(work_dir, "roots", t), part) for t in range(round_ + 1, rounds)], _ROOTS)
    roots = (hooks.join(later, left_on="parent", right_on="node", how="left")
             .select("node", pl.coalesce("root", "parent").alias("root")))
    _write(roots, "node", _stage(work_dir, "roots", round_), partitions, part)
    return {"resolved": roots.height, "held": hooks.height + later.height,
            "bytes": hooks.estimated_size() + later.estimated_size()}


def gather_task(work_dir: str, part: int, partitions: int, rounds: int) -> dict:
    """Every node of partition ``part`` with its root (kept here); the smallest of them for each root
    sent to the root's partition, with ``part`` to answer to."""
    nodes = _read([_part(_stage(work_dir, "edges", 0), part)], _EDGES).select(pl.col("src").alias("node")).unique()
    roots = _read([_part(_stage(work_dir, "roots", t), part) for t in range(rounds)], _ROOTS)
    rooted = nodes.join(roots, on="node", how="left").select("node", pl.coalesce("root", "node").alias("root"))
    minima = rooted.group_by("root").agg(pl.col("node").min().alias("label")).with_columns(
        pl.lit(part, dtype=pl.Int64).alias("source"))
    _write(rooted, "node", _stage(work_dir, "rooted"), partitions, part)
    _write(minima, "root", _stage(work_dir, "minima"), partitions, part)
    return {"nodes": rooted.height, "held": nodes.height + roots.height,
            "bytes": nodes.estimated_size() + roots.estimated_size() + rooted.estimated_size()}


def label_task(work_dir: str, part: int, partitions: int) -> dict:
    """Each component whose root is in partition ``part`` named by its smallest node, sent back to
    the partitions that have its nodes (at most one row a root and partition: no component skew)."""
    minima = _read([_part(_stage(work_dir, "minima"), part)], _MINIMA)
    named = minima.with_columns(pl.col("label").min().over("root"))
    _write(named, "source", _stage(work_dir, "named"), partitions, part, by_value=True)
    return {"components": minima["root"].n_unique(), "held": minima.height,
            "bytes": minima.estimated_size() + named.estimated_size()}


def finish_labels_task(work_dir: str, part: int, partitions: int) -> dict:
    """The labels of partition ``part``'s nodes: their roots' names."""
    rooted = _read([_part(_stage(work_dir, "rooted"), part)], _ROOTS)
    named = _read([_part(_stage(work_dir, "named"), part)], _MINIMA).select("root", "label")
    labels = rooted.join(named, on="root", how="left").select("node", "label")
    _write(labels, "node", _stage(work_dir, "labels"), partitions, part)
    return {"nodes": labels.height, "held": rooted.height + named.height,
            "bytes": rooted.estimated_size() + named.estimated_size() + labels.estimated_size()}


# --- driver ---------------------------------------------------------------------------------------

def connected_components(edges_dir: str, work_dir: str, partitions: int, map_fn: MapFn = serial_map,
                         seed: int = 0, left: str = "left", right: str = "right",
                         keep_intermediate: bool = False, local_below: int = 0) -> Components:
    """Components of the undirected edges in the Parquet files under ``edges_dir``.

    Each file has integer columns ``left`` and ``right`` (any partitioning; one ingest task a file).
    ``work_dir`` must be empty or missing; the labels end in ``<work_dir>/labels``, partitioned by
    node (:func:`read_labels`). Only nodes that are in some edge (self-loops included) get a label.
    Once at most ``local_below`` edge rows are left (two a distinct edge), one task finishes them in
    memory (:func:`finish_task`): that cuts the tail of rounds that each map over every partition
    to contract a few small components, at a memory cost bounded by ``local_below`` rows.
    """
    if partitions < 1:
        raise ValueError("partitions must be at least 1")
    if os.path.isdir(work_dir) and os.listdir(work_dir):
        raise ValueError(f"work_dir {work_dir!r} is not empty")
    os.makedirs(work_dir, exist_ok=True)
    files = sorted(glob(os.path.join(edges_dir, "**", "*.parquet"), recursive=True))
    parts = range(partitions)
    done = map_fn(ingest_task, [(path, work_dir, i, partitions, left, right) for i, path in enumerate(files)])
    maps, tasks = 1, list(done)
    edges = sum(d["rows"] for d in done)
    limit = round_bound(max(edges, 1), 1e-12)
    history: list[RoundStats] = []
    while edges:
        if len(history) >= limit:  # probability < 1e-12 with fair coins: a broken hash, not bad luck
            raise RuntimeError(f"no convergence in {limit} rounds")
        t = len(history)
        if edges <= local_below:
            finished = map_fn(finish_task, [(work_dir, partitions, t)])
            tasks += finished
            maps += 1
            history.append(RoundStats(finished[0]["edges_in"], finished[0]["hooked"], 0))
            break
        hooked = map_fn(hook_task, [(work_dir, p, partitions, t, seed) for p in parts])
        relabelled = map_fn(relabel_task, [(work_dir, p, partitions, t) for p in parts])
        maps += 2
        tasks += hooked + relabelled
        edges = sum(d["edges_out"] for d in relabelled)
        history.append(RoundStats(sum(d["edges_in"] for d in hooked), sum(d["hooked"] for d in hooked), edges))
        if not keep_intermediate:
            for name in ("moved", "hooks") + (("edges",) if t else ()):
                _remove(_stage(work_dir, name, t))
    rounds = len(history)
    if not keep_intermediate:
        for t in {rounds - 1, rounds} - {0}:
            _remove(_stage(work_dir, "edges", t))
    for t in reversed(range(rounds)):
        resolved = map_fn(resolve_task, [(work_dir, p, partitions, t, rounds) for p in parts])
        maps += 1
        tasks += resolved
    gathered = map_fn(gather_task, [(work_dir, p, partitions, rounds) for p in parts])
    named = map_fn(label_task, [(work_dir, p, partitions) for p in parts])
    labelled = map_fn(finish_labels_task, [(work_dir, p, partitions) for p in parts])
    maps += 3
    tasks += gathered + named + labelled
    if not keep_intermediate:
        for t in range(rounds):
            _remove(_stage(work_dir, "parents", t))
            _remove(_stage(work_dir, "roots", t))
        for name in ("rooted", "minima", "named"):
            _remove(_stage(work_dir, name))
        _remove(_stage(work_dir, "edges", 0))
    labels_dir = _stage(work_dir, "labels")
    os.makedirs(labels_dir, exist_ok=True)
    return Components(labels_dir, partitions, sum(d["nodes"] for d in labelled),
                      sum(d["components"] for d in named), rounds, maps, tuple(history),
                      max(d["held"] for d in tasks), max(d["bytes"] for d in tasks))


def read_labels(labels_dir: str, partitions: int) -> pl.DataFrame:
    """All (node, label) rows, sorted by node (a convenience for tests and small graphs)."""
    return _read([_part(labels_dir, p) for p in range(partitions)], _LABELS).sort("node")


def component_labels(n: int, left: Sequence[int] | np.ndarray, right: Sequence[int] | np.ndarray,
                     partitions: int = 4, work_dir: str | None = None, map_fn: MapFn = serial_map,
                     seed: int = 0, details: bool = False, local_below: int = 0) -> Any:
    """The label (smallest node id of its component) of each of ``n`` nodes under edges
    ``left[i]-right[i]``, through :func:`connected_components` and Parquet files in ``work_dir``
    (a temporary folder by default). With ``details``, also its :class:`Components`.

    >>> component_labels(6, [0, 4, 3, 2], [2, 3, 5, 2]).tolist()
    [0, 1, 0, 3, 3, 3]
    """
    left_ids, right_ids = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
    if len(left_ids) != len(right_ids):
        raise ValueError("left and right differ in length")
    if len(left_ids) and (min(left_ids.min(), right_ids.min()) < 0 or max(left_ids.max(), right_ids.max()) >= n):
        raise ValueError("node ids must be in [0, n)")
    with tempfile.TemporaryDirectory(prefix="components-") as scratch:
        base = work_dir if work_dir is not None else scratch
        inputs, work = os.path.join(base, "input"), os.path.join(base, "work")
        os.makedirs(inputs, exist_ok=True)
        # the input as ``partitions`` files (by left end), as a partitioned edge list would come
        _write(pl.DataFrame({"left": left_ids, "right": right_ids}), "left", inputs, partitions, 0)
        result = connected_components(inputs, work, partitions, map_fn=map_fn, seed=seed, local_below=local_below)
        found = read_labels(result.labels_dir, partitions)
    labels = np.arange(n, dtype=np.int64)
    labels[found["node"].to_numpy()] = found["label"].to_numpy()
    return (labels, result) if details else labels
