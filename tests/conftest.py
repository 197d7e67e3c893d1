"""Shared fixtures: the repository root, the bundled sample corpus, and ../shared when present."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Sequence

import polars as pl
import pytest

REPO = Path(__file__).resolve().parent.parent
RAW = REPO / "raw"
#: ``../shared`` beside the checkout; ``CORPUSCLEAN_SHARED`` points elsewhere (``.ci/run`` sets it to a
#: missing folder for its second pass, a user's clone without the shared data).
SHARED = Path(os.environ.get("CORPUSCLEAN_SHARED") or REPO.parent / "shared")
SEEDS = SHARED / "seeds"
#: The Parquet tables of a run's output folder.
TABLES = ("documents", "paragraphs", "removed", "links", "errors")


def raw_doc_id(path: str) -> str:
    """The ``doc_id`` of the one-record file ``raw/<path>`` (see ``make_doc_id``: place and content)."""
    import xxhash

    from corpusclean.readers.records import make_doc_id

    return make_doc_id(f"raw/{path}", 0, xxhash.xxh64((RAW / path).read_bytes()).hexdigest())


def corpusclean(*args: str, cwd: Path = REPO, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """Run the real command line, ``python -m corpusclean ARGS``, in a subprocess."""
    return subprocess.run([sys.executable, "-m", "corpusclean", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, **kwargs)


def corpusclean_together(*commands: Sequence[str], at_once: int = 2, **kwargs) -> list[subprocess.CompletedProcess]:
    """Independent commands ``python -m corpusclean ARGS`` (each its own real subprocess, as with
    :func:`corpusclean`, ``kwargs`` passed to each), ``at_once`` at a time: the machine's two cores,
    where one after the other would leave one idle while an interpreter starts. Results in order."""
    with ThreadPoolExecutor(max_workers=at_once) as pool:
        return list(pool.map(lambda args: corpusclean(*args, **kwargs), commands))


def kill_when(command: list[str], ready: Callable[[], bool], timeout: float = 120) -> subprocess.Popen:
    """Start ``command`` (in ``REPO``, its own process group) and SIGKILL the group as soon as
    ``ready()`` holds: a real ``kill -9`` at a chosen point of a run. Fails if the run ends first."""
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if ready():
                break
            time.sleep(0.005)
        assert process.poll() is None, "the run finished before it could be killed: make it longer"
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    return process


def sample_corpus(corpus: Path) -> Path:
    """``corpus/raw`` (the sample corpus) and ``corpus/seeds`` (the seed texts, without their answer
    key, when ../shared is there): the inputs of the engine tests."""
    import shutil

    shutil.copytree(RAW, corpus / "raw")
    if SEEDS.is_dir():
        shutil.copytree(SEEDS, corpus / "seeds", ignore=shutil.ignore_patterns("*.json"))
    return corpus


def read_tables(out: Path) -> dict[str, pl.DataFrame]:
    """The tables of the output folder ``out``, read back with polars."""
    return {name: pl.read_parquet(out / f"{name}.parquet") for name in TABLES}


def seeds_or_skip() -> Path:
    if not (SEEDS / "expected.json").is_file():
        pytest.skip("../shared/seeds is absent (it sits beside the checkout in CI); nothing to check against")
    return SEEDS


@pytest.fixture(scope="session")
def expected() -> dict:
    return json.loads((seeds_or_skip() / "expected.json").read_text("utf-8"))


@pytest.fixture(scope="session")
def seed_corpus(tmp_path_factory) -> Path:
    """The five seed texts (without expected.json) in a folder of their own named ``seeds``."""
    source = seeds_or_skip()
    target = tmp_path_factory.mktemp("corpus") / "seeds"
    target.mkdir()
    for path in sorted(source.glob("*.txt")):
        shutil.copyfile(path, target / path.name)
    return target


def load_benchmark_module(name: str):
    """Import ``benchmarks/<name>.py`` (not a package) so tests can reuse its generators."""
    path = REPO / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def raw_out(tmp_path_factory) -> Path:
    """An output folder of the pipeline (the Python API, one worker) on the sample corpus raw/."""
    from corpusclean import run

    out = tmp_path_factory.mktemp("raw-run")
    run([RAW], out, workers=1)
    return out


@pytest.fixture(scope="session")
def tables(raw_out) -> dict[str, pl.DataFrame]:
    """The tables of :func:`raw_out`."""
    return read_tables(raw_out)


@pytest.fixture(scope="session")
def raw_cli_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """``corpusclean run raw -o OUT --workers 2`` in a subprocess (summary printed), run once for the
    session: the real command's output folder on the sample corpus that test_cli, test_export,
    test_faults and test_reprints all read (none of them writes into it). The tables do not depend on
    the worker count (test_cli.py::test_same_input_gives_identical_tables_whatever_the_workers)."""
    out = tmp_path_factory.mktemp("raw-cli") / "out"
    completed = corpusclean("run", "raw", "-o", str(out), "--workers", "2")
    assert completed.returncode == 0, completed.stderr
    return completed, out


@pytest.fixture(scope="session")
def incremental_runs(tmp_path_factory) -> Path:
    """crawl1: the wire's copy of raw/; crawl2: the outlets that reprint it; and the real command's
    three runs on them, once for the session: ``out1`` (crawl1), ``out2`` (crawl2 ``--against out1``)
    and ``joint`` (both crawls in one run). Read by test_incremental, test_reprints and test_spans."""
    root = tmp_path_factory.mktemp("incremental")
    shutil.copytree(RAW / "northwind-wire", root / "crawl1" / "northwind-wire")
    for outlet in ("harbor-tribune", "the-lantern", "vostok-vestnik"):
        shutil.copytree(RAW / outlet, root / "crawl2" / outlet)
    earlier = ["run", str(root / "crawl1"), "-o", str(root / "out1"), "--quiet"]
    new = ["run", str(root / "crawl2"), "-o", str(root / "out2"), "--against", str(root / "out1"), "--quiet"]
    joint = ["run", str(root / "crawl1"), str(root / "crawl2"), "-o", str(root / "joint"), "--quiet"]
    with ThreadPoolExecutor(1) as beside:  # the joint run needs neither of the others: alongside them
        joint_run = beside.submit(corpusclean, *joint)
        for name, args in (("earlier", earlier), ("new", new)):
            completed = corpusclean(*args)
            assert completed.returncode == 0, (name, completed.stderr)
        completed = joint_run.result()
        assert completed.returncode == 0, ("joint", completed.stderr)
    return root
