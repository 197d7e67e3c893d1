"""Faults: a run killed with ``kill -9`` anywhere, two runs into one folder, a full disk, misuse.

Every case runs the real command in a subprocess (the reference tables the runs are compared with
are made by the pipeline in this process, and so are three of the four inputs reached twice). The
kills are real ``SIGKILL`` s: from outside for phase A (``kill_when``, when shards appear) and, for the
moments a poll cannot hit (between two renames), by the process itself at a named failpoint
(:mod:`corpusclean.failpoints`). After each kill the output folder must hold the tables of exactly one
run, the one its manifest names, and a rerun must finish with the new run's tables and no leftovers.
Ctrl-C and SIGTERM are in ``test_signals.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from corpusclean import run
from tests.conftest import REPO, RAW, corpusclean, corpusclean_together, kill_when

TABLES = ("documents", "paragraphs", "removed", "links", "errors", "fingerprints")
SHARED_PARAGRAPHS = ("The harbour authority said the new breakwater would be finished before the winter storms, "
          "and that the fishing fleet could use the inner basin from the first of March.",
          "Residents asked the council to publish the full engineering report and the costs of the "
          "delay, which the mayor promised to do at the next public meeting of the board.")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    """100 text pages in 10 outlets sharing two paragraphs, in 10 shards; config ``a`` and ``b``
    differ in ``dedup.min_words`` only, so the two runs' links (and so their tables) differ."""
    base = tmp_path_factory.mktemp("faults")
    pages = base / "pages"
    for i in range(100):
        outlet = pages / f"outlet-{i % 10}"
        outlet.mkdir(parents=True, exist_ok=True)
        body = [f"Story {i} about the harbour, number {i * 7919 % 1000}, told in its own words by outlet {i % 10}.",
                SHARED_PARAGRAPHS[i % 2], f"Short line {i % 4} of the day.",
                f"The council will meet again on day {i} to settle the remaining questions of the plan."]
        (outlet / f"story-{i:03d}.txt").write_text(f"Harbour story {i}\n\n" + "\n\n".join(body) + "\n")
    for name, min_words in (("a", 3), ("b", 30)):
        (base / f"{name}.toml").write_text(f"[run]\nshard_files = 10\n[dedup]\ntemplate_min_docs = 100000\n"
                                           f"min_words = {min_words}\n")
    # the reference tables: the pipeline in this process (the runs under test are real subprocesses)
    for name in ("a", "b"):
        run([pages], base / f"ref-{name}", config=base / f"{name}.toml", workers=1)
    a, b = _tables(base / "ref-a"), _tables(base / "ref-b")
    assert a["links"].height > b["links"].height > 0  # the two runs' corpora really differ
    return {"base": base, "pages": pages, "a": base / "a.toml", "b": base / "b.toml",
            "ref-a": base / "ref-a", "ref-b": base / "ref-b"}


def _tables(out: Path) -> dict[str, pl.DataFrame]:
    return {name: pl.read_parquet(out / f"{name}.parquet") for name in TABLES}


def _which_run(out: Path, corpus: dict[str, Path]) -> str:
    """``a`` or ``b``: whose complete tables ``out`` holds (failing if they are a mix), checked against
    its manifest too."""
    tables = _tables(out)
    manifest = json.loads((out / "manifest.json").read_text())
    for name in ("a", "b"):
        reference = corpus[f"ref-{name}"]
        if all(tables[t].equals(_tables(reference)[t]) for t in TABLES):
            expected = json.loads((reference / "manifest.json").read_text())
            assert manifest["config_hash"] == expected["config_hash"]
            assert manifest["counts"] == expected["counts"]
            return name
    differs = {name: [t for t in TABLES if not tables[t].equals(_tables(corpus[f"ref-{name}"])[t])]
               for name in ("a", "b")}
    raise AssertionError(f"{out} holds a mix of runs: tables that differ from each run {differs}")


def _leftovers(out: Path) -> list[str]:
    beside = [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]
    inside = [str(p.relative_to(out)) for p in out.rglob(".*") if p.name != ".corpusclean.lock"]
    return beside + inside


