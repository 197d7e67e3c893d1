"""Connected components over partitioned Parquet edges (``corpusclean.dedup.components``) against
scipy's, on random graphs built of the shapes that break component algorithms."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpusclean.dedup.clusters import components as scipy_components
from corpusclean.dedup.components import (apply_task, component_labels, connected_components, partition_of,
                                          read_labels, round_bound)


def canonical(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """scipy's components, each named by its smallest node."""
    labels = scipy_components(n, left, right)
    smallest = np.full(labels.max() + 1 if n else 0, n, dtype=np.int64)
    np.minimum.at(smallest, labels, np.arange(n))
    return smallest[labels]


@st.composite
def graphs(draw) -> tuple[int, np.ndarray, np.ndarray]:
    """Chains, stars and cliques over disjoint node sets, isolated nodes, self-loops, duplicate and
    reversed edges, a few random edges across, all under a random relabelling of the ids."""
    pieces = draw(st.lists(st.tuples(st.sampled_from(["chain", "star", "clique"]), st.integers(1, 12)), max_size=6))
    isolated = draw(st.integers(0, 5))
    n = sum(size for _, size in pieces) + isolated
    edges: list[tuple[int, int]] = []
    start = 0
    for shape, size in pieces:
        nodes = list(range(start, start + size))
        if shape == "chain":
            edges += list(zip(nodes, nodes[1:]))
        elif shape == "star":
            edges += [(nodes[0], v) for v in nodes[1:]]
        else:
            edges += [(a, b) for i, a in enumerate(nodes) for b in nodes[i + 1:]]
        start += size
    if n:
        node = st.integers(0, n - 1)
        edges += [(v, v) for v in draw(st.lists(node, max_size=4))]
        edges += draw(st.lists(st.tuples(node, node), max_size=3))
        edges += [(b, a) for a, b in draw(st.lists(st.sampled_from(edges), max_size=4))] if edges else []
        edges += draw(st.lists(st.sampled_from(edges), max_size=4)) if edges else []
    permutation = np.array(draw(st.permutations(range(n))), dtype=np.int64)
    pairs = np.array(edges, dtype=np.int64).reshape(-1, 2)
    order = np.array(draw(st.permutations(range(len(pairs)))), dtype=np.int64)
    pairs = permutation[pairs[order]] if len(pairs) else pairs
    return n, pairs[:, 0], pairs[:, 1]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph=graphs(), partitions=st.sampled_from([1, 2, 7]), seed=st.integers(0, 2**31))
def test_same_components_as_scipy(graph, partitions, seed):
    n, left, right = graph
    labels, result = component_labels(n, left, right, partitions=partitions, seed=seed, details=True)
    assert labels.tolist() == canonical(n, left, right).tolist()
    in_edges = np.unique(np.concatenate([left, right]))
    assert result.nodes == len(in_edges)
    assert result.components == len(np.unique(labels[in_edges]))
    # each hook removes one node for good: every node but one of each component hooks exactly once
    assert sum(r.hooked for r in result.history) == result.nodes - result.components
    assert result.rounds == len(result.history) <= round_bound(max(result.nodes, 1))


def test_partitions_agree_and_rounds_are_recorded():
    rng = np.random.default_rng(7)
    n = 1500
    left, right = rng.integers(0, n, 1200), rng.integers(0, n, 1200)
    one, by_one = component_labels(n, left, right, partitions=1, details=True)
    seven, by_seven = component_labels(n, left, right, partitions=7, details=True)
    assert one.tolist() == seven.tolist() == canonical(n, left, right).tolist()
    # the coins hash (node, seed, round), not the partition: the very same rounds and hooks
    # (edges_out may differ: one edge contracted in two partitions is a duplicate until the next round)
    assert [(r.edges_in, r.hooked) for r in by_one.history] == [(r.edges_in, r.hooked) for r in by_seven.history]
    assert by_one.rounds > 1
    for result in (by_one, by_seven):
        for before, after in zip(result.history, result.history[1:]):
            # a hook turns its own edge into a self-loop, which goes; no hook, no change
            assert after.edges_in <= before.edges_out
            assert (after.edges_in < before.edges_in) == (before.hooked > 0)
    assert [r.edges_out for r in by_one.history[:-1]] == [r.edges_in for r in by_one.history[1:]]
    assert by_seven.history[-1].edges_out == 0
    # 1 ingest map, 2 a round, 1 a round to resolve, 3 for labels
    assert by_seven.maps == 1 + 3 * by_seven.rounds + 3
    other_seed = component_labels(n, left, right, partitions=2, seed=99)
    assert other_seed.tolist() == one.tolist()


