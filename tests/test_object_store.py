"""Object-store inputs and outputs (``s3://``) against a real S3-compatible server: moto's standalone
server, started on a free port of 127.0.0.1 for this module and stopped after it. The CLI runs in a
subprocess with the AWS_* environment pointing at it, as a user's would at MinIO or S3."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.conftest import RAW, REPO, SEEDS, TABLES, corpusclean, corpusclean_together, read_tables
from tests.s3server import MOTO_SERVER, MotoServer, free_port

boto3 = pytest.importorskip("boto3")
if not MOTO_SERVER.exists():
    pytest.skip("moto_server is not installed (pip install -e '.[dev]')", allow_module_level=True)

BUCKET = "corpus"
COMPARED = (*TABLES, "reprints")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A moto S3 server on 127.0.0.1, the environment that points at it, and a bucket holding raw/
    (and the seed texts when ../shared/seeds is there) under the same names as in a local folder."""
    with MotoServer(tmp_path_factory.mktemp("s3-work")) as moto:
        s3 = moto.client
        s3.create_bucket(Bucket=BUCKET)
        local = tmp_path_factory.mktemp("s3-local")  # the same files, as local folders
        shutil.copytree(RAW, local / "raw")
        inputs = ["raw"]
        if (SEEDS / "expected.json").is_file():
            (local / "seeds").mkdir()
            for path in sorted(SEEDS.glob("*.txt")):  # expected.json is the answer key, not input
                shutil.copyfile(path, local / "seeds" / path.name)
            inputs.append("seeds")
        moto.upload(local, BUCKET)
        yield {"url": moto.url, "env": moto.env, "s3": s3, "local": local, "inputs": inputs}


def _run(server, *args, env=None):
    return corpusclean(*args, env={**server["env"], **(env or {})})


def _manifest(server, prefix):
    body = server["s3"].get_object(Bucket=BUCKET, Key=f"{prefix}/manifest.json")["Body"].read()
    return body, json.loads(body)


def _keys(server, prefix):
    pages = server["s3"].get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix + "/")
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def _read_s3(prefix):
    from corpusclean import storage

    manifest = storage.read_manifest(f"s3://{BUCKET}/{prefix}")
    return {name: storage.read_table(f"s3://{BUCKET}/{prefix}", name, manifest=manifest) for name in COMPARED}


@pytest.fixture(scope="module")
def s3_run(server):
    started = time.perf_counter()
    done = _run(server, "run", *(f"s3://{BUCKET}/{name}" for name in server["inputs"]), "-o", f"s3://{BUCKET}/out",
                "--workers", "2", "-q")
    assert done.returncode == 0, done.stderr
    return {"seconds": time.perf_counter() - started, "tables": _read_s3("out"), "manifest": _manifest(server, "out")}


@pytest.fixture(scope="module")
def local_run(server):
    """The same files run from the local folders: the reference, by the pipeline in this process
    (the runs under test, from and to the store, are the real command line's)."""
    from corpusclean import run

    out = server["local"].parent / (server["local"].name + "-out")
    run([server["local"] / name for name in server["inputs"]], out, workers=1)
    return {name: pl.read_parquet(out / f"{name}.parquet") for name in COMPARED}


def _id_columns(frame: pl.DataFrame) -> list[str]:
    return [name for name, dtype in frame.schema.items() if ("id" in name.split("_") or name.endswith("_ids"))
            and dtype in (pl.String, pl.List(pl.String))]


def _translate(tables: dict[str, pl.DataFrame], mapping: dict[str, str]) -> dict[str, pl.DataFrame]:
    out = {}
    for name, frame in tables.items():
        exprs = []
        for column in _id_columns(frame):
            if frame.schema[column] == pl.String:
                exprs.append(pl.col(column).replace(mapping))
            else:
                exprs.append(pl.col(column).list.eval(pl.element().replace(mapping)))
        out[name] = frame.with_columns(exprs) if exprs else frame
    return out


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    keys = [name for name, dtype in frame.schema.items() if not isinstance(dtype, (pl.List, pl.Struct, pl.Array))]
    return frame.sort(keys, nulls_last=True)


def test_s3_run_equals_local_run_but_for_the_source_prefix(s3_run, local_run):
    """Same files, read from S3 and from folders: every table equal once the source paths lose their
    ``s3://bucket/`` prefix and the ids (hashes of the source path) are mapped to the local run's."""
    remote = s3_run["tables"]
    prefix = f"s3://{BUCKET}/"
    assert all(path.startswith(prefix) for path in remote["documents"]["source_path"])  # provenance: where it was
    stripped = {name: frame.with_columns(pl.col("source_path").str.strip_prefix(prefix))
                if "source_path" in frame.columns else frame for name, frame in remote.items()}
    mapping: dict[str, str] = {}
    for name, keys in (("documents", ["source_path", "record_offset"]), ("errors", ["source_path", "record_offset"]),
                       ("paragraphs", ["source_path", "record_offset", "para_idx"])):
        ours, theirs = stripped[name].sort(keys), local_run[name].sort(keys)
        assert ours.select(keys).equals(theirs.select(keys)), name
        for column in _id_columns(ours):
            if ours.schema[column] == pl.String:
                for a, b in zip(ours[column], theirs[column]):
                    if a is not None:
                        assert mapping.setdefault(a, b) == b
    translated = _translate(stripped, mapping)
    for name in COMPARED:
        assert translated[name].height == local_run[name].height, name
        assert_frame_equal(_sorted(translated[name]), _sorted(local_run[name]), check_row_order=True), name
    assert remote["documents"].height > 0 and remote["links"].height > 0


