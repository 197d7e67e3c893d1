"""Phase B's partition tasks (issue 15): the same tables whether they run serially, in a local
process pool or on a real local Ray, and the runners themselves (other processes, retries, stops)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from corpusclean.executors.tasks import PoolRunner, RayRunner, SerialRunner, _ready, task_runner
from corpusclean.pipeline import run_dedup, run_extract
from tests.conftest import RAW, sample_corpus

TABLES = ("links", "paragraphs", "documents", "removed")
#: Small hash partitions, so that the contained step has many tasks (raw/ alone has ~25k shingles).
PARTITIONED = "[dedup]\npartition_shingles = 2000\n"


@pytest.fixture(scope="module")
def ray_session():
    """A real local Ray of 2 CPUs for the module; the runners join it (``ray.is_initialized()``)."""
    ray = pytest.importorskip("ray", reason="Ray is the optional extra corpusclean[ray]")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    # this module's functions go to the workers by value: they need not import the tests package
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def phase_a(tmp_path_factory) -> Path:
    """Phase A of raw/ plus ../shared/seeds (when present), in several shards (so several parts)."""
    root = tmp_path_factory.mktemp("phase-b-tasks")
    corpus = sample_corpus(root / "corpus")
    config = root / "shards.toml"
    config.write_text("[run]\nshard_files = 4\n")
    out = root / "phase-a"
    record = run_extract([corpus], out, config=config, workers=1)
    assert len(record["shards"]) >= 3
    return out


def _dedup(phase_a: Path, target: Path, **kwargs) -> dict[str, pl.DataFrame]:
    """Phase B on a copy of ``phase_a``'s output; its tables."""
    shutil.copytree(phase_a, target)
    run_dedup(target, **kwargs)
    assert (target / "_work").exists() == kwargs.get("keep_work", False)  # task files go with the work folder
    return {name: pl.read_parquet(target / f"{name}.parquet") for name in TABLES}


def _same(tables: dict[str, pl.DataFrame], reference: dict[str, pl.DataFrame], label: str) -> None:
    for name in TABLES:
        try:
            assert_frame_equal(tables[name], reference[name])
        except AssertionError as error:
            raise AssertionError(f"{label}: {name} differs from the serial run") from error


@pytest.mark.parametrize("partitioned", [False, True], ids=["one-partition", "many-partitions"])
def test_serial_pool_and_ray_give_the_same_tables(phase_a, tmp_path, ray_session, partitioned):
    config = None
    if partitioned:
        config = tmp_path / "partitioned.toml"
        config.write_text(PARTITIONED)
    serial = _dedup(phase_a, tmp_path / "serial", engine="serial", config=config)
    assert serial["links"].height > 0 and serial["links"]["kind"].n_unique() >= 2
    pooled = _dedup(phase_a, tmp_path / "pool", engine="pool", workers=2, config=config)
    _same(pooled, serial, "local pool")
    on_ray = _dedup(phase_a, tmp_path / "ray", engine="ray", workers=2, config=config)
    _same(on_ray, serial, "ray")
    if partitioned:  # the hash partitions are a cut of the work, not of the result
        _same(_dedup(phase_a, tmp_path / "default", engine="serial"), serial, "one partition")


def test_the_local_engine_runs_a_large_corpus_s_tasks_in_a_pool(phase_a, tmp_path):
    """From dedup.task_pool_paragraphs paragraphs on, the default engine's tasks run in a pool of
    --workers processes (the manifest says so), with the tables of a run in this process."""
    serial = _dedup(phase_a, tmp_path / "serial", engine="local", workers=2, keep_work=True)
    manifest = json.loads((tmp_path / "serial" / "manifest.json").read_text())
    assert manifest["phase_b_runner"] == "SerialRunner()"  # raw/ and the seeds: far below the default
    config = tmp_path / "pool-from-one.toml"
    config.write_text("[dedup]\ntask_pool_paragraphs = 1\n")
    pooled = _dedup(phase_a, tmp_path / "pooled", engine="local", workers=2, config=config, keep_work=True)
    manifest = json.loads((tmp_path / "pooled" / "manifest.json").read_text())
    assert manifest["phase_b_runner"] == "PoolRunner(workers=2)"
    _same(pooled, serial, "local engine, pooled")


