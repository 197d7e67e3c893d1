"""Issue 5, hostile and broken input: the real CLI on a folder of bad inputs and one good page.

Every bad input is built here, in ``tmp_path``, at test time. Each must end as a row of ``errors`` (with
its stage, a stable error type and a message a person understands) or, where still usable, as a
document with the problem noted in its provenance, and the run must complete: exit 0, ``inputs ==
documents + errors``, every file of the folder accounted for, no traceback. Then: exit codes (1 with
``--strict``, 2 with one stderr line for usage errors), an unreadable file read without root's
override, a run killed with SIGKILL and resumed, and equal tables whatever the worker count.
"""

from __future__ import annotations

import ctypes
import gzip
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.conftest import REPO, corpusclean, corpusclean_together, kill_when

TABLES = ("documents", "paragraphs", "removed", "links", "errors")
RUSSIAN = (
    "Вчера вечером городской совет собрался на внеочередное заседание, чтобы обсудить строительство новой дамбы. "
    "Жители прибрежных кварталов долго жаловались на подтопления, и депутаты наконец выделили деньги на проект. "
    "По словам мэра, работы начнутся весной и продлятся около двух лет, а подрядчика выберут на открытом конкурсе. "
    "Противники стройки считают, что смета завышена, и требуют независимой экспертизы."
)
ARTICLE = [
    "The harbour council voted on Tuesday to build a tidal barrier across the mouth of the river.",
    "Residents of the low-lying quarters have complained about flooding for years, and the vote was close.",
    "Work is due to begin in the spring and to last about two years, the mayor said after the meeting.",
]
FIFTY_MB = 50_000_000


