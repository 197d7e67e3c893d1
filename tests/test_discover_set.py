"""Issue 13, inputs are a set: every file read once under one source path, on real files in tmp_path.

discover() is called directly on real folders, real symbolic links and real file names that are not
UTF-8 (made with bytes paths); the stray-NUL rule of decode is checked on bytes; and the real CLI runs
once on a folder holding a badly named file and folder and a text page with stray NUL bytes.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import polars as pl
import pytest

from corpusclean.errors import UsageError
from corpusclean.readers.decode import decode_bytes, decode_text, stray_nuls
from corpusclean.readers.discover import discover
from tests.conftest import corpusclean, read_tables

ARTICLE = ("The harbour council voted on Tuesday to build a tidal barrier across the mouth of the river.\n\n"
           "Residents of the low-lying quarters have complained about flooding for years, and the vote was close.\n\n"
           "Work is due to begin in the spring and to last about two years, the mayor said after the meeting.\n")


def _tree(root: Path, *relatives: str) -> Path:
    for relative in relatives:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"content of {relative}")
    return root


def _crawl(tmp_path: Path) -> Path:
    return _tree(tmp_path / "crawl", "alpha/a.html", "alpha/b.txt", "beta/c.html", "beta/sub/d.html", "top.txt")


def _sources(found) -> list[str]:
    return [item.source_path for item in found]


def _write_bytes_name(path: bytes, data: bytes) -> None:
    """A file whose name is raw bytes (not necessarily UTF-8), as a crawl from another system has."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _assert_unique_and_utf8(files, problems) -> None:
    sources = _sources(files) + _sources(problems)
    assert len(sources) == len(set(sources)), sources
    for item in [*files, *problems]:
        item.source_path.encode("utf-8")  # what the Parquet writer needs
    for problem in problems:
        problem.message.encode("utf-8")


# --------------------------------------------------------------------------- the same file, once


def test_a_repeated_argument_is_read_once(tmp_path):
    root = _crawl(tmp_path)
    once = discover([root])
    assert discover([root, root]) == once
    assert discover([root, Path(f"{root}/./"), root / "alpha" / ".."]) == once
    assert _sources(once[0]) == ["crawl/alpha/a.html", "crawl/alpha/b.txt", "crawl/beta/c.html",
                                 "crawl/beta/sub/d.html", "crawl/top.txt"]


@pytest.mark.parametrize("order", ["outer first", "inner first"])
def test_a_folder_and_its_subfolder_give_the_outer_view(tmp_path, order):
    root = _crawl(tmp_path)
    arguments = [root, root / "beta", root / "beta" / "sub" / "d.html"]
    if order == "inner first":
        arguments.reverse()
    files, problems = discover(arguments)
    assert (files, problems) == discover([root])
    beta = [f for f in files if "/beta/" in f.source_path]
    assert [(f.source_path, f.folder_outlet) for f in beta] == [("crawl/beta/c.html", "beta"),
                                                                ("crawl/beta/sub/d.html", "beta")]


def test_a_link_to_a_folder_already_walked_adds_nothing(tmp_path):
    root = _crawl(tmp_path)
    (root / "alpha" / "to-beta").symlink_to(root / "beta", target_is_directory=True)
    (root / "zz-to-alpha").symlink_to(root / "alpha", target_is_directory=True)
    files, problems = discover([root])
    assert _sources(files) == _sources(discover([_crawl(tmp_path / "clean")])[0]) and problems == []
    # the folders' files keep their own paths, not the links' (alpha/to-beta sorts before beta)
    assert not any("to-beta" in s or "zz-to-alpha" in s for s in _sources(files))
    assert len(files) == 5


def test_a_link_to_a_file_already_reached_is_read_once(tmp_path):
    root = _crawl(tmp_path)
    (root / "beta" / "same-as-a.html").symlink_to(root / "alpha" / "a.html")
    (root / "alpha" / "again.html").symlink_to("a.html")
    files, problems = discover([root])
    assert problems == []
    reals = [f.path.resolve() for f in files]
    assert len(reals) == len(set(reals)) == 5
    # the first path in walking order wins: alpha/a.html before alpha/again.html and beta/…
    assert "crawl/alpha/a.html" in _sources(files)


def test_a_link_to_a_folder_reached_only_through_it_is_walked(tmp_path):
    root = _crawl(tmp_path)
    _tree(root, ".cache/kept.html")  # hidden: not walked, but a link to it is followed
    (root / "alpha" / "cache").symlink_to(root / ".cache", target_is_directory=True)
    files, problems = discover([root])
    assert problems == [] and "crawl/alpha/cache/kept.html" in _sources(files)
    assert {f.folder_outlet for f in files if f.source_path == "crawl/alpha/cache/kept.html"} == {"alpha"}


