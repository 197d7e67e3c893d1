"""Large JSONL files are cut into pieces at line starts, processed by any worker, merged back.

Pieces are planned by :func:`corpusclean.readers.records.jsonl_pieces` and read by ``read_records``;
the shards of a file's pieces are merged into the file's shard (:mod:`corpusclean.shards`). What must
hold: a piece yields exactly the items that reading the whole file yields for its lines (same offsets,
same ids), a run gives the very tables of the same run with no file cut (the planner told to cut
nothing, which is how every file was read before pieces; same config, so same ``config_hash``),
whatever the worker count and across a ``kill -9``, and a file-level failure is reported once.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import random
import subprocess
import sys
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from corpusclean import run
from corpusclean.config import load_config
from corpusclean.errors import InputError
from corpusclean.executors.ray_engine import _describe, _piece
from corpusclean.pipeline import run_extract
from corpusclean.readers import records as records_module
from corpusclean.readers.discover import InputFile, discover
from corpusclean.readers.records import _gunzip, _gunzip_stream, _LineStarts, jsonl_pieces, read_records
from corpusclean.shards import PHASE_A_TABLES, plan_shards
from tests.conftest import RAW, REPO, SHARED, corpusclean, kill_when, read_tables

INPUT = dict(load_config(None).section("input"))
ALLSIDES = SHARED / "allsides-dev"
PHASE_A = (*PHASE_A_TABLES, "fingerprints")

WORDS = ("harbour council barrier vote river plan cost mayor tide ferry island keeper lamp trust storm "
         "coast budget bridge school market winter summer report station volunteer crew boat").split()
WIRE = ["The regional council voted on Tuesday to fund the tidal barrier after a decade of debate about cost.",
        "Engineers said the barrier would protect four thousand homes from the winter storm surges each year.",
        "Opponents argued that the money should go to the ferry service and the island school instead."]
CHROME = "Share this story on Facebook Twitter and by email with your friends and family today"


def _story(rng: random.Random, i: int) -> str:
    body = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(18, 60))).capitalize() + "."
            for _ in range(rng.randint(2, 6))]
    if i % 3 == 0:
        body.insert(1, WIRE[i % len(WIRE)])
    if i % 4 == 0:
        body.append(CHROME)
    return "\n\n".join(body)


def _feed(records: int, seed: int = 7) -> bytes:
    """A JSONL feed with good records, bad lines of every kind, blank lines and mixed line endings."""
    rng = random.Random(seed)
    lines = []
    for i in range(records):
        if i % 37 == 5:
            lines.append(b"this line is {not JSON")
        elif i % 41 == 6:
            lines.append(json.dumps({"body": "no text field", "url": f"https://feed.example/x{i}"}).encode())
        elif i % 43 == 7:
            lines.append(b'["a", "list"]')
        elif i % 29 == 3:
            lines.append(b"   ")
        elif i % 31 == 4:
            lines.append(json.dumps({"html": f"<html><body><h1>Page {i}</h1><p>{_story(rng, i)}</p></body></html>",
                                     "url": f"https://feed.example/p/{i}"}).encode())
        else:
            outlet = f"outlet-{i % 5}"
            lines.append(json.dumps({"text": _story(rng, i), "title": f"Story number {i} of the feed",
                                     "url": f"https://{outlet}.example/{i}", "date": f"2024-05-{1 + i % 28:02d}",
                                     "outlet": outlet}, ensure_ascii=i % 2 == 0).encode())
    ends = [b"\n", b"\n", b"\n", b"\r\n", b"\r"]
    return b"".join(line + ends[i % len(ends)] for i, line in enumerate(lines))


def _file(tmp_path: Path, name: str, data: bytes) -> InputFile:
    path = tmp_path / name
    path.write_bytes(data)
    return InputFile(path, f"feeds/{name}", "feeds")


def _pieces_items(file: InputFile, pieces) -> list:
    return [item for piece in pieces for item in read_records(dataclasses.replace(file, piece=piece), INPUT)]


# --------------------------------------------------------------------------- reading pieces


TRICKY = (b"\xef\xbb\xbf" + b'{"text": "first line after a byte-order mark"}\r\n' + b"\r\n\r\n"
          + b'{"text": "after blank CRLF lines"}\r' + b'{"text": "after a lone CR"}\n\r\n'
          + b'{"text": "' + b"long " * 400 + b'"}\n' + b"not json\r\r\n" + b'{"text": "x"}\n' * 30
          + b'{"text": "no final newline"}')


@pytest.mark.parametrize("name,compress", [("tricky.jsonl", False), ("tricky.jsonl.gz", True),
                                            ("feed.ndjson", False), ("feed.ndjson.gz", True)])
def test_pieces_yield_exactly_the_whole_files_items(tmp_path, name, compress):
    data = TRICKY if name.startswith("tricky") else _feed(300)
    file = _file(tmp_path, name, gzip.compress(data) if compress else data)
    whole = list(read_records(file, INPUT))
    assert len(whole) > 30
    line_starts, offset = {0}, 0
    for line in data.splitlines(keepends=True):
        offset += len(line)
        line_starts.add(offset)
    cut_somewhere = False
    for piece_bytes in (40, 97, 256, 1000, 4096, len(data) // 3, len(data) - 1):
        pieces = jsonl_pieces(file, INPUT, piece_bytes)
        if pieces is None:
            continue
        cut_somewhere = True
        assert [p.index for p in pieces] == list(range(len(pieces))) and {p.count for p in pieces} == {len(pieces)}
        assert pieces[0].start == 0 and pieces[-1].end == len(data)
        assert all(a.end == b.start for a, b in zip(pieces, pieces[1:]))
        assert all(p.start in line_starts for p in pieces), "a piece starts mid-line"
        assert _pieces_items(file, pieces) == whole, piece_bytes
        if compress:  # out of order: the process's open stream is dropped and started again
            assert [i for piece in reversed(pieces) for i in read_records(dataclasses.replace(file, piece=piece), INPUT)] \
                == [i for piece in reversed(pieces) for i in whole if piece.start <= i.record_offset < piece.end]
    assert cut_somewhere
    assert jsonl_pieces(file, INPUT, len(data)) is None  # small enough: read whole, as before


def test_line_starts_are_those_of_splitlines():
    rng = random.Random(3)
    for _ in range(300):
        data = bytes(rng.choice(b"ab\r\n") for _ in range(rng.randint(1, 120)))
        truth = []
        offset = 0
        for line in data.splitlines(keepends=True):
            offset += len(line)
            truth.append(offset)
        truth = [t for t in truth if t < len(data)]
        cuts = sorted(rng.sample(range(len(data) + 1), min(len(data) + 1, rng.randint(1, 6))))
        chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])]
        step = rng.randint(1, 20)
        grid = _LineStarts(step=step)
        for chunk in chunks:
            grid.feed(chunk)
        expected, target = [], step
        while True:
            after = [t for t in truth if t >= target]
            if not after:
                break
            expected.append(after[0])
            target = (after[0] // step + 1) * step
        assert [f for f in grid.found if f < len(data)] == expected, (data, step)
        target = rng.randint(1, len(data))
        one = _LineStarts(origin=target - 1, first=target)
        for chunk in [data[target - 1:][i:i + 3] for i in range(0, len(data), 3)]:
            one.feed(chunk)
        first = [t for t in truth if t >= target][:1]
        assert [f for f in one.found if f < len(data)][:1] == first, (data, target)


def _gunzip_outcome(data: bytes, limit: int):
    try:
        return _gunzip(data, limit)
    except InputError as error:
        return error.error_type


def _stream_outcome(path: Path, limit: int):
    try:
        with path.open("rb") as handle:
            return b"".join(_gunzip_stream(handle, limit))
    except InputError as error:
        return error.error_type


def test_streamed_gunzip_refuses_what_gunzip_refuses(tmp_path, monkeypatch):
    monkeypatch.setattr(records_module, "_GZIP_OUT_CHUNK", 1000)  # many small chunks, pending output
    monkeypatch.setattr(records_module, "_GZIP_IN_CHUNK", 333)
    text = _feed(60)
    member = gzip.compress(text)
    cases = {"one member": member, "members": member + gzip.compress(b"more\n") + gzip.compress(b""),
             "truncated": member[:len(member) // 2], "header only": member[:10], "corrupt": member[:40] + b"\0" * 50
             + member[90:], "trailing garbage": member + b"garbage", "trailing zeros": member + b"\0\0\0\0",
             "trailing magic": member + b"\x1f\x8b", "bomb": gzip.compress(b"\n" * 3_000_000)}
    for name, data in cases.items():
        path = tmp_path / "case.gz"
        path.write_bytes(data)
        for limit in (10 ** 9, len(text), len(text) - 1):
            assert _stream_outcome(path, limit) == _gunzip_outcome(data, limit), (name, limit)


def test_a_changed_file_is_read_whole_and_each_piece_keeps_its_lines(tmp_path):
    data = _feed(200)
    for name, encode in (("feed.jsonl", bytes), ("feed.jsonl.gz", gzip.compress)):
        file = _file(tmp_path, name, encode(data))
        pieces = jsonl_pieces(file, INPUT, 5000)
        assert pieces and len(pieces) > 3
        changed = data + json.dumps({"text": "A line written after the plan. " * 5}).encode() + b"\n"
        file.path.write_bytes(encode(changed))
        assert _pieces_items(file, pieces) == list(read_records(file, INPUT))  # nothing lost, nothing twice
        file.path.write_bytes(encode(data)[:-7] if name.endswith(".gz") else b"\x89PNG\r\n\x1a\n" + bytes(len(data)))
        errors = _pieces_items(file, pieces)
        assert [(e.record_offset, e.error_type) for e in errors] == \
            [(0, "truncated_gzip" if name.endswith(".gz") else "binary")]  # once: the first piece's


@pytest.mark.parametrize("name,data,config", [
    ("big.jsonl", _feed(200), {"max_file_bytes": 10_000}),  # too large: the cap holds, split or not
    ("big.jsonl.gz", gzip.compress(_feed(200)), {"max_decompressed_bytes": 10_000}),  # a gzip bomb
    ("cut.jsonl.gz", gzip.compress(_feed(200))[:-20], {}),  # truncated
    ("bad.jsonl.gz", gzip.compress(_feed(200))[:30] + b"\0" * 400 + gzip.compress(_feed(200))[430:], {}),  # corrupt
    ("nul.jsonl", b'{"text": "a"}\n' + b"\0" * 5000 + _feed(200), {}),  # binary: NULs are 2 % of it
    ("image.jsonl", b"\x89PNG\r\n\x1a\n" + _feed(200), {}),
    ("wide.jsonl", "\ufeff".encode("utf-16-le") + _feed(200).decode("latin-1").encode("utf-16-le"), {}),
    ("blank-head.jsonl", b" " * 70_000 + _feed(200), {}),  # not split (the head cannot tell it from empty)
    ("crawl.jsonl", b"WARC/1.0\r\nWARC-Type: warcinfo\r\nContent-Length: 0\r\n\r\n\r\n\r\n" + _feed(200), {}),
    ("feed.txt", _feed(200), {}),  # not JSONL by name
])
def test_what_reading_whole_would_refuse_is_not_cut(tmp_path, name, data, config):
    file = _file(tmp_path, name, data)
    assert jsonl_pieces(file, {**INPUT, **config}, 2000) is None


def test_a_feed_with_two_stray_nuls_is_read_and_cut_alike(tmp_path):
    # a scraper's stray NULs make no binary file (corpusclean.readers.decode): the line holding them
    # is a bad line, read whole or in pieces
    file = _file(tmp_path, "nul.jsonl", b'{"text": "a"}\n\0\0' + _feed(200))
    pieces = jsonl_pieces(file, INPUT, 2000)
    assert pieces and _pieces_items(file, pieces) == list(read_records(file, INPUT))


def test_a_broken_large_jsonl_is_reported_once(tmp_path):
    corpus = tmp_path / "feeds"
    corpus.mkdir()
    feed = _feed(300)
    (corpus / "a-truncated.jsonl.gz").write_bytes(gzip.compress(feed)[:-30])
    (corpus / "b-binary.jsonl").write_bytes(b"\x7fELF" + feed)
    (corpus / "c-good.jsonl").write_bytes(feed)
    (corpus / "d-too-large.jsonl").write_bytes(feed * 3)
    config = tmp_path / "pieces.toml"
    config.write_text(f"[run]\nshard_mb = 0.02\n[input]\nmax_file_bytes = {len(feed) * 2}\n")
    result = run([corpus], tmp_path / "out", config=config, workers=1, keep_work=True)
    errors = result.read("errors")
    file_errors = errors.filter(pl.col("record_offset") == 0).select("source_path", "error_type").rows()
    assert sorted(file_errors) == [("feeds/a-truncated.jsonl.gz", "truncated_gzip"), ("feeds/b-binary.jsonl", "binary"),
                                   ("feeds/d-too-large.jsonl", "too_large")]
    assert errors.filter(pl.col("source_path") != "feeds/c-good.jsonl").height == 3
    record = json.loads((tmp_path / "out" / "_work" / "phase_a.json").read_text())
    assert record["pieces"] > 5  # the good file was cut; the others were read whole
    assert result.manifest["accounting"]["balanced"]


# --------------------------------------------------------------------------- plans and names


def test_piece_shards_are_named_by_file_config_and_range(tmp_path):
    data = _feed(300)
    files = [_file(tmp_path, "a.txt", b"A small page about the harbour council and its vote."),
             _file(tmp_path, "b-feed.jsonl.gz", gzip.compress(data)), _file(tmp_path, "c.txt", b"Another small page.")]
    plan = plan_shards(files, 1000, "c", 20_000, INPUT)
    assert plan == plan_shards(files, 1000, "c", 20_000, INPUT)
    assert [bool(shard.pieces) for shard in plan] == [False, True, False] and len(plan[1].pieces) > 5
    big = plan[1]
    assert big.files == (files[1],) and all(piece.files[0].piece is not None for piece in big.pieces)
    assert all(piece.name.startswith(big.name + ".piece-") for piece in big.pieces)
    indexes = [shard.index for shard in plan] + [piece.index for piece in big.pieces]
    assert sorted(indexes) == list(range(len(indexes)))  # executors tell units apart by index
    # the file's shard is the one it would be read whole in: same name as with no pieces planned
    assert big.name == plan_shards(files, 1000, "c", 20_000)[1].name
    others = plan_shards(files, 1000, "c", 10_000, INPUT)
    assert {p.name for p in others[1].pieces}.isdisjoint({p.name for p in big.pieces})
    assert {p.name for p in plan_shards(files, 1000, "other", 20_000, INPUT)[1].pieces}.isdisjoint(
        {p.name for p in big.pieces})
    assert sum(piece.bytes for piece in big.pieces) <= big.bytes


def test_ray_shard_descriptions_carry_the_pieces(tmp_path):
    file = _file(tmp_path, "feed.jsonl", _feed(100))
    shard = plan_shards([file], 1000, "c", 3000, INPUT)[0]
    for unit in (shard, *shard.pieces):
        described = _describe(unit)
        assert [_piece(text) for text in described["pieces"]] == [f.piece for f in unit.files]


# --------------------------------------------------------------------------- whole runs


def _config(tmp_path: Path, name: str, shard_mb: float, extra: str = "") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(f"[run]\nshard_mb = {shard_mb}\n{extra}")
    return path


def _whole(step, *args, **kwargs):
    """``step(*args, **kwargs)`` (``run`` or ``run_extract``) with no file cut into pieces: as before them."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("corpusclean.shards.jsonl_pieces", lambda *_: None)
        return step(*args, **kwargs)