def _run(corpus, out: Path, config: str, *extra: str, failpoint: str | None = None,
         workers: int = 1) -> subprocess.CompletedProcess:
    env = {**os.environ}
    env.pop("CORPUSCLEAN_FAILPOINT", None)
    if failpoint:
        env["CORPUSCLEAN_FAILPOINT"] = failpoint
    command = [sys.executable, "-m", "corpusclean", "run", str(corpus["pages"]), "-o", str(out), "-c",
               str(corpus[config]), "--workers", str(workers), "-q", *extra]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300, env=env)


# the points where the process kills itself, in run order, and whether the new run's tables are in
# place by then
FAILPOINTS = [
    ("extract.discovered", False), ("extract.shards_done", False), ("dedup.linked", False),
    ("write.staging", False), ("write.first_shard", False), ("write.tables_closed", False),
    ("write.links", False), ("write.manifest", False), ("commit.work_moved", False),
    ("commit.exchanged", True), ("commit.done", True),
]


def _kill_through(corpus, out: Path, points: list[tuple[str, bool]]) -> None:
    """Kill a run at each of ``points`` in turn in the one folder ``out`` (holding ref-a's tables),
    checking whose tables it holds after each kill; then a rerun must finish and leave nothing behind."""
    shutil.copytree(corpus["ref-a"], out)
    holds = "a"
    for point, switched in points:
        other = "b" if holds == "a" else "a"
        keep = ("--keep-work",) if point == "commit.work_moved" else ()
        killed = _run(corpus, out, other, *keep, failpoint=point, workers=2 if point == "extract.shards_done" else 1)
        assert killed.returncode == -signal.SIGKILL, (point, killed.stderr)
        expected = other if switched else holds
        assert _which_run(out, corpus) == expected, point
        holds = expected
    again = _run(corpus, out, "b")
    assert again.returncode == 0, again.stderr
    assert _which_run(out, corpus) == "b"
    assert _leftovers(out) == [] and not (out / "_work").exists()


def test_kill_9_anywhere_leaves_one_runs_tables_and_a_rerun_finishes(corpus, tmp_path):
    # one folder through a run of kills: each run uses the other config than the corpus in place, so
    # "previous" and "new" tables always differ, and each start cleans what the last kill left. Two
    # such folders, phase A to the first writes and the later writes to the commit, side by side
    # (one run at a time in each: the machine's two cores)
    half = FAILPOINTS.index(("write.links", False))
    with ThreadPoolExecutor(1) as beside:
        later = beside.submit(_kill_through, corpus, tmp_path / "out-later", FAILPOINTS[half:])
        _kill_through(corpus, tmp_path / "out-early", FAILPOINTS[:half])
        later.result()


