"""The output folder's protocol in one process: the lock, the swap, its two-rename fallback, and what
the next start repairs (:mod:`corpusclean.writers.output`). The kills themselves are in test_faults.py."""

from __future__ import annotations

import json
import os

import pytest

from corpusclean.errors import UsageError
from corpusclean.writers import output
from corpusclean.writers.output import LOCK_NAME, OutputFolder, _lock_file


def _corpus(folder, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps({"run": name}))


def _run_in(folder) -> str:
    return json.loads((folder / "manifest.json").read_text())["run"]


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2-exchange", "two-renames"])
def test_commit_puts_the_new_tables_in_place_and_leaves_nothing_beside(tmp_path, monkeypatch, exchange):
    if not exchange:  # as on a system or file system without RENAME_EXCHANGE
        monkeypatch.setattr(output, "_exchange", lambda a, b: False)
    out = tmp_path / "out"
    _corpus(out, "old")
    (out / "_work").mkdir()
    (out / "_work" / "phase_a.json").write_text("{}")
    with OutputFolder(out) as folder:
        staging = folder.staging()
        _corpus(staging, "new")
        folder.commit(staging, keep_work=True)
        assert (out / LOCK_NAME).is_file()
    assert _run_in(out) == "new" and (out / "_work" / "phase_a.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_fallback_switch_killed_between_its_renames_is_repaired_at_the_next_start(tmp_path):
    out = tmp_path / "out"
    _corpus(tmp_path / ".out.prev-4242", "old")  # OUT renamed away, the staging folder not yet in
    _corpus(tmp_path / ".out.next-4242", "new")
    with OutputFolder(out):
        pass
    assert _run_in(out) == "old"  # the previous corpus, whole; the half-switched new one is gone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_leftovers_of_a_killed_run_are_removed_and_its_resume_data_kept(tmp_path):
    out = tmp_path / "out"
    _corpus(out, "old")
    staging = tmp_path / ".out.next-4242"  # killed after moving _work into staging, before the swap
    (staging / "_work" / "shards").mkdir(parents=True)
    (out / ".documents.parquet.4242.tmp").write_bytes(b"half")
    with OutputFolder(out):
        pass
    assert not staging.exists() and not (out / ".documents.parquet.4242.tmp").exists()
    assert (out / "_work" / "shards").is_dir() and _run_in(out) == "old"


def test_a_held_lock_refuses_a_second_holder_and_is_free_after(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    holder = {"pid": 1, "host": "h", "command": "run", "since": "now"}
    first = _lock_file(out / LOCK_NAME, holder)
    assert first is not None and _lock_file(out / LOCK_NAME, holder) is None  # flock is per open file
    os.close(first)
    second = _lock_file(out / LOCK_NAME, holder)
    assert second is not None
    os.close(second)


def test_the_lock_is_reentrant_in_one_process_and_released_at_the_outer_exit(tmp_path):
    out = tmp_path / "out"
    with OutputFolder(out, "run") as outer:
        with OutputFolder(out, "extract") as inner:
            assert inner is outer
        assert _lock_file(out / LOCK_NAME, {}) is None  # still held by the outer block
    fd = _lock_file(out / LOCK_NAME, {})
    assert fd is not None
    os.close(fd)


def test_an_output_folder_that_is_a_file_is_one_usage_error(tmp_path):
    (tmp_path / "out").write_text("not a folder")
    with pytest.raises(UsageError, match="cannot write to output folder"):
        with OutputFolder(tmp_path / "out"):
            pass