def _assert_same_tables(left: Path, right: Path) -> None:
    a, b = read_tables(left), read_tables(right)
    for name in a:
        assert_frame_equal(a[name], b[name])
    assert_frame_equal(pl.read_parquet(left / "fingerprints.parquet"), pl.read_parquet(right / "fingerprints.parquet"))


@pytest.fixture(scope="module")
def feeds(tmp_path_factory) -> Path:
    """A folder with a plain and a gzipped JSONL feed (about 450 KB each) and a small text page."""
    root = tmp_path_factory.mktemp("feeds") / "feeds"
    (root / "wire").mkdir(parents=True)
    (root / "wire" / "feed.jsonl").write_bytes(_feed(300, seed=1))
    (root / "wire" / "more.jsonl.gz").write_bytes(gzip.compress(_feed(300, seed=2)))
    (root / "wire" / "page.txt").write_text("Harbour story\n\n" + WIRE[0] + "\n\n" + CHROME + "\n")
    return root


@pytest.fixture(scope="module")
def whole_run(feeds, tmp_path_factory) -> Path:
    """The feeds read whole, at ``run.shard_mb = 0.05``: the tables before pieces existed."""
    base = tmp_path_factory.mktemp("whole")
    out = base / "out"
    _whole(run, [feeds], out, config=_config(base, "cut", 0.05), workers=1, keep_work=True)
    assert json.loads((out / "_work" / "phase_a.json").read_text())["pieces"] == 0
    return out


