"""``inspect``, ``report`` and ``export`` on an object-store output (``s3://``), against a real moto S3
server on 127.0.0.1: the same input is run once to a local folder and once to ``s3://``, and each
command must print and write the same on both (the output's own name aside). The CLI runs in a
subprocess with the AWS_* environment pointing at the server, as a user's would."""

from __future__ import annotations

import gzip
import io
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.conftest import corpusclean
from tests.s3server import MOTO_SERVER, MotoServer

boto3 = pytest.importorskip("boto3")
if not MOTO_SERVER.exists():
    pytest.skip("moto_server is not installed (pip install -e '.[dev]')", allow_module_level=True)

BUCKET = "views"
NAME = "corpus"  # the last segment of both outputs (the report's title names it)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A moto server with one bucket; the CLI's temporary files go to a folder of the test's."""
    with MotoServer(tmp_path_factory.mktemp("s3-work")) as moto:
        moto.client.create_bucket(Bucket=BUCKET)
        tmp = tmp_path_factory.mktemp("tmpdir")
        yield {"moto": moto, "env": {**moto.env, "TMPDIR": str(tmp), "COLUMNS": "120"}, "tmp": tmp}


@pytest.fixture(scope="module")
def outputs(server, tmp_path_factory):
    """``raw`` run to a local folder and to ``s3://views/runs/corpus`` (same cwd, so same ids and
    source paths), plus a half-written generation with a later name that no manifest names."""
    local = tmp_path_factory.mktemp("local") / NAME
    remote = f"s3://{BUCKET}/runs/{NAME}"
    for done in _parallel(server, *(("run", "raw", "-o", out, "--workers", "1", "-q") for out in (str(local), remote))):
        assert done.returncode == 0, done.stderr
    for table in ("documents", "paragraphs", "links", "removed", "errors", "reprints"):
        server["moto"].client.put_object(Bucket=BUCKET, Key=f"runs/{NAME}/_v/zzzz-half-written/{table}.parquet",
                                         Body=b"not parquet: a run killed while uploading")
    return {"local": str(local), "remote": remote, "tables": {name: pl.read_parquet(local / f"{name}.parquet")
                                                              for name in ("documents", "paragraphs")}}


def _cli(server, *args, env=None) -> subprocess.CompletedProcess:
    return corpusclean(*args, env={**server["env"], **(env or {})})


def _parallel(server, *commands, env=None) -> list[subprocess.CompletedProcess]:
    """:func:`_cli` for each of ``commands``, all at once: the module's time is mostly processes starting."""
    with ThreadPoolExecutor(len(commands)) as pool:
        return list(pool.map(lambda command: _cli(server, *command, env=env), commands))


def _both(server, outputs, *commands) -> list[tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]]:
    """Each command on the local output and on the s3 one, as (local, remote) pairs: ``{OUT}`` in a
    command stands for the output, ``{WHERE}`` for ``local`` or ``remote``."""
    done = _parallel(server, *(tuple(arg.replace("{OUT}", outputs[where]).replace("{WHERE}", where) for arg in command)
                               for command in commands for where in ("local", "remote")))
    return list(zip(done[::2], done[1::2]))


def _one_line_exit_2(done) -> str:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("corpusclean: error: "), done.stderr
    return lines[0]


def test_inspect_prints_the_same(server, outputs):
    documents, paragraphs = outputs["tables"]["documents"], outputs["tables"]["paragraphs"]
    doc_id = paragraphs.filter(pl.col("cluster_id").is_not_null())["doc_id"].sort()[0]
    cluster_id = paragraphs["cluster_id"].drop_nulls().sort()[0]
    outlet = documents["outlet"].drop_nulls().sort()[0]
    views = (("--doc", doc_id[:8]), ("--cluster", cluster_id), ("--outlet", outlet.upper()))
    *shown, (local, remote) = _both(server, outputs, *(("inspect", "{OUT}", *args) for args in views),
                                    ("inspect", "{OUT}", "--doc", "ffffffffffff"))
    for args, (ours, theirs) in zip(views, shown):
        assert ours.returncode == 0, ours.stderr
        assert theirs.returncode == 0, theirs.stderr
        assert theirs.stdout == ours.stdout and ours.stdout.strip(), args
    # an unknown id: the same line, naming the URI; and the fetched tables are gone after it too
    assert _one_line_exit_2(remote) == _one_line_exit_2(local).replace(outputs["local"], outputs["remote"])
    assert outputs["remote"] in remote.stderr
    assert list(server["tmp"].iterdir()) == []


def _page(html: str, out: str) -> str:
    """The report without what differs between two runs of the same input: the output's name, when the
    page was made, and the run's timings."""
    html = html.replace(out, "OUT")
    html = re.sub(r"generated \d{4}-\d\d-\d\d \d\d:\d\d UTC", "generated WHEN", html)
    html = re.sub(r"[\d,]+ inputs/s", "N inputs/s", html)
    return re.sub(r"\d[\d,]*\.\d+ s\b", "N s", html)


