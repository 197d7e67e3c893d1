"""``inspect``, ``report`` and ``export`` on an object-store output (``s3://``), against a real moto S3
server on 127.0.0.1: the same input is run once to a local folder and once to ``s3://``, and each
command must print and write the same on both (the output's own name aside). The CLI runs in a
subprocess with the AWS_* environment pointing at the server, as a user's would. ``inspect`` reads
an s3:// output in place: the bytes it fetches are counted on the wire (:class:`CountingRelay`)."""

from __future__ import annotations

import gzip
import io
import json
import re
import select
import socket
import socketserver
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.conftest import corpusclean, load_benchmark_module
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


class CountingRelay:
    """A TCP relay on 127.0.0.1 in front of the S3 server that counts the bytes it passes back to the
    clients (status lines, headers and bodies of every answer): what a command really fetched. Point
    ``AWS_ENDPOINT_URL`` at :attr:`url` for the ``with`` block."""

    def __init__(self, port: int) -> None:
        self.target = ("127.0.0.1", port)
        self.received = 0
        self.requests = 0
        self._lock = threading.Lock()
        relay = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                with socket.create_connection(relay.target) as upstream:
                    other = {self.request: upstream, upstream: self.request}
                    while True:
                        ready, _, _ = select.select(list(other), [], [], 60)
                        if not ready:
                            return
                        for end in ready:
                            data = end.recv(1 << 16)
                            if not data:
                                return
                            other[end].sendall(data)
                            with relay._lock:
                                if end is upstream:
                                    relay.received += len(data)
                                else:
                                    relay.requests += data.count(b"HTTP/1.1\r\n")

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "CountingRelay":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def row_groups(server, tmp_path_factory):
    """A 2 MB generated crawl run in shards of 20 files, to a local folder and to
    ``s3://views/runs/groups/corpus``: every table of the final write has a row group per shard."""
    root = tmp_path_factory.mktemp("row-groups")
    load_benchmark_module("crawl_generator").generate(root / "gen", 2_000_000, kind="text", quiet=True)
    (root / "config.toml").write_text("[run]\nshard_files = 20\n")
    local, remote = root / NAME, f"s3://{BUCKET}/runs/groups/{NAME}"
    for done in _parallel(server, *(("run", str(root / "gen" / "raw"), "-o", out, "-c", str(root / "config.toml"),
                                     "--workers", "1", "-q") for out in (str(local), remote))):
        assert done.returncode == 0, done.stderr
    return {"local": str(local), "remote": remote}


def test_inspect_doc_fetches_only_what_it_shows(server, row_groups):
    """``inspect --doc`` of an s3:// output prints what it prints of the local output, and fetches a
    small part of the tables: their footers, the row groups of the document (found by its path) and
    the narrow id columns, not the tables whole (as a local copy did: 2.1 MB here, for one page).
    The bytes are counted on the wire, by a relay between the command and the server."""
    import pyarrow.parquet as pq

    paragraphs = pq.ParquetFile(f"{row_groups['local']}/paragraphs.parquet")
    assert paragraphs.metadata.num_row_groups >= 10  # what prunes a table read in place
    frame = pl.read_parquet(f"{row_groups['local']}/paragraphs.parquet", columns=["doc_id", "cluster_id"])
    doc_id = frame.filter(pl.col("cluster_id").is_not_null())["doc_id"].sort()[0]  # reused text, links, reprints
    manifest = json.loads(server["moto"].client.get_object(
        Bucket=BUCKET, Key=f"runs/groups/{NAME}/manifest.json")["Body"].read())
    sizes = {table: server["moto"].client.head_object(Bucket=BUCKET, Key=f"runs/groups/{NAME}/{key}")["ContentLength"]
             for table, key in manifest["storage"]["tables"].items() if table != "fingerprints"}
    with CountingRelay(server["moto"].port) as relay:
        local, remote = _parallel(server, ("inspect", row_groups["local"], "--doc", doc_id[:8]),
                                  ("inspect", row_groups["remote"], "--doc", doc_id[:8]),
                                  env={"AWS_ENDPOINT_URL": relay.url})
    assert local.returncode == 0, local.stderr
    assert remote.returncode == 0, remote.stderr
    assert remote.stdout == local.stdout and doc_id in local.stdout and "links (" in local.stdout
    total = sum(sizes.values())  # what a local copy of the tables inspect reads fetched
    figures = f"fetched {relay.received:,} bytes in {relay.requests} requests; tables {sizes} = {total:,} bytes"
    assert relay.received < total / 3, figures
    assert relay.received < sizes["paragraphs"] / 2, figures
    print(figures)
    assert list(server["tmp"].iterdir()) == []