@pytest.mark.parametrize("workers", [1, 2])
def test_cut_feeds_give_the_tables_of_whole_feeds(feeds, whole_run, tmp_path, workers):
    out = tmp_path / "out"
    seen = []
    result = run([feeds], out, config=_config(tmp_path, "cut", 0.05), workers=workers, keep_work=True,
                 on_progress=lambda stage, done, total, _: seen.append((stage, done, total)))
    record = json.loads((out / "_work" / "phase_a.json").read_text())
    assert record["pieces"] >= 10 and len(record["shards"]) == 3  # each feed a shard of its own, merged
    assert not [p for p in (out / "_work" / "shards").iterdir() if ".piece-" in p.name]  # merged, then removed
    clean = [(done, total) for stage, done, total in seen if stage == "clean"]
    assert clean[-1] == (3, 3) and all(done <= total for done, total in clean)
    assert result.counts["documents"] > 500 and result.counts["links"] > 0 and result.counts["removed"] > 0
    _assert_same_tables(out, whole_run)


def test_a_piece_of_only_bad_lines_merges_with_the_others(tmp_path):
    corpus = tmp_path / "feeds"
    corpus.mkdir()
    good = _feed(40, seed=3)
    (corpus / "feed.jsonl.gz").write_bytes(gzip.compress(good + b"{not json at all}\n" * 3000 + good))
    config = load_config(_config(tmp_path, "cut", 0.02))
    whole = _whole(run_extract, [corpus], tmp_path / "whole", config, workers=1)
    cut = run_extract([corpus], tmp_path / "cut", config, workers=1)
    assert cut["pieces"] >= 4 and cut["shards"] == whole["shards"]
    for table in PHASE_A:
        assert_frame_equal(*(pl.read_parquet(tmp_path / out / "_work" / "shards" / whole["shards"][0] / f"{table}.parquet")
                             for out in ("cut", "whole")))


