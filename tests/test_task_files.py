"""Phase-B task files on a node: a task's result goes to the store through a scratch folder of the
node, and a worker killed in a task leaves one behind that the node's next task removes (a real
moto server on 127.0.0.1, and real processes in their own temporary folder)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import REPO
from tests.s3server import MOTO_SERVER, MotoServer

pytestmark = pytest.mark.skipif(not MOTO_SERVER.exists(), reason="moto's server is a test dependency; `make test` installs it")

WRITE_ONE_RESULT = textwrap.dedent("""
    import sys
    import polars as pl
    from corpusclean import storage
    from corpusclean.executors.tasks import task_output
    with task_output(sys.argv[1]) as path:
        pl.DataFrame({"row": [1, 2, 3]}).write_parquet(path)
    storage.fetch_object(sys.argv[1], sys.argv[2])  # read back through the store
""")


def _dead_pid() -> int:
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    return finished.pid


def test_a_task_uploads_its_result_and_sweeps_the_scratch_of_dead_workers(tmp_path):
    node_tmp = tmp_path / "node-tmp"
    node_tmp.mkdir()
    dead = node_tmp / f"corpusclean-task-{_dead_pid()}-abc"  # a worker killed while it wrote a result
    dead.mkdir()
    (dead / "band-000.parquet").write_bytes(b"half written")
    alive = node_tmp / f"corpusclean-task-{os.getpid()}-def"  # a live process's: kept
    alive.mkdir()
    cache = node_tmp / f"corpusclean-task-cache-{os.getuid()}"  # the node's cache is no pid's: kept
    cache.mkdir()
    with MotoServer() as server:
        server.client.create_bucket(Bucket="work")
        uri = "s3://work/out/_work/phase_b/near/band-000.parquet"
        env = {**server.env, "TMPDIR": str(node_tmp)}
        completed = subprocess.run([sys.executable, "-c", WRITE_ONE_RESULT, uri, str(tmp_path / "fetched.parquet")],
                                   cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        assert completed.returncode == 0, completed.stderr[-2000:]
        listed = server.client.list_objects_v2(Bucket="work", Prefix="out/_work/")
        assert [item["Key"] for item in listed.get("Contents", [])] == ["out/_work/phase_b/near/band-000.parquet"]
    assert pl.read_parquet(tmp_path / "fetched.parquet")["row"].to_list() == [1, 2, 3]
    assert not dead.exists()
    assert alive.is_dir() and cache.is_dir()
    # the task's own scratch is gone once its result is uploaded
    assert sorted(path.name for path in node_tmp.iterdir()) == sorted([alive.name, cache.name])
