"""Interruptions end promptly and cleanly (issue 13): the real command line, real signals.

A crawl big enough that phase A takes over 10 s with two workers is signalled as soon as its first
shard is finished; the run must be gone, workers included, within 2 s, say so in one line and exit
128 + the signal, and a rerun must resume into the tables of an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

from tests.conftest import REPO, TABLES, load_benchmark_module, read_tables

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; signals as on Linux")

STOP_LIMIT = 2.0  # seconds from the signal to a process session with nothing left in it


@pytest.fixture(scope="module")
def crawl(tmp_path_factory) -> tuple[Path, Path]:
    """20 MB of HTML and text pages (about 430) and a config cutting them into about 54 shards."""
    base = tmp_path_factory.mktemp("signals")
    load_benchmark_module("crawl_generator").generate(base, 20_000_000, kind="mixed", quiet=True)
    config = base / "shards.toml"
    config.write_text("[run]\nshard_files = 8\n")
    return base / "raw", config


def command(crawl: tuple[Path, Path], out: Path) -> list[str]:
    raw, config = crawl
    return [sys.executable, "-m", "corpusclean", "run", str(raw), "-o", str(out), "-c", str(config),
            "--workers", "2", "-q"]


@pytest.fixture(scope="module")
def uninterrupted(crawl, tmp_path_factory):
    """A run to its end with two workers over many shards: the death signal that ties workers to the
    parent must not fire while the parent lives (it would break the pool)."""
    out = tmp_path_factory.mktemp("uninterrupted") / "out"
    completed = subprocess.run(command(crawl, out), cwd=REPO, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    return read_tables(out)


def session(sid: int) -> list[tuple[int, str]]:
    """The live (not zombie) processes of session ``sid`` as ``(pid, command line)``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        if int(fields[3]) == sid and fields[0] not in "ZX":
            found.append((int(entry), cmdline))
    return found


def finished_shards(out: Path) -> list[Path]:
    shards = out / "_work" / "shards"
    return [p for p in shards.iterdir() if p.is_dir() and not p.name.startswith(".")] if shards.is_dir() else []


def start_and_wait_for_a_shard(argv: list[str], out: Path) -> subprocess.Popen:
    """Start ``argv`` in a session of its own; return once its first shard is finished, workers running."""
    process = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    deadline = time.monotonic() + 180
    while not finished_shards(out):
        assert process.poll() is None, f"the run ended before its first shard: {process.communicate()}"
        assert time.monotonic() < deadline, "no shard finished in 180 s"
        time.sleep(0.01)
    workers = [pid for pid, cmdline in session(process.pid) if "multiprocessing" in cmdline and "spawn_main" in cmdline]
    assert len(workers) == 2, session(process.pid)
    return process


def gone_within(process: subprocess.Popen, signalled_at: float) -> float:
    """Seconds from ``signalled_at`` until the process and every process of its session are gone."""
    try:
        process.wait(timeout=max(0.0, signalled_at + STOP_LIMIT - time.monotonic()))
    except subprocess.TimeoutExpired:
        pass
    while session(process.pid) and time.monotonic() < signalled_at + STOP_LIMIT:
        time.sleep(0.01)
    elapsed = time.monotonic() - signalled_at
    left = session(process.pid)
    for pid, _ in left:  # do not leave them to the other tests
        os.kill(pid, signal.SIGKILL)
    assert process.poll() is not None and not left, f"still running after {elapsed:.2f} s: {left}"
    return elapsed


def send(process: subprocess.Popen, how: str) -> float:
    signalled_at = time.monotonic()
    if how == "SIGINT to the group":  # what Ctrl-C in a terminal does; pressed twice, as people do
        os.killpg(process.pid, signal.SIGINT)
        time.sleep(0.05)
        try:
            os.killpg(process.pid, signal.SIGINT)
        except ProcessLookupError:
            pass
    elif how == "SIGINT to the pid":
        os.kill(process.pid, signal.SIGINT)
    else:
        os.kill(process.pid, signal.SIGTERM)
    return signalled_at


@pytest.mark.parametrize("how, code", [("SIGINT to the group", 130), ("SIGINT to the pid", 130),
                                       ("SIGTERM to the pid", 143)])
def test_a_signal_stops_phase_a_within_2_s_and_says_what_was_kept(crawl, uninterrupted, tmp_path, how, code):
    out = tmp_path / "out"
    process = start_and_wait_for_a_shard(command(crawl, out), out)
    elapsed = gone_within(process, send(process, how))
    stdout, stderr = process.communicate()
    assert process.returncode == code, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    done = len(finished_shards(out))
    assert lines[0].startswith("corpusclean: interrupted; ")
    assert f" shards are finished and kept in {out / '_work'}; run the same command again to resume" in lines[0]
    stated, total = lines[0].split("; ")[1].split(" shards")[0].split(" of ")
    assert int(stated) == done and 0 < done < int(total) == 54, (lines[0], done)
    assert not (out / "manifest.json").exists()
    print(f"{how}: stopped in {elapsed:.2f} s")

    if how == "SIGINT to the group":  # resume: the finished shards are reused and give the same tables
        completed = subprocess.run(command(crawl, out), cwd=REPO, capture_output=True, text=True, timeout=600)
        assert completed.returncode == 0, completed.stderr
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["shards_resumed"] >= done and manifest["shards"] == 54
        resumed = read_tables(out)
        for name in TABLES:
            assert_frame_equal(resumed[name], uninterrupted[name])


def test_kill_9_of_the_main_process_takes_the_workers_with_it(crawl, tmp_path):
    out = tmp_path / "out"
    process = start_and_wait_for_a_shard(command(crawl, out), out)
    elapsed = gone_within(process, send_kill(process))
    assert process.returncode == -signal.SIGKILL
    print(f"kill -9: workers gone in {elapsed:.2f} s")


def send_kill(process: subprocess.Popen) -> float:
    signalled_at = time.monotonic()
    os.kill(process.pid, signal.SIGKILL)
    return signalled_at


def test_a_main_thread_stuck_in_native_code_still_ends_within_2_s(tmp_path):
    """The watchdog: Python runs handlers only between bytecodes of the main thread, so a main thread
    inside a long native call (here sleep(30) with the signal blocked in it, as a long polars join
    would be) is ended by the watchdog thread, with the same line and code. (A signal that comes
    before the call is in, while Python code still runs, even at the print of "ready", raises in the
    main thread: the script goes into the call all the same, the watchdog does not care which.)"""
    script = textwrap.dedent(f"""
        import ctypes, signal, sys
        from corpusclean import interrupts
        with interrupts.handled({str(tmp_path / 'out')!r}):
            signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGINT, signal.SIGTERM])
            for attempt in range(2):
                try:  # "ready" inside the try: the signal may already be handled at the print
                    if attempt == 0:
                        print("ready", flush=True)
                    ctypes.CDLL(None).sleep(30)
                except KeyboardInterrupt:
                    pass
        sys.exit("not interrupted")
    """)
    process = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert process.stdout.readline() == "ready\n"
    elapsed = gone_within(process, send(process, "SIGTERM to the pid"))
    _, stderr = process.communicate()
    assert process.returncode == 143, stderr
    assert stderr == "corpusclean: interrupted before any shard was finished; run the same command again to start over\n"
    print(f"stuck main thread: ended in {elapsed:.2f} s")