def test_long_chain_converges_within_the_bound():
    """A chain is the worst case of label propagation (n - 1 rounds); here O(log n)."""
    n = 20_000
    ids = np.random.default_rng(3).permutation(n)
    labels, result = component_labels(n, ids[:-1], ids[1:], partitions=3, details=True)
    assert (labels == 0).all() and result.components == 1
    # one component, yet no task holds it whole: about a third of the rows each (input, hooks, roots)
    assert result.max_task_rows < 2 * n * 0.6
    assert result.rounds <= round_bound(n)
    # a chain node hooks with probability 3/8: about log_{8/5} n = 21 rounds, far below n
    assert result.rounds <= 2 * np.log(n) / np.log(8 / 5)


def test_labels_are_hash_partitioned_and_work_dir_is_cleaned(tmp_path):
    edges = tmp_path / "edges"
    edges.mkdir()
    pl.DataFrame({"left": [0, 1, 10, 11, 20], "right": [1, 2, 11, 12, 20]}).write_parquet(edges / "a.parquet")
    pl.DataFrame({"left": [2, 30], "right": [10, 31]}).write_parquet(edges / "b.parquet")
    result = connected_components(str(edges), str(tmp_path / "work"), partitions=3)
    assert sorted(os.listdir(tmp_path / "work")) == ["labels"]
    for part in os.listdir(result.labels_dir):
        rows = pl.read_parquet(os.path.join(result.labels_dir, part, "*.parquet"))
        assert set(partition_of(rows["node"].to_numpy(), 3).tolist()) == {int(part[1:])}
    labels = read_labels(result.labels_dir, 3)
    assert dict(labels.rows()) == {0: 0, 1: 0, 2: 0, 10: 0, 11: 0, 12: 0, 20: 20, 30: 30, 31: 30}
    assert (result.nodes, result.components) == (9, 3)
    with pytest.raises(ValueError, match="not empty"):
        connected_components(str(edges), str(tmp_path / "work"), partitions=3)


def test_no_edges():
    labels, result = component_labels(3, [], [], details=True)
    assert labels.tolist() == [0, 1, 2] and result.rounds == 0 and result.nodes == 0


def test_tasks_run_in_a_process_pool():
    """The tasks are module-level functions of plain arguments: they run in other processes."""
    rng = np.random.default_rng(11)
    n = 400
    left, right = rng.integers(0, n, 350), rng.integers(0, n, 350)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        labels = component_labels(n, left, right, partitions=4,
                                  map_fn=lambda f, items: list(pool.map(apply_task, [(f, a) for a in items])))
    assert labels.tolist() == canonical(n, left, right).tolist()


def test_small_remainder_finishes_in_one_task():
    rng = np.random.default_rng(5)
    n = 1500
    left, right = rng.integers(0, n, 1300), rng.integers(0, n, 1300)
    full = component_labels(n, left, right, partitions=3, details=True)[1]
    labels, short = component_labels(n, left, right, partitions=3, local_below=500, details=True)
    assert labels.tolist() == canonical(n, left, right).tolist()
    # the same rounds until at most 500 edge rows are left, then one in-memory round
    last = short.history[-1]
    assert short.history[:-1] == full.history[:short.rounds - 1] and short.rounds < full.rounds
    assert last.edges_in <= short.history[-2].edges_out <= 500 < short.history[-3].edges_out and last.edges_out == 0
    assert sum(r.hooked for r in short.history) == short.nodes - short.components
    everything, at_once = component_labels(n, left, right, partitions=3, local_below=10**6, details=True)
    assert everything.tolist() == labels.tolist() and at_once.rounds == 1