def cli(*args: str, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    return corpusclean(*args, timeout=timeout, **kwargs)


def html_page(title: str, paragraphs: list[str], head: str = "") -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return f"<html><head>{head}<title>{title}</title></head><body><article><h1>{title}</h1>{body}</article></body></html>"


def warc_record(kind: str, uri: str | None, block: bytes) -> bytes:
    content_type = "application/http; msgtype=response" if kind == "response" else "application/warc-fields"
    lines = ["WARC/1.0", f"WARC-Type: {kind}", "WARC-Date: 2024-05-07T12:00:00Z",
             *([f"WARC-Target-URI: {uri}"] if uri else []), f"Content-Type: {content_type}", f"Content-Length: {len(block)}"]
    return "\r\n".join(lines).encode() + b"\r\n\r\n" + block + b"\r\n\r\n"


def http_response(body: bytes, content_type: str = "text/html; charset=utf-8") -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n\r\n".encode() + body


def gzip_bomb(path: Path, size: int) -> None:
    """``size`` zero bytes gzipped, written without holding them in memory."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(1 << 20)
    with path.open("wb") as handle:
        for _ in range(size // len(chunk)):
            handle.write(compressor.compress(chunk))
        handle.write(compressor.flush())




def build_hostile(root: Path) -> dict[str, tuple]:
    """Write every hostile input of issue 5 (and one good page) into ``root``; return the expectations."""
    root.mkdir(parents=True, exist_ok=True)
    expected: dict[str, tuple] = {}

    def write(name: str, data: bytes | str, outcome: tuple) -> Path:
        path = root / name
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        expected[name] = outcome
        return path

    write("good.html", html_page("Tidal barrier approved", ARTICLE), ("document", "html", "ascii"))
    write("photo.html", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4,
          ("error", "read", "binary", "PNG image"))
    write("report.html", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
          ("error", "read", "binary", "PDF document"))
    write("empty.html", b"", ("error", "read", "empty", "file is empty"))
    write("blank.txt", b"  \n\t\r\n   \n", ("error", "read", "empty", "only white space"))
    whole = gzip.compress(html_page("Cut", ARTICLE * 40).encode())
    write("cut.html.gz", whole[: len(whole) // 2], ("error", "read", "truncated_gzip", "truncated"))
    # a WARC whose last record is cut: the page before the cut is a document
    good_record = warc_record("response", "https://warc.example/ok",
                              http_response(html_page("From the crawl", ARTICLE).encode()))
    cut_record = warc_record("response", "https://warc.example/cut", http_response(html_page("Cut", ARTICLE).encode()))
    write("crawl-cut.warc.gz", gzip.compress(warc_record("warcinfo", None, b"software: test\r\n"))
          + gzip.compress(good_record) + gzip.compress(cut_record)[:200],
          ("warc", {"document": 1, "truncated_warc": 1}))
    # a WARC with a malformed record in the middle: the records around it are documents
    malformed = b"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: twelve\r\n\r\nnot a record\r\n\r\n"
    later = warc_record("response", "https://warc.example/later", http_response(html_page("Later", ARTICLE[::-1]).encode()))
    write("crawl-bad.warc", good_record.replace(b"/ok", b"/ok2") + malformed + later
          + warc_record("response", "https://warc.example/logo.png",
                        http_response(b"\x89PNG\r\n\x1a\n" + bytes(64), "image/png")),
          ("warc", {"document": 2, "malformed_warc": 1, "not_html": 1}))
    write("ru-undeclared.html", html_page("Новости", [RUSSIAN]).encode("cp1251"), ("document", "html", "cp1251", "detected"))
    write("ru-wrong-charset.html", html_page("Новости", [RUSSIAN], '<meta charset="windows-1252">').encode("cp1251"),
          ("document", "html", "cp1251", "detected_over_declared"))
    line = json.dumps({"text": RUSSIAN, "url": "https://feed.example/ru"}, ensure_ascii=False).encode()
    cut_at = line.index("строительство".encode()) + 5  # inside a two-byte letter
    write("bad-utf8.jsonl", line[:cut_at] + b"\xff" + line[cut_at:] + b"\n", ("document", "text", "utf-8", "utf-8-repaired"))
    feed = [json.dumps({"text": " ".join(ARTICLE), "url": "https://feed.example/good"}),
            "this line is {not JSON",
            json.dumps({"body": "no text field", "url": "https://feed.example/x"})]
    write("feed.jsonl", "\n".join(feed) + "\n", ("jsonl", {"document": 1, "bad_json": 1, "missing_field": 1}))
    write("no-article.html", "<html><head><title>Menu</title></head><body><nav><a href='/'>Home</a> "
                             "<a href='/news'>News</a></nav><p>Subscribe</p></body></html>",
          ("error", None, "no_article", "no article"))
    depth = 100_000
    write("deep.html", "<html><body>" + "<div>" * depth + "<p>" + " ".join(ARTICLE) + "</p>" + "</div>" * depth
          + "</body></html>", ("error", "extract", "too_deep", "levels deep"))
    words = ("harbour", "council", "barrier", "vote", "river", "the", "and", "plan", "cost", "mayor", "tide")
    line = " ".join(words[i * 7 % len(words)] for i in range(FIFTY_MB // 5))[:FIFTY_MB]
    write("one-line.txt", line, ("document", "text", "ascii"))
    gzip_bomb(root / "bomb.txt.gz", 300 << 20)  # beyond input.max_decompressed_bytes (256 MiB by default)
    expected["bomb.txt.gz"] = ("error", "read", "decompression_limit", "gzip bomb")
    (root / "dangling.html").symlink_to(root / "deleted.html")
    expected["dangling.html"] = ("error", "discover", "broken_symlink", "missing target")
    (root / "loop.html").symlink_to(root / "loop.html")
    expected["loop.html"] = ("error", "discover", "symlink_loop", "loops")
    (root / "sub").mkdir()
    (root / "sub" / "up").symlink_to(root, target_is_directory=True)
    expected["sub/up"] = ("error", "discover", "symlink_loop", "loops back")
    return expected


def read_tables(out: Path) -> dict[str, pl.DataFrame]:
    return {name: pl.read_parquet(out / f"{name}.parquet") for name in TABLES}


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile") / "hostile"
    expected = build_hostile(root)
    out = root.parent / "out"
    started = time.perf_counter()
    completed = cli("run", str(root), "-o", str(out))
    seconds = time.perf_counter() - started
    return completed, expected, out, seconds


def test_run_completes_without_traceback(hostile_run):
    completed, _, out, seconds = hostile_run
    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr and "Traceback" not in completed.stdout
    assert (out / "manifest.json").is_file()
    assert seconds < 240, f"the hostile folder took {seconds:.0f} s"


def test_every_input_lands_where_expected(hostile_run):
    completed, expected, out, _ = hostile_run
    assert completed.returncode == 0, completed.stderr
    tables = read_tables(out)
    documents, errors = tables["documents"], tables["errors"]
    for name, outcome in expected.items():
        source = f"hostile/{name}"
        docs = documents.filter(pl.col("source_path") == source)
        errs = errors.filter(pl.col("source_path") == source)
        kind = outcome[0]
        if kind == "document":
            assert docs.height == 1 and errs.height == 0, (name, errs.to_dicts())
            row = docs.row(0, named=True)
            assert (row["format"], row["encoding"]) == outcome[1:3], (name, row["format"], row["encoding"])
            if len(outcome) > 3:
                assert row["encoding_evidence"] == outcome[3], (name, row["encoding_evidence"])
        elif kind == "error":
            _, stage, error_type, words = outcome
            assert docs.height == 0 and errs.height == 1, (name, docs.height, errs.to_dicts())
            row = errs.row(0, named=True)
            assert row["error_type"] == error_type, (name, row)
            if stage is not None:
                assert row["stage"] == stage, (name, row)
            assert words in row["message"], (name, row["message"])
            assert len(row["message"]) > 10 and "\n" not in row["message"]
        else:  # a container of several records: count what came out of it
            seen = {"document": docs.height}
            for error_type in errs["error_type"]:
                seen[error_type] = seen.get(error_type, 0) + 1
            assert seen == outcome[1], (name, seen, errs.to_dicts())
            assert set(errs["stage"]) <= {"read"}


def test_documents_say_what_was_wrong(hostile_run):
    _, _, out, _ = hostile_run
    documents = pl.read_parquet(out / "documents.parquet")
    by_name = {row["source_path"].split("/", 1)[1]: row for row in documents.to_dicts()}
    assert "Вчера вечером городской совет" in by_name["ru-undeclared.html"]["text"]
    assert "Вчера вечером городской совет" in by_name["ru-wrong-charset.html"]["text"]
    repaired = by_name["bad-utf8.jsonl"]["text"]
    assert "\ufffd" in repaired and "Жители прибрежных кварталов" in repaired
    assert by_name["one-line.txt"]["n_chars"] > 49_000_000
    warc = documents.filter(pl.col("source_path").str.starts_with("hostile/crawl-")).to_dicts()
    assert sorted(row["url"] for row in warc) == ["https://warc.example/later", "https://warc.example/ok",
                                                   "https://warc.example/ok2"]
    assert {row["container"] for row in warc} == {"warc"}


def test_accounting_and_manifest(hostile_run):
    _, expected, out, _ = hostile_run
    tables = read_tables(out)
    manifest = json.loads((out / "manifest.json").read_text())
    counts = manifest["counts"]
    assert counts["inputs"] == counts["documents"] + counts["errors"]
    assert counts["documents"] == tables["documents"].height and counts["errors"] == tables["errors"].height
    assert manifest["accounting"]["balanced"] is True
    seen = set(tables["documents"]["source_path"]) | set(tables["errors"]["source_path"])
    assert seen == {f"hostile/{name}" for name in expected}
    ids = pl.concat([tables["documents"]["doc_id"], tables["errors"]["doc_id"]])
    assert ids.n_unique() == ids.len()
    assert sum(manifest["errors_by_type"].values()) == counts["errors"]


def test_folder_of_only_bad_inputs_completes(tmp_path):
    root = tmp_path / "bad"
    root.mkdir()
    (root / "empty.html").write_bytes(b"")
    (root / "photo.html").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    (root / "menu.html").write_text("<html><body><nav><a href='/'>Home</a></nav></body></html>")
    completed = cli("run", str(root), "-o", str(tmp_path / "out"), "-q")
    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr
    assert pl.read_parquet(tmp_path / "out" / "errors.parquet").height == 3
    assert pl.read_parquet(tmp_path / "out" / "documents.parquet").height == 0


# --------------------------------------------------------------------------- exit codes


@pytest.fixture(scope="module")
def small_folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("small") / "small"
    root.mkdir()
    (root / "good.html").write_text(html_page("Tidal barrier approved", ARTICLE))
    (root / "empty.html").write_bytes(b"")
    return root


def test_strict_exits_1_and_plain_run_exits_0(small_folder, tmp_path):
    plain, strict = corpusclean_together(["run", str(small_folder), "-o", str(tmp_path / "a"), "-q"],
                                         ["run", str(small_folder), "-o", str(tmp_path / "b"), "-q", "--strict"])
    assert (plain.returncode, plain.stdout, plain.stderr) == (0, "", "")
    completed = strict
    assert completed.returncode == 1
    assert "1 input(s) failed" in completed.stderr and "Traceback" not in completed.stderr


@pytest.mark.parametrize("case", ["missing_input", "bad_config_key", "output_is_a_file", "bad_config_type"])
def test_usage_errors_exit_2_with_one_line(small_folder, tmp_path, case):
    out = tmp_path / "out"
    args = ["run", str(small_folder), "-o", str(out)]
    if case == "missing_input":
        args[1] = str(tmp_path / "no-such-folder")
        words = "does not exist"
    elif case == "bad_config_key":
        config = tmp_path / "bad.toml"
        config.write_text("[input]\nmax_decompresed_bytes = 10\n")
        args += ["-c", str(config)]
        words = "input.max_decompresed_bytes"
    elif case == "bad_config_type":
        config = tmp_path / "bad.toml"
        config.write_text("[run]\nshard_files = \"ten\"\n")
        args += ["-c", str(config)]
        words = "run.shard_files"
    else:
        out.write_text("I am a file, not a folder\n")
        words = "cannot write to output folder"
    completed = cli(*args)
    assert completed.returncode == 2, completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert lines[0].startswith("corpusclean: error: ") and words in lines[0]
    assert "Traceback" not in completed.stderr


# --------------------------------------------------------------------------- an unreadable file


def _reachable_by_others(path: Path) -> bool:
    """Whether a user other than root can execute ``path`` (every folder above it searchable)."""
    path = path.resolve()
    for folder in path.parents:
        if not folder.stat().st_mode & stat.S_IXOTH:
            return False
    return bool(path.stat().st_mode & stat.S_IXOTH)


def _drop_file_override() -> None:
    """In the child before exec: drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the bounding set,
    so the root process obeys file permissions (used when nobody cannot even run the interpreter)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def _become_nobody() -> None:
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to drop privileges")
def test_unreadable_file_is_an_error_not_a_crash():
    """chmod 000 does not stop root; run the CLI without the right to override file permissions.

    As the brief asks, the CLI runs as nobody (uid 65534) when nobody can run this interpreter. On a
    machine where the interpreter lives under a private home (here /root is 0700) nobody cannot, so
    the CLI runs as root without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH, which is the same for a
    mode-000 file: it cannot be read.
    """
    as_nobody = _reachable_by_others(Path(sys.executable))
    base = Path(tempfile.mkdtemp(prefix="corpusclean-unreadable-"))
    try:
        base.chmod(0o755)
        root = base / "inputs"
        root.mkdir(mode=0o755)
        (root / "good.html").write_text(html_page("Tidal barrier approved", ARTICLE))
        (root / "good.html").chmod(0o644)
        secret = root / "secret.html"
        secret.write_text(html_page("Secret", ARTICLE[::-1]))
        secret.chmod(0o000)
        scratch = base / "scratch"
        scratch.mkdir(mode=0o777)
        scratch.chmod(0o777)  # the output and caches, writable by the unprivileged process
        out = scratch / "out"
        env = dict(os.environ, HOME=str(scratch), XDG_CACHE_HOME=str(scratch / "cache"))
        if as_nobody:  # nobody cannot write numba's cache beside the package; root without the override
            # still owns it there, and reads the kernels compiled already instead of compiling them again
            env["NUMBA_CACHE_DIR"] = str(scratch / "numba")
        completed = cli("run", str(root), "-o", str(out), "-q", "--workers", "1", env=env,
                        preexec_fn=_become_nobody if as_nobody else _drop_file_override)
        assert completed.returncode == 0, completed.stderr
        assert "Traceback" not in completed.stderr
        errors = pl.read_parquet(out / "errors.parquet")
        assert errors.select("source_path", "stage", "error_type").rows() == [("inputs/secret.html", "read", "unreadable")]
        assert "Permission denied" in errors["message"][0]
        documents = pl.read_parquet(out / "documents.parquet")
        assert documents["source_path"].to_list() == ["inputs/good.html"]
    finally:
        shutil.rmtree(base, ignore_errors=True)


# --------------------------------------------------------------------------- kill -9 and resume; workers


@pytest.fixture(scope="module")
def many_pages(tmp_path_factory) -> tuple[Path, Path]:
    """400 small text pages in 10 outlets, some sharing paragraphs (so phase B has links), plus a config
    that cuts phase A into 40 shards."""
    base = tmp_path_factory.mktemp("many")
    root = base / "pages"
    for i in range(400):
        outlet = root / f"outlet-{i % 10}"
        outlet.mkdir(parents=True, exist_ok=True)
        shared = ARTICLE[i % 3]
        body = [f"Story {i} about the harbour, number {i * 7919 % 1000}, told in its own words by outlet {i % 10}.",
                shared, f"The council will meet again on day {i} to settle the remaining questions of the plan."]
        (outlet / f"story-{i:03d}.txt").write_text(f"Harbour story {i}\n\n" + "\n\n".join(body) + "\n")
    config = base / "shards.toml"
    # the shared paragraphs sit among unrelated stories, which is what chrome looks like; this
    # fixture is about workers and resumption, so templates are off and its links stay
    config.write_text("[run]\nshard_files = 10\n[dedup]\ntemplate_min_docs = 100000\n")
    return root, config


@pytest.fixture(scope="module")
def uninterrupted(many_pages, tmp_path_factory) -> dict[str, pl.DataFrame]:
    root, config = many_pages
    out = tmp_path_factory.mktemp("uninterrupted") / "out"
    completed = cli("run", str(root), "-o", str(out), "-c", str(config), "--workers", "1", "-q")
    assert completed.returncode == 0, completed.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["shards"] == 40 and manifest["counts"]["documents"] == 400
    return read_tables(out)


def test_workers_1_and_2_give_identical_tables(many_pages, uninterrupted, tmp_path):
    root, config = many_pages
    completed = cli("run", str(root), "-o", str(tmp_path / "out"), "-c", str(config), "--workers", "2", "-q")
    assert completed.returncode == 0, completed.stderr
    assert uninterrupted["links"].height > 0
    again = read_tables(tmp_path / "out")
    for name in TABLES:
        assert_frame_equal(again[name], uninterrupted[name])


def test_sigkill_in_phase_a_then_resume_gives_identical_tables(many_pages, uninterrupted, tmp_path):
    root, config = many_pages
    out = tmp_path / "out"
    command = [sys.executable, "-m", "corpusclean", "run", str(root), "-o", str(out), "-c", str(config),
               "--workers", "2", "-q"]
    shards = out / "_work" / "shards"
    process = kill_when(command, lambda: shards.is_dir() and any(
        p.is_dir() and not p.name.startswith(".") for p in shards.iterdir()))
    assert process.returncode == -signal.SIGKILL
    done = [p for p in shards.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert 0 < len(done) < 40, len(done)
    assert not (out / "manifest.json").exists()

    completed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["shards_resumed"] > 0 and manifest["shards"] == 40
    resumed = read_tables(out)
    for name in TABLES:
        assert_frame_equal(resumed[name], uninterrupted[name])


# --------------------------------------------------------------------------- the pieces, one at a time


def test_mostly_utf8_is_repaired_not_misdetected():
    from corpusclean.readers.decode import decode_bytes

    french = "Après trois jours de grève, les cheminots ont repris le travail. Le ministre a salué un accord."
    for bad in (b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\x80\x80\x80"):
        data = french.encode().replace(b"cheminots", b"chemi" + bad + b"nots")
        text, encoding, evidence = decode_bytes(data)
        assert (encoding, evidence) == ("utf-8", "utf-8-repaired")
        assert text.startswith("Après trois jours de grève") and "\ufffd" in text
    # text in a single-byte charset has (next to) no valid UTF-8 sequence: never taken for UTF-8
    for encoding in ("cp1251", "latin-1", "cp1252", "iso-8859-7"):
        sample = RUSSIAN if encoding == "cp1251" else french if encoding != "iso-8859-7" else "Το δημοτικό συμβούλιο ψήφισε."
        assert decode_bytes(sample.encode(encoding))[2] != "utf-8-repaired"


@pytest.mark.parametrize("text, encoding, declared, evidence", [
    (RUSSIAN, "cp1251", "windows-1252", "detected_over_declared"),
    (RUSSIAN, "cp1251", "iso-8859-1", "detected_over_declared"),
    (RUSSIAN, "cp1251", "windows-1251", "declared"),
    (RUSSIAN, "koi8-r", "koi8-r", "declared"),
    ("Le maire a présenté mercredi le budget de l'année prochaine. Les élus ont critiqué la hausse des impôts.",
     "latin-1", "iso-8859-1", "declared"),
    ("Rada miasta zagłosowała w czwartek za budową nowej zapory. Mieszkańcy skarżyli się na powodzie.",
     "cp1250", "windows-1250", "declared"),
    ("Der Stadtrat hat am Donnerstag über den Bau eines neuen Deichs abgestimmt. Überschwemmungen drohen.",
     "cp1252", "windows-1252", "declared"),
    ("Belediye meclisi perşembe günü yeni bir baraj inşası için oy kullandı. Kıyı sakinleri şikayet ediyordu.",
     "cp1254", "windows-1254", "declared"),
    ("Το δημοτικό συμβούλιο ψήφισε την Πέμπτη για την κατασκευή νέου φράγματος.", "iso-8859-7", "iso-8859-7",
     "declared"),
])
def test_a_declared_charset_is_overruled_only_when_plainly_wrong(text, encoding, declared, evidence):
    from corpusclean.readers.decode import decode_bytes, declared_charset

    data = html_page("Title", [text], f'<meta charset="{declared}">').encode(encoding)
    decoded, _, used_evidence = decode_bytes(data, declared_charset(data))
    assert used_evidence == evidence
    assert text in decoded


def test_jsonl_lone_surrogates_and_odd_values(tmp_path):
    from corpusclean.config import load_config
    from corpusclean.readers.discover import InputFile
    from corpusclean.readers.records import Record, read_records

    lines = [b'{"text": "Harbour news \\ud800 with a lone surrogate escape.", "title": "T\\udfff"}',
             b'{"text": null}', b'{"text": 12}', b'"just a string"', b'{"html": "", "text": "fallback text"}']
    path = tmp_path / "odd.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    items = list(read_records(InputFile(path, "x/odd.jsonl", None), dict(load_config().section("input"))))
    assert [type(item).__name__ for item in items] == ["Record", "RecordError", "RecordError", "RecordError", "Record"]
    first = items[0]
    assert isinstance(first, Record) and first.text == "Harbour news \ufffd with a lone surrogate escape."
    assert first.hints["title"] == "T\ufffd"
    assert [item.error_type for item in items[1:4]] == ["missing_field", "missing_field", "bad_json"]


def test_link_loops_of_files_are_symlink_loops(tmp_path):
    from corpusclean.readers.discover import discover

    root = tmp_path / "crawl"
    root.mkdir()
    (root / "page.html").write_text("<p>x</p>")
    (root / "self.html").symlink_to(root / "self.html")
    (root / "a.html").symlink_to(root / "b.html")
    (root / "b.html").symlink_to(root / "a.html")
    files, problems = discover([root])
    assert [f.source_path for f in files] == ["crawl/page.html"]
    assert [(p.source_path, p.error_type) for p in problems] == [
        ("crawl/a.html", "symlink_loop"), ("crawl/b.html", "symlink_loop"), ("crawl/self.html", "symlink_loop")]


def test_deep_and_huge_html_are_parsed_whole_or_refused():
    from corpusclean.errors import InputError
    from corpusclean.extractors.html import extract_html

    from corpusclean.config import load_config

    config = load_config().section("extract")
    sentence = " ".join(ARTICLE)
    # past libxml2's default 256 levels, within its huge 2048: the text is there (it used to vanish)
    deep = "<html><body>" + "<div>" * 1000 + f"<p>{sentence}</p>" + "</div>" * 1000 + "<p>After the nest.</p></body></html>"
    assert sentence in extract_html(deep, config).body
    with pytest.raises(InputError) as refused:
        extract_html("<html><body>" + "<span>" * 5000 + f"<p>{sentence}</p></body></html>", config)
    assert (refused.value.stage, refused.value.error_type) == ("extract", "too_deep")
    # a text node over libxml2's default 10 MB: parsed whole, not an empty "no article"
    big = " ".join(ARTICLE) + " "
    huge = f"<html><body><article><p>{big * (11_000_000 // len(big))}</p></article></body></html>"
    assert len(extract_html(huge, config).body) > 10_000_000