def test_report_writes_the_same_page(server, outputs, tmp_path):
    [pair] = _both(server, outputs, ("report", "{OUT}", "-o", f"{tmp_path}/{{WHERE}}.html"))
    assert all(done.returncode == 0 for done in pair), [done.stderr for done in pair]
    pages = {where: (tmp_path / f"{where}.html").read_text("utf-8") for where in ("local", "remote")}
    assert outputs["remote"] in pages["remote"] and f"corpusclean report: {NAME}" in pages["remote"]
    assert _page(pages["remote"], outputs["remote"]) == _page(pages["local"], outputs["local"])
    assert 'id="reprint-order"' in pages["remote"]  # reprints.parquet, an optional table, was read too
    assert list(server["tmp"].iterdir()) == []


EXPORTS = (("corpus.parquet", ()), ("corpus.jsonl.gz", ("--dedup", "documents", "--min-words", "20")))


def test_export_writes_the_same_files(server, outputs, tmp_path):
    pairs = _both(server, outputs, *(("export", "{OUT}", "-o", f"{tmp_path}/{{WHERE}}/{index}/{name}", "--dropped",
                                      f"{tmp_path}/{{WHERE}}/{index}/dropped.parquet", *args)
                                     for index, (name, args) in enumerate(EXPORTS)))
    for index, ((name, _), pair) in enumerate(zip(EXPORTS, pairs)):
        printed, files = {}, {}
        for where, done in zip(("local", "remote"), pair):
            assert done.returncode == 0, done.stderr
            folder = tmp_path / where / str(index)
            lines = done.stdout.replace(str(folder), "DEST").splitlines()
            assert lines[-1].startswith(f"wrote DEST/{name} ")
            printed[where] = lines[:-1]  # the last line says how long it took
            files[where] = {path.name: path.read_bytes() for path in sorted(folder.iterdir())}
        assert printed["remote"] == printed["local"]
        assert sorted(files["remote"]) == sorted(files["local"]) == sorted([name, "dropped.parquet"])
        for file, ours in files["local"].items():
            theirs = files["remote"][file]
            if file.endswith(".parquet"):
                assert_frame_equal(pl.read_parquet(io.BytesIO(theirs)), pl.read_parquet(io.BytesIO(ours)))
            else:  # the gzip header holds the time it was written
                assert gzip.decompress(theirs) == gzip.decompress(ours) != b""
    assert list(server["tmp"].iterdir()) == []


def test_store_mistakes_are_one_line_exit_2(server, outputs, tmp_path):
    """Each command, each mistake a user makes with a store: one line, exit 2, nothing written."""
    commands = {"inspect": ("--doc", "abcd"), "report": ("-o", f"{tmp_path}/r.html"),
                "export": ("-o", f"{tmp_path}/c.parquet")}
    no_keys = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
               "AWS_CONFIG_FILE": str(tmp_path / "none")}
    mistakes = [("s3://no-such-bucket/runs/corpus", None, ("no-such-bucket", "does not exist")),
                (f"s3://{BUCKET}/runs/nothing-here", None, ("runs/nothing-here is not a corpusclean output",)),
                (outputs["remote"], no_keys, ("no AWS credentials",))]
    cases = [(command, args, out, env, said) for command, args in commands.items() for out, env, said in mistakes]
    with ThreadPoolExecutor(len(cases)) as pool:
        done = list(pool.map(lambda case: _cli(server, case[0], case[2], *case[1], env=case[3]), cases))
    for (command, _, out, _, said), result in zip(cases, done):
        line = _one_line_exit_2(result)
        assert all(words in line for words in said), (command, out, line)
    assert list(tmp_path.iterdir()) == []


def test_written_files_are_local_and_report_needs_o(server, outputs, tmp_path):
    done = _parallel(server, ("export", outputs["remote"], "-o", f"s3://{BUCKET}/exports/c.parquet"),
                     ("export", outputs["local"], "-o", str(tmp_path / "c.parquet"), "--dropped", f"s3://{BUCKET}/d.parquet"),
                     ("report", outputs["remote"]), ("report", outputs["local"], "-o", f"s3://{BUCKET}/r.html"))
    lines = [_one_line_exit_2(result) for result in done]
    assert "-o s3://" in lines[0] and "export writes a local file" in lines[0]
    assert "--dropped s3://" in lines[1] and "export writes a local file" in lines[1]
    assert "give the local file to write, e.g. -o report.html" in lines[2]
    assert "the report is a local file" in lines[3]
    assert list(tmp_path.iterdir()) == []


def test_help_says_they_take_s3_outputs():
    from typer.testing import CliRunner

    from corpusclean.cli import app

    for command in ("inspect", "report", "export"):
        shown = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200", "TERM": "dumb"})
        assert shown.exit_code == 0 and "s3://bucket/prefix" in shown.output, command