def test_a_link_to_a_file_of_another_argument_counts_as_inside(tmp_path):
    root = _crawl(tmp_path)
    other = _tree(tmp_path / "other", "page.html")
    (root / "alpha" / "link.html").symlink_to(other / "page.html")
    files, problems = discover([other, root])
    assert problems == []
    assert "other/page.html" in _sources(files) and "crawl/alpha/link.html" not in _sources(files)
    files, problems = discover([root, other / "page.html"])
    assert problems == [] and "crawl/alpha/link.html" in _sources(files) and "page.html" not in _sources(files)


# --------------------------------------------------------------------------- different files, different paths


@pytest.mark.parametrize("order", [("A", "B"), ("B", "A")])
def test_folders_of_the_same_name_are_told_apart(tmp_path, order):
    for parent in ("A", "B"):
        _tree(tmp_path / parent / "raw", "x.html", f"only-{parent}.html")
    files, problems = discover([tmp_path / parent / "raw" for parent in order])
    assert problems == []
    assert _sources(files) == ["A/raw/only-A.html", "A/raw/x.html", "B/raw/only-B.html", "B/raw/x.html"]
    # the outlet is still the first folder below the input folder: none here
    assert {f.folder_outlet for f in files} == {None}
    _assert_unique_and_utf8(files, problems)


def test_labels_come_from_the_closest_common_folder_not_the_machine(tmp_path):
    _tree(tmp_path / "raw", "outlet/x.html")
    _tree(tmp_path / "deep" / "er" / "raw", "outlet/x.html")
    files, _ = discover([tmp_path / "raw", tmp_path / "deep" / "er" / "raw"])
    assert _sources(files) == ["deep/er/raw/outlet/x.html", "raw/outlet/x.html"]
    assert {f.folder_outlet for f in files} == {"outlet"}
    # a name that collides with none keeps its bare form, as before
    files, _ = discover([tmp_path / "raw", tmp_path / "deep"])
    assert _sources(files) == ["deep/er/raw/outlet/x.html", "raw/outlet/x.html"]


def test_files_of_the_same_name_are_told_apart(tmp_path):
    _tree(tmp_path, "A/x.html", "B/x.html")
    files, problems = discover([tmp_path / "A" / "x.html", tmp_path / "B" / "x.html"])
    assert _sources(files) == ["A/x.html", "B/x.html"] and problems == []


def test_a_collision_labels_cannot_tell_apart_is_a_usage_error(tmp_path):
    _tree(tmp_path / "A" / "raw", "x.html")
    _tree(tmp_path / "B" / "raw", "y.html")
    _tree(tmp_path / "C" / "A", "raw/x.html")  # C/A gives A/raw/x.html too, for another file
    with pytest.raises(UsageError) as caught:
        discover([tmp_path / "A" / "raw", tmp_path / "B" / "raw", tmp_path / "C" / "A"])
    message = str(caught.value)
    assert "\n" not in message and "A/raw/x.html" in message
    assert str(tmp_path / "A" / "raw" / "x.html") in message and str(tmp_path / "C" / "A" / "raw" / "x.html") in message


# --------------------------------------------------------------------------- excluded folders (the output)


def test_an_output_folder_inside_the_input_is_never_read(tmp_path):
    root = _crawl(tmp_path)
    out = _tree(root / "out", "documents.parquet", "_work/shards/0/documents.parquet", "manifest.json")
    (root / "alpha" / "to-out").symlink_to(out, target_is_directory=True)
    (root / "alpha" / "to-manifest.json").symlink_to(out / "manifest.json")
    files, problems = discover([root], exclude=[out])
    assert _sources(files) == _sources(discover([_crawl(tmp_path / "clean")])[0]) and problems == []
    # however it is spelled (relative, with a trailing "."), it is the same folder
    files, problems = discover([root], exclude=[Path(os.path.relpath(out)) / "."])
    assert len(files) == 5 and problems == []
    # without exclude, the tables would be read
    assert "crawl/out/documents.parquet" in _sources(discover([root])[0])