def test_raw_cut_into_pieces_gives_the_same_tables(tmp_path):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    config = _config(tmp_path, "tiny", 0.0005)  # raw/'s 1.7 KB feed.jsonl in pieces
    _whole(run, [RAW], whole, config=config, workers=1)
    run([RAW], cut, config=config, workers=2, keep_work=True)
    assert json.loads((cut / "_work" / "phase_a.json").read_text())["pieces"] >= 2
    _assert_same_tables(cut, whole)


def test_merging_finished_pieces_and_dropping_leftovers(feeds, whole_run, tmp_path):
    # pieces done by an earlier run that stopped before merging them: the rerun only merges
    from corpusclean.clean import Context
    from corpusclean.executors.local import run_shards

    config = load_config(_config(tmp_path, "cut", 0.05))
    out = tmp_path / "out"
    files, _ = discover([feeds])
    context = Context.from_config(config)
    plan = plan_shards(files, 1000, context.config_hash, 50_000, config.section("input"))
    shards_dir = out / "_work" / "shards"
    shards_dir.mkdir(parents=True)
    run_shards([piece for shard in plan for piece in shard.pieces], context.to_json(), shards_dir, 1)
    record = run_extract([feeds], out, config, workers=1)
    assert record["pieces"] == record["pieces_resumed"] > 0 and record["shards_resumed"] == 0
    # a run killed after merging, before removing the pieces: the next run removes them
    leftover = shards_dir / plan[0].pieces[0].name
    leftover.mkdir()
    record = run_extract([feeds], out, config, workers=1)
    assert record["shards_resumed"] == len(plan) and not leftover.exists()
    run([feeds], out, config=config, workers=1)
    _assert_same_tables(out, whole_run)


