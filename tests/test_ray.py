"""The Ray engine: a real local Ray (2 CPUs) runs phase A and gives the local engine's tables."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.conftest import REPO, sample_corpus

pytest.importorskip("ray", reason="Ray is the optional extra corpusclean[ray]; `make test` installs it")

TABLES = ("documents", "paragraphs", "removed", "links", "errors")


def test_ray_engine_gives_the_local_tables(tmp_path):
    corpus = sample_corpus(tmp_path / "corpus")
    config = tmp_path / "shards.toml"
    # several shards, so several Ray tasks: raw/ alone (a clone without ../shared) has 11 files
    config.write_text("[run]\nshard_files = 2\n")
    # Ray's defaults, as a user has them (token authentication on): its notices must not reach stderr
    env = {key: value for key, value in os.environ.items() if key != "RAY_AUTH_MODE"}
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    # Ray's sessions of this run, in a folder of their own (a short path: Ray's sockets are in it)
    ray_tmp = Path(tempfile.mkdtemp(prefix="ccray", dir="/tmp"))
    env["RAY_TMPDIR"] = str(ray_tmp)
    outputs = {}
    for engine in ("local", "ray"):
        out = tmp_path / engine
        completed = subprocess.run(
            [sys.executable, "-m", "corpusclean", "run", str(corpus), "-o", str(out), "-c", str(config),
             "--engine", engine, "--workers", "2", "--quiet"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
        assert completed.returncode == 0, completed.stderr[-2000:]
        # --quiet: nothing at all on stderr, Ray's warnings and INFO lines included
        assert completed.stderr == "", completed.stderr[-2000:]
        outputs[engine] = out
    import json
    manifest = json.loads((outputs["ray"] / "manifest.json").read_text())
    assert manifest["engine"] == "ray" and manifest["shards"] >= 4
    # phase A and phase B's tasks ran on one private Ray, started once (not once a phase)
    sessions = [path.name for path in (ray_tmp / "ray").glob("session_*") if not path.is_symlink()]
    shutil.rmtree(ray_tmp, ignore_errors=True)
    assert len(sessions) == 1, sessions
    for name in TABLES:
        assert_frame_equal(pl.read_parquet(outputs["ray"] / f"{name}.parquet"),
                           pl.read_parquet(outputs["local"] / f"{name}.parquet"))