def test_s3_manifest_names_its_generation_and_no_credentials(server, s3_run):
    body, manifest = s3_run["manifest"]
    generation = manifest["storage"]["generation"]
    keys = _keys(server, "out")
    assert f"out/_v/{generation}/documents.parquet" in keys and "out/manifest.json" in keys
    assert "out/.corpusclean.lock" not in keys  # released
    assert {key.split("/")[2] for key in keys if key.startswith("out/_v/")} == {generation}
    text = body.decode()
    assert "testing" not in text and server["url"] not in text  # neither the secret nor the endpoint
    from corpusclean import storage

    assert storage.table_uri(f"s3://{BUCKET}/out", "links") == f"s3://{BUCKET}/out/_v/{generation}/links.parquet"


@pytest.mark.parametrize("point", ["write.manifest", "publish.tables"])
def test_killed_before_the_manifest_leaves_the_previous_corpus(server, s3_run, point):
    """SIGKILL (a failpoint) after the new generation is uploaded, before the manifest names it: the
    manifest and the corpus it names are exactly the previous run's; the next start removes the
    dead run's uploads and takes over its lock (same host, pid gone)."""
    before_body, before = _manifest(server, "out")
    generations_before = {key.split("/")[2] for key in _keys(server, "out") if key.startswith("out/_v/")}
    killed = _run(server, "run", f"s3://{BUCKET}/raw/northwind-wire", "-o", f"s3://{BUCKET}/out", "-w", "1", "-q",
                  env={"CORPUSCLEAN_FAILPOINT": point})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    after_body, _ = _manifest(server, "out")
    assert after_body == before_body
    tables = _read_s3("out")
    for name in COMPARED:
        assert_frame_equal(tables[name], s3_run["tables"][name])
    if point == "publish.tables":  # the dead run's generation and lock are there until the next start
        left = {key.split("/")[2] for key in _keys(server, "out") if key.startswith("out/_v/")} - generations_before
        assert len(left) == 1
        assert "out/.corpusclean.lock" in _keys(server, "out")
    # the next start on another prefix cleans nothing of this one; on this one it cleans up (and
    # here it publishes the same corpus again, for the tests that follow)
    again = _run(server, "run", *(f"s3://{BUCKET}/{name}" for name in server["inputs"]), "-o", f"s3://{BUCKET}/out",
                 "-w", "2", "-q")
    assert again.returncode == 0, again.stderr
    _, manifest = _manifest(server, "out")
    generations = {key.split("/")[2] for key in _keys(server, "out") if key.startswith("out/_v/")}
    assert generations == {manifest["storage"]["generation"], before["storage"]["generation"]}
    assert manifest["storage"]["previous_generation"] == before["storage"]["generation"]
    for name in COMPARED:
        assert_frame_equal(_read_s3("out")[name], s3_run["tables"][name])


def test_killed_after_the_manifest_is_the_new_corpus_whole(server, s3_run):
    killed = _run(server, "run", f"s3://{BUCKET}/raw/northwind-wire", "-o", f"s3://{BUCKET}/out2", "-w", "1", "-q")
    assert killed.returncode == 0, killed.stderr
    _, first = _manifest(server, "out2")
    killed = _run(server, "run", f"s3://{BUCKET}/raw/the-lantern", "-o", f"s3://{BUCKET}/out2", "-w", "1", "-q",
                  env={"CORPUSCLEAN_FAILPOINT": "publish.manifest"})
    assert killed.returncode == -signal.SIGKILL
    _, second = _manifest(server, "out2")
    assert second["storage"]["previous_generation"] == first["storage"]["generation"]
    documents = _read_s3("out2")["documents"]
    assert set(documents["outlet"]) == {"The Lantern"}  # the new corpus, whole, and nothing of the old
    assert documents.height == second["counts"]["documents"]


def test_s3_inputs_to_a_file_output_and_local_inputs_to_s3(server, s3_run, tmp_path):
    out = tmp_path / "out"
    done, to_store = corpusclean_together(  # the two directions, side by side
        ["run", f"s3://{BUCKET}/raw", "-o", f"file://{out}", "-w", "1", "-q"],
        ["run", str(RAW), "-o", f"s3://{BUCKET}/from-local", "-w", "1", "-q"], env=server["env"])
    assert done.returncode == 0, done.stderr
    expected = {path for path in s3_run["tables"]["documents"]["source_path"] if path.startswith(f"s3://{BUCKET}/raw/")}
    assert set(read_tables(out)["documents"]["source_path"]) == expected
    done = to_store
    assert done.returncode == 0, done.stderr
    assert set(_read_s3("from-local")["documents"]["source_path"]) == {p.removeprefix(f"s3://{BUCKET}/") for p in expected}