@pytest.mark.parametrize("inside", ["", "_work", "_work/shards"])
def test_an_input_in_the_excluded_folder_is_a_usage_error(tmp_path, inside):
    out = _tree(tmp_path / "out", "_work/shards/0/documents.parquet")
    with pytest.raises(UsageError, match="is inside") as caught:
        discover([out / inside if inside else out], exclude=[out])
    assert "\n" not in str(caught.value) and str(out) in str(caught.value)
    with pytest.raises(UsageError, match="is inside"):
        discover([out / "_work" / "shards" / "0" / "documents.parquet"], exclude=[out])


# --------------------------------------------------------------------------- links outside the inputs


def test_links_outside_the_inputs_are_not_followed_by_default(tmp_path):
    root = _crawl(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("password")
    private = _tree(tmp_path / "private", "notes.html", "deeper/more.html")
    (root / "alpha" / "passwd").symlink_to(secret)
    (root / "beta" / "private").symlink_to(private, target_is_directory=True)
    (root / "beta" / "etc-passwd").symlink_to("/etc/passwd")
    files, problems = discover([root])
    assert _sources(files) == _sources(discover([_crawl(tmp_path / "clean")])[0])
    assert [(p.source_path, p.error_type) for p in problems] == [
        ("crawl/alpha/passwd", "symlink_outside"), ("crawl/beta/etc-passwd", "symlink_outside"),
        ("crawl/beta/private", "symlink_outside")]
    assert all("--follow-links" in p.message for p in problems)

    files, problems = discover([root], follow_links=True)
    assert problems == []
    assert {"crawl/alpha/passwd", "crawl/beta/private/notes.html", "crawl/beta/private/deeper/more.html",
            "crawl/beta/etc-passwd"} <= set(_sources(files))
    # a folder given as an argument is inside: the same links are followed when it is one
    files, problems = discover([root, private, secret])
    assert [p.source_path for p in problems] == ["crawl/beta/etc-passwd"]


def test_a_dangling_link_outside_is_broken_not_outside(tmp_path):
    root = _crawl(tmp_path)
    (root / "gone.html").symlink_to(tmp_path / "deleted.html")
    _, problems = discover([root])
    assert [(p.source_path, p.error_type) for p in problems] == [("crawl/gone.html", "broken_symlink")]


def test_an_argument_that_is_a_link_is_followed(tmp_path):
    root = _crawl(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "link-to-crawl").symlink_to(root, target_is_directory=True)
    files, problems = discover([tmp_path / "elsewhere" / "link-to-crawl"])
    assert (files and problems == []) and _sources(files)[0].startswith("crawl/")


# --------------------------------------------------------------------------- names that are not UTF-8


def test_names_that_are_not_utf8_are_problems_not_crashes(tmp_path):
    root = _crawl(tmp_path)
    base = os.fsencode(root)
    _write_bytes_name(base + b"/caf\xe9.html", b"<p>latin-1 name</p>")
    os.mkdir(base + b"/bad\xff\xfe")
    _write_bytes_name(base + b"/bad\xff\xfe/inner.html", b"<p>inside a bad folder</p>")
    os.symlink(b"caf\xe9.html", base + b"/alpha/link-\x80")
    files, problems = discover([root])
    assert _sources(files) == _sources(discover([_crawl(tmp_path / "clean")])[0])
    assert [(p.source_path, p.error_type) for p in problems] == [
        ("crawl/alpha/link-\\x80", "bad_file_name"), ("crawl/bad\\xff\\xfe", "bad_file_name"),
        ("crawl/caf\\xe9.html", "bad_file_name")]
    assert "nothing inside it was read" in problems[1].message and "UTF-8" in problems[2].message
    _assert_unique_and_utf8(files, problems)


def test_a_link_with_a_good_name_to_a_bad_one_is_read(tmp_path):
    root = _crawl(tmp_path)
    _write_bytes_name(os.fsencode(root) + b"/caf\xe9.html", b"<p>latin-1 name</p>")
    (root / "alpha" / "cafe.html").symlink_to(os.fsdecode(os.fsencode(root) + b"/caf\xe9.html"))
    files, problems = discover([root])
    assert "crawl/alpha/cafe.html" in _sources(files)
    assert [p.source_path for p in problems] == ["crawl/caf\\xe9.html"]
    _assert_unique_and_utf8(files, problems)


def test_an_escaped_name_never_collides_with_a_real_one(tmp_path):
    root = _crawl(tmp_path)
    (root / "caf\\xe9.html").write_text("a file really named with a backslash")
    _write_bytes_name(os.fsencode(root) + b"/caf\xe9.html", b"<p>latin-1 name</p>")
    files, problems = discover([root])
    assert "crawl/caf\\xe9.html" in _sources(files)
    assert [(p.source_path, p.error_type) for p in problems] == [("crawl/caf\\xe9.html [2]", "bad_file_name")]
    _assert_unique_and_utf8(files, problems)


def test_an_argument_with_a_bad_name_is_read_under_an_escaped_label(tmp_path):
    folder = os.fsencode(tmp_path) + b"/r\xe9colte"
    os.mkdir(folder)
    _write_bytes_name(folder + b"/page.html", b"<p>x</p>")
    files, problems = discover([os.fsdecode(folder)])
    assert _sources(files) == ["r\\xe9colte/page.html"] and problems == []
    assert files[0].path.is_file()
    with pytest.raises(UsageError) as caught:
        discover([os.fsdecode(folder + b"-missing")])
    str(caught.value).encode("utf-8")


# --------------------------------------------------------------------------- stray NUL bytes


def test_a_few_nul_bytes_in_text_are_dropped_and_counted():
    data = ARTICLE.replace("Tuesday", "Tues\x00day").replace("spring", "spr\x00ing").encode()
    assert stray_nuls(data) == 2
    decoded = decode_text(data)
    assert (decoded.text, decoded.encoding, decoded.evidence, decoded.nuls_dropped) == (
        ARTICLE, "ascii", "ascii+nul-dropped", 2)
    assert decode_bytes(data) == (ARTICLE, "ascii", "ascii+nul-dropped")
    russian = "Городской совет проголосовал за строительство новой дамбы в устье реки. " * 3
    decoded = decode_text(russian.encode("cp1251").replace(b" ", b" \x00", 1))
    assert (decoded.text, decoded.encoding, decoded.nuls_dropped) == (russian, "cp1251", 1)
    assert decoded.evidence == "detected+nul-dropped"


def test_text_without_nuls_decodes_as_before():
    assert decode_text(ARTICLE.encode()) == (ARTICLE, "ascii", "ascii", 0)
    assert decode_bytes("Привет".encode()) == ("Привет", "utf-8", "utf-8")


@pytest.mark.parametrize("data", [
    b"abc\x00def\x00" * 10,  # a NUL in every four bytes
    b"ab\x00" * 20,  # 20 NULs, one in three bytes
    random.Random(13).randbytes(20_000),  # 0.4 % NULs, but 10 % other controls
    "UTF-16 text is half NULs by design".encode("utf-16"),
])
def test_binary_nuls_are_not_strays(data):
    assert b"\x00" in data and stray_nuls(data) == 0


def test_more_than_eight_nuls_at_one_percent_are_too_many():
    assert stray_nuls(b"x" * 990 + b"\x00" * 10) == 0
    assert stray_nuls(b"x" * 1000 + b"\x00" * 10) == 10


def test_a_few_nuls_in_a_short_page_are_strays():
    assert stray_nuls(b"short\x00text") == 1 and stray_nuls(b"Two NULs\x00 in a line\x00.") == 2


# --------------------------------------------------------------------------- the real command line


@pytest.fixture(scope="module")
def hostile_names_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("names")
    corpus = base / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text(ARTICLE)
    (corpus / "nul.txt").write_bytes(ARTICLE.replace("Tuesday", "Tues\x00day").encode() * 2)
    raw = os.fsencode(corpus)
    _write_bytes_name(raw + b"/caf\xe9.txt", ARTICLE.encode())
    os.mkdir(raw + b"/bad\xff")
    _write_bytes_name(raw + b"/bad\xff/inner.txt", ARTICLE.encode())
    out = base / "out"
    completed = corpusclean("run", str(corpus), "-o", str(out), "--workers", "1", "-q")
    return completed, out


def test_cli_reports_bad_names_as_errors_and_finishes(hostile_names_run):
    completed, out = hostile_names_run
    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr
    tables = read_tables(out)
    errors = tables["errors"].filter(pl.col("stage") == "discover")
    assert errors.select("source_path", "error_type").rows() == [
        ("corpus/bad\\xff", "bad_file_name"), ("corpus/caf\\xe9.txt", "bad_file_name")]
    documents = tables["documents"]
    assert "corpus/good.txt" in documents["source_path"].to_list()
    # the NUL page is accounted for either way (a document once records.py lets stray NULs through)
    seen = set(documents["source_path"]) | set(tables["errors"]["source_path"])
    assert seen == {"corpus/good.txt", "corpus/nul.txt", "corpus/bad\\xff", "corpus/caf\\xe9.txt"}