def test_an_incremental_run_gives_the_same_tables_on_every_runner(phase_a, tmp_path, ray_session):
    earlier = tmp_path / "earlier"
    _dedup(phase_a, earlier, engine="serial")
    new = tmp_path / "new-phase-a"
    run_extract([RAW], new, workers=1)  # all of raw/ again: every paragraph repeats the earlier run's
    serial = _dedup(new, tmp_path / "serial", engine="serial", against=[earlier])
    assert serial["paragraphs"]["earlier_ids"].list.len().sum() > 0
    _same(_dedup(new, tmp_path / "pool", engine="pool", workers=2, against=[earlier]), serial, "local pool")
    _same(_dedup(new, tmp_path / "ray", engine="ray", workers=2, against=[earlier]), serial, "ray")


def test_the_pool_and_ray_run_tasks_in_other_processes_in_order(ray_session):
    with SerialRunner() as runner:
        assert runner.map(_ready, range(3)) == [os.getpid()] * 3
    with PoolRunner(2) as runner:
        pids = runner.map(_ready, range(8))
    assert len(pids) == 8 and os.getpid() not in pids and 1 <= len(set(pids)) <= 2
    with RayRunner(workers=2) as runner:
        assert not runner.started_here  # it joined the module's Ray
        assert os.getpid() not in runner.map(_ready, range(4))
        assert runner.map(abs_of, [-3, 2, -1]) == [3, 2, 1]
    assert ray_session.is_initialized()  # a Ray it joined is left running


def abs_of(value: int) -> int:
    return abs(value)


def die_the_first_time(marker: str) -> int:
    """SIGKILL this worker the first time (a worker lost mid-task), then return its pid."""
    if not os.path.exists(marker):
        Path(marker).touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return os.getpid()


def test_ray_retries_a_task_whose_worker_was_killed(ray_session, tmp_path):
    with RayRunner(workers=2) as runner:
        assert runner.map(die_the_first_time, [str(tmp_path / "once")]) != [os.getpid()]
    from ray.exceptions import WorkerCrashedError

    with RayRunner(workers=2, max_retries=0) as runner, pytest.raises(WorkerCrashedError):
        runner.map(die_the_first_time, [str(tmp_path / "no-retry")])


def fail(value: int) -> int:
    raise ValueError(f"task {value} failed")


def test_a_failing_task_stops_the_pool_and_reaches_the_caller():
    runner = PoolRunner(2)
    processes = list(runner._pool._processes.values())
    with pytest.raises(ValueError, match="task 1 failed"):
        runner.map(fail, [1, 2])
    assert runner._pool is None  # stopped at once
    assert all(not process.is_alive() for process in processes)


def test_pool_workers_ignore_the_stop_signals():
    with PoolRunner(1) as runner:
        (pid,) = runner.map(_ready, [None])
        os.kill(pid, signal.SIGINT)
        os.kill(pid, signal.SIGTERM)
        assert runner.map(_ready, [None]) == [pid]  # the same worker, alive


def test_the_factory_follows_engine_and_workers():
    with task_runner("serial") as runner:
        assert isinstance(runner, SerialRunner)
    with task_runner("local", workers=2) as runner:  # no size given: in this process
        assert isinstance(runner, SerialRunner)
    with task_runner("local", workers=2, paragraphs=499, pool_paragraphs=500) as runner:
        assert isinstance(runner, SerialRunner)
    with task_runner("local", workers=2, paragraphs=500, pool_paragraphs=500) as runner:
        assert isinstance(runner, PoolRunner) and runner.workers == 2
    with task_runner("local", workers=1, paragraphs=500, pool_paragraphs=500) as runner:
        assert isinstance(runner, SerialRunner)  # one worker: no process besides this one
    with task_runner("pool", workers=1) as runner:
        assert isinstance(runner, SerialRunner)
    with task_runner("pool", workers=2) as runner:
        assert isinstance(runner, PoolRunner) and runner.workers == 2
    from corpusclean.errors import UsageError

    with pytest.raises(UsageError, match="unknown engine"):
        task_runner("spark")