def test_output_inside_the_input_prefix_is_not_read(server, s3_run):
    done = _run(server, "run", f"s3://{BUCKET}/raw", "-o", f"s3://{BUCKET}/raw/_corpus", "-w", "1", "-q")
    assert done.returncode == 0, done.stderr
    again = _run(server, "run", f"s3://{BUCKET}/raw", "-o", f"s3://{BUCKET}/raw/_corpus", "-w", "1", "-q")
    assert again.returncode == 0, again.stderr
    paths = set(_read_s3("raw/_corpus")["documents"]["source_path"]) | set(_read_s3("raw/_corpus")["errors"]["source_path"])
    assert paths and not any("/_corpus/" in path for path in paths)


def _one_line_exit_2(done):
    assert done.returncode == 2, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("corpusclean: error: "), done.stderr
    return lines[0]


def test_missing_bucket_is_one_line_exit_2(server, tmp_path):
    for done in corpusclean_together(["run", "s3://no-such-bucket/raw", "-o", str(tmp_path / "out")],
                                     ["run", "raw", "-o", "s3://no-such-bucket/out"], env=server["env"]):
        line = _one_line_exit_2(done)
        assert "no-such-bucket" in line and "does not exist" in line


def test_missing_prefix_is_one_line_exit_2(server, tmp_path):
    line = _one_line_exit_2(_run(server, "run", f"s3://{BUCKET}/nothing-here", "-o", str(tmp_path / "out")))
    assert "does not exist" in line


def test_no_credentials_and_no_endpoint_are_one_line_exit_2(server, tmp_path):
    env = {k: v for k, v in server["env"].items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    env.update(AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), AWS_CONFIG_FILE=str(tmp_path / "none"))
    done = corpusclean("run", "raw", "-o", f"s3://{BUCKET}/x", env=env)
    assert "credentials" in _one_line_exit_2(done)
    done = _run(server, "run", "raw", "-o", f"s3://{BUCKET}/x", env={"AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"})
    assert "cannot reach" in _one_line_exit_2(done)


def test_a_store_that_goes_away_mid_inspect_is_one_line_exit_1(server, s3_run, tmp_path):
    """The start-up check passes, then the store stops answering: one line and exit 1 (the input was
    no mistake), not a traceback. The command stops itself at a failpoint (SIGSTOP) once the manifest
    is checked, the server is stopped, and SIGCONT lets it read the tables from a store that is gone."""
    psutil = pytest.importorskip("psutil")
    doc_id = s3_run["tables"]["documents"]["doc_id"][0]
    with MotoServer(tmp_path / "work") as private:  # its own server: the module's stays up
        private.client.create_bucket(Bucket=BUCKET)
        for key in _keys(server, "out"):
            private.client.put_object(Bucket=BUCKET, Key=key,
                                      Body=server["s3"].get_object(Bucket=BUCKET, Key=key)["Body"].read())
        process = subprocess.Popen([sys.executable, "-m", "corpusclean", "inspect", f"s3://{BUCKET}/out", "--doc", doc_id],
                                   cwd=REPO, env={**private.env, "CORPUSCLEAN_FAILPOINT": "inspect.opened:stop"},
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while psutil.Process(process.pid).status() != psutil.STATUS_STOPPED:
                assert process.poll() is None and time.monotonic() < deadline, "inspect never reached its failpoint"
                time.sleep(0.05)
            private.stop_server()
            process.send_signal(signal.SIGCONT)
            _, stderr = process.communicate(timeout=180)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == 1, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("corpusclean: error: ") and "Traceback" not in stderr, stderr
    assert "--debug" in lines[0]


def test_a_live_lock_refuses_a_second_run(server, s3_run):
    lock = {"pid": os.getpid(), "host": socket.gethostname(), "command": "run", "run_id": "other",
            "since": "now", "heartbeat": time.time()}
    server["s3"].put_object(Bucket=BUCKET, Key="locked/.corpusclean.lock", Body=json.dumps(lock).encode())
    try:
        line = _one_line_exit_2(_run(server, "run", "raw", "-o", f"s3://{BUCKET}/locked"))
        assert "in use by pid" in line
    finally:
        server["s3"].delete_object(Bucket=BUCKET, Key="locked/.corpusclean.lock")


def test_an_unreadable_object_is_an_errors_row(server):
    from corpusclean.readers.discover import InputFile
    from corpusclean.readers.records import RecordError, read_records
    from corpusclean.config import load_config
    from corpusclean.storage import ObjectPath

    uri = f"s3://{BUCKET}/gone/page.html"
    items = list(read_records(InputFile(ObjectPath(uri, 100), uri, None), load_config(None).section("input")))
    assert len(items) == 1 and isinstance(items[0], RecordError)
    assert (items[0].error_type, items[0].source_path) == ("unreadable", uri)