def test_kill_9_of_the_whole_group_during_phase_a_with_two_workers(corpus, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(corpus["ref-a"], out)
    command = [sys.executable, "-m", "corpusclean", "run", str(corpus["pages"]), "-o", str(out), "-c",
               str(corpus["b"]), "--workers", "2", "-q"]
    shards = out / "_work" / "shards"
    kill_when(command, lambda: shards.is_dir() and any(not p.name.startswith(".") for p in shards.iterdir()))
    assert _which_run(out, corpus) == "a"
    assert _run(corpus, out, "b").returncode == 0 and _which_run(out, corpus) == "b"


def test_dedup_with_another_config_killed_in_the_final_write_keeps_the_old_tables(corpus, tmp_path):
    out = tmp_path / "out"
    assert _run(corpus, out, "a", "--keep-work").returncode == 0
    env = {**os.environ, "CORPUSCLEAN_FAILPOINT": "write.links"}
    killed = subprocess.run([sys.executable, "-m", "corpusclean", "dedup", str(out), "-c", str(corpus["b"]), "-q",
                             "--keep-work"], cwd=REPO, capture_output=True, text=True, env=env, timeout=300)
    assert killed.returncode == -signal.SIGKILL
    assert _which_run(out, corpus) == "a" and (out / "_work" / "phase_a.json").is_file()
    done = corpusclean("dedup", str(out), "-c", str(corpus["b"]), "-q")
    assert done.returncode == 0, done.stderr
    tables = _tables(out)
    # phase A ran with a, phase B with b: the links are b's, and the manifest says which config made them
    assert tables["links"].equals(_tables(corpus["ref-b"])["links"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["dedup"]["min_words"] == 30 and manifest["dedup_config_source"] == str(corpus["b"])
    assert manifest["config_hash"] != manifest["phase_a_config_hash"]
    assert not (out / "_work").exists() and _leftovers(out) == []


def test_a_second_run_into_a_folder_in_use_says_who_holds_it(corpus, tmp_path):
    out = tmp_path / "out"
    first = subprocess.Popen([sys.executable, "-m", "corpusclean", "run", str(corpus["pages"]), "-o", str(out),
                              "-c", str(corpus["a"]), "--workers", "1", "-q"], cwd=REPO,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (out / "_work").is_dir() and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(first.pid, signal.SIGSTOP)  # holds the lock, mid-run, for as long as the test needs
        second = _run(corpus, out, "b")
        assert second.returncode == 2
        assert second.stderr.strip() == (f"corpusclean: error: output folder {out} is in use by pid {first.pid} on "
                                         f"{os.uname().nodename} since " + second.stderr.split(" since ")[1].strip())
        assert "(corpusclean run)" in second.stderr and len(second.stderr.strip().splitlines()) == 1
    finally:
        os.kill(first.pid, signal.SIGCONT)
    assert first.wait(timeout=120) == 0, first.stderr.read()
    assert _which_run(out, corpus) == "a"  # the refused run changed nothing
    assert _run(corpus, out, "b").returncode == 0  # and once the first ended, the folder is free


def test_against_the_output_folder_itself_is_refused_before_any_work(corpus, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(corpus["ref-a"], out)
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    done = _run(corpus, out, "a", "--against", str(out))
    assert done.returncode == 2 and "is the output folder itself" in done.stderr
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before


def test_a_missing_against_folder_is_refused_before_phase_a(corpus, tmp_path):
    started = time.monotonic()
    done = _run(corpus, tmp_path / "out", "a", "--against", str(tmp_path / "nowhere"))
    assert done.returncode == 2 and "no manifest.json" in done.stderr and len(done.stderr.splitlines()) == 1
    assert not (tmp_path / "out").exists()  # checked before the output folder was even made
    assert time.monotonic() - started < 30


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB tmpfs mounted for the test (needs root or a user namespace; skipped otherwise)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_is_one_line_exit_1_and_leaves_the_previous_corpus(small_disk, tmp_path):
    out = small_disk / "out"
    assert corpusclean("run", str(RAW), "-o", str(out), "--workers", "1", "-q").returncode == 0
    previous = {name: pl.read_parquet(out / f"{name}.parquet") for name in TABLES}
    big = tmp_path / "big"
    big.mkdir()
    for i in range(60):  # ~3 MB of distinct text: more than the disk holds as tables
        words = " ".join(f"w{i}x{j}" for j in range(6000))
        (big / f"page-{i:02d}.txt").write_text(f"Title {i}\n\n{words}.\n")
    done = corpusclean("run", str(big), "-o", str(out), "--workers", "1", "-q")
    assert done.returncode == 1, done.stderr
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert f"no space left on the device of {out}" in line and "MB more there" in line
    for name, table in previous.items():
        assert_frame_equal(pl.read_parquet(out / f"{name}.parquet"), table)
    assert not [p for p in small_disk.rglob("*") if p.name.endswith(".tmp")]
    assert not [p for p in small_disk.iterdir() if p.name.startswith(".out.")]


# --------------------------------------------------------------------------- inputs as a set


def _documents(out: Path) -> pl.DataFrame:
    return pl.read_parquet(out / "documents.parquet")


def _errors(out: Path) -> pl.DataFrame:
    return pl.read_parquet(out / "errors.parquet")


@pytest.fixture(scope="module")
def raw_once(raw_cli_run) -> Path:
    """The output folder of ``corpusclean run raw`` (tests/conftest.py, shared with other files)."""
    return raw_cli_run[1]


@pytest.mark.parametrize("arguments", [[RAW, RAW], [RAW, RAW / "harbor-tribune"], [RAW / "harbor-tribune", RAW],
                                       [RAW, RAW / "northwind-wire" / "feed.jsonl", RAW / "northwind-wire" / "feed.jsonl"]],
                         ids=["folder-twice", "folder-and-subfolder", "subfolder-first", "file-twice"])
def test_an_input_reached_twice_is_read_once(raw_once, tmp_path, arguments, request):
    if request.node.callspec.id == "folder-twice":  # the real command line, as a user repeats an argument
        done = corpusclean("run", *map(str, arguments), "-o", str(tmp_path / "out"), "--workers", "1", "-q")
        assert done.returncode == 0, done.stderr
    else:  # the command hands its arguments to the pipeline as they are: the other cases in this process
        run(arguments, tmp_path / "out", workers=1)
    for table in ("documents", "errors"):
        assert_frame_equal(pl.read_parquet(tmp_path / "out" / f"{table}.parquet"),
                           pl.read_parquet(raw_once / f"{table}.parquet"))


def test_two_folders_of_one_name_are_told_apart(tmp_path):
    for side in ("A", "B"):
        shutil.copytree(RAW / "harbor-tribune", tmp_path / side / "raw" / "harbor-tribune")
    done = corpusclean("run", str(tmp_path / "A" / "raw"), str(tmp_path / "B" / "raw"), "-o", str(tmp_path / "out"),
                       "--workers", "1", "-q")
    assert done.returncode == 0, done.stderr
    paths = _documents(tmp_path / "out")["source_path"].to_list() + _errors(tmp_path / "out")["source_path"].to_list()
    assert len(paths) == 2 * len(list((RAW / "harbor-tribune").iterdir()))
    assert {path.split("/")[0] for path in paths} == {"A", "B"} and len(set(paths)) == len(paths)


def test_the_output_folder_inside_the_input_is_never_read(raw_once, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(RAW, corpus)
    for _ in range(2):
        done = corpusclean("run", str(corpus), "-o", str(corpus / "out"), "--workers", "1", "-q")
        assert done.returncode == 0, done.stderr
        documents = _documents(corpus / "out")
        assert not documents.filter(pl.col("source_path").str.starts_with("corpus/out")).height
    assert documents.height == _documents(raw_once).height and _errors(corpus / "out").height == _errors(raw_once).height
    inside = corpusclean("run", str(corpus / "out"), "-o", str(corpus / "out"), "-q")
    assert inside.returncode == 2 and len(inside.stderr.strip().splitlines()) == 1 and "inside" in inside.stderr


def test_a_link_out_of_the_inputs_is_an_error_row_unless_followed(tmp_path):
    corpus, outside = tmp_path / "corpus", tmp_path / "outside"
    shutil.copytree(RAW / "the-lantern", corpus / "the-lantern")
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_text("Not for the corpus\n\n" + "A private note that must not become a document of the corpus. " * 5)
    (corpus / "the-lantern" / "linked.txt").symlink_to(secret)
    done, followed = corpusclean_together(  # two runs into two folders, side by side
        ["run", str(corpus), "-o", str(tmp_path / "out"), "--workers", "1", "-q"],
        ["run", str(corpus), "-o", str(tmp_path / "out2"), "--workers", "1", "-q", "--follow-links"])
    assert done.returncode == 0, done.stderr
    row = _errors(tmp_path / "out").filter(pl.col("source_path") == "corpus/the-lantern/linked.txt").row(0, named=True)
    assert row["error_type"] == "symlink_outside" and "--follow-links" in row["message"]
    assert "private note" not in " ".join(_documents(tmp_path / "out")["text"].to_list())
    assert followed.returncode == 0, followed.stderr
    assert "corpus/the-lantern/linked.txt" in _documents(tmp_path / "out2")["source_path"].to_list()


def test_a_bad_file_name_and_stray_nuls_do_not_stop_a_run(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(RAW / "the-lantern", corpus / "the-lantern")
    name = os.fsencode(corpus / "the-lantern") + b"/caf\xe9.txt"  # Latin-1, not UTF-8
    with open(name, "wb") as handle:
        handle.write(b"A page\n\n" + b"With ordinary words in a sentence of ordinary length for a page. " * 5)
    text = "The harbour page\n\n" + "The breakwater will be finished before the winter storms, the authority said. " * 4
    (corpus / "the-lantern" / "nul.txt").write_bytes(text.encode()[:60] + b"\x00" + text.encode()[60:] + b"\x00")
    done = corpusclean("run", str(corpus), "-o", str(tmp_path / "out"), "--workers", "1", "-q")
    assert done.returncode == 0, done.stderr
    errors = _errors(tmp_path / "out")
    assert errors.filter(pl.col("error_type") == "bad_file_name")["source_path"].to_list() == ["corpus/the-lantern/caf\\xe9.txt"]
    page = _documents(tmp_path / "out").filter(pl.col("source_path") == "corpus/the-lantern/nul.txt").row(0, named=True)
    assert page["encoding_evidence"].endswith("+nul-dropped") and "\x00" not in page["text"]