def test_sigkill_while_pieces_run_then_resume_gives_identical_tables(tmp_path):
    corpus = tmp_path / "big"
    corpus.mkdir()
    (corpus / "feed.jsonl.gz").write_bytes(gzip.compress(_feed(1500, seed=5)))
    whole = tmp_path / "whole"
    config = _config(tmp_path, "cut", 0.08)
    _whole(run, [corpus], whole, config=config, workers=1)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "corpusclean", "run", str(corpus), "-o", str(out), "-c", str(config),
               "--workers", "2", "-q", "--keep-work"]
    shards = out / "_work" / "shards"
    kill_when(command, lambda: shards.is_dir() and any(
        p.is_dir() and ".piece-" in p.name and not p.name.startswith(".") for p in shards.iterdir()))
    done = [p for p in shards.iterdir() if p.is_dir() and not p.name.startswith(".")]
    record_pieces = len(plan_shards(discover([corpus])[0], 1000, "x", 80_000, INPUT)[0].pieces)
    assert 0 < len(done) < record_pieces and all(".piece-" in p.name for p in done)
    completed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr
    record = json.loads((out / "_work" / "phase_a.json").read_text())
    assert 0 < record["pieces_resumed"] < record["pieces"] == record_pieces
    _assert_same_tables(out, whole)


def test_allsides_dev_cut_into_pieces_gives_the_whole_files_phase_a(tmp_path):
    # phase A is where pieces differ; phase B reads the merged shard, which must equal the whole file's
    if not (ALLSIDES / "allsides-dev.jsonl.gz").is_file():
        pytest.skip("../shared/allsides-dev is absent (it sits beside the checkout in CI)")
    # cut: the real command's phase A (two workers), in a subprocess beside the whole files' phase A
    # in this process (one worker: each file is one unit of work), which is what keeps a core busy
    with ThreadPoolExecutor(1) as beside:
        cut = beside.submit(corpusclean, "extract", str(ALLSIDES), "-o", str(tmp_path / "cut"), "--workers", "2", "-q")
        whole = _whole(run_extract, [ALLSIDES], tmp_path / "whole", workers=1)
        done = cut.result()
    assert done.returncode == 0, done.stderr
    outputs = {"whole": whole, "cut": json.loads((tmp_path / "cut" / "_work" / "phase_a.json").read_text())}
    assert outputs["whole"]["pieces"] == 0 and outputs["cut"]["pieces"] >= 9
    assert outputs["cut"]["shards"] == outputs["whole"]["shards"]  # phase B sees the same shards
    for name in outputs["cut"]["shards"]:
        for table in PHASE_A:
            assert_frame_equal(pl.read_parquet(tmp_path / "cut" / "_work" / "shards" / name / f"{table}.parquet"),
                               pl.read_parquet(tmp_path / "whole" / "_work" / "shards" / name / f"{table}.parquet"))
