"""The Ray engine on a real two-node Ray cluster started here, a worker killed in a shard, and --against.

The module starts one cluster for both tests (:func:`cluster`): a head (``ray start --head``, 1 CPU)
and a second node (``ray start --address``, 1 CPU, a raylet of its own with its own temp dir) on
this machine, each node with its own ``CORPUSCLEAN_WORK_ROOT`` and ``TMPDIR`` (not the driver's: a
path the driver makes is not one a node writes, as on machines of their own), with token authentication (a fresh token in the cluster's temp dir, never
``~/.ray``), usage stats off and no dashboard. Each ``ray start`` runs with ``--block``, so it stays
the parent of its node's processes and stopping it stops them; the finalizer then kills what is left
of their process groups and checks that no process of the cluster remains. (``ray stop`` is not used:
it stops every Ray on the machine, other users' too.)

``ray start --node-ip-address 127.0.0.1`` does not keep the cluster on the loopback: Ray replaces a
loopback address by the machine's routable one, and its servers listen on all interfaces. The token is
what keeps the cluster private; the fixture checks that a driver without it is refused.

The run is the command line in a subprocess, as a user runs it, over raw/, the seeds (when present)
and a small generated crawl (about 100 text pages), in shards of 2 files, so there are about 60 Ray
tasks. The inputs and the outputs are in a bucket of a real S3-compatible server (moto's standalone
server on 127.0.0.1, :mod:`tests.s3server`), whose credentials the nodes have in their environment, as
a cluster's nodes would; where moto is not installed, in folders. The reference is a local-engine run
over the same inputs into the same store. With the output in the store, the shards and phase B's task
files cross between the nodes through ``OUT/_work/`` there (no shared folder): the run keeps its work
(``--keep-work``) and the test checks the objects, their markers, and that the nodes wrote shards only
in their own temporary folders. Which node ran a shard is seen from the processes: a Ray worker is a child of its node's
raylet and, while it runs a task, its process title is ``ray::<task name>`` (``ray::IDLE`` between
tasks); that is also how the fault test finds a worker to ``kill -9`` in the middle of a shard. That
the task was then run again, the driver's own Ray log says (``WORKER_DIED``, ``Will resubmit task``):
Ray Data retries a dead worker's task by default (``max_retries=-1``), corpusclean sets nothing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, TABLES, load_benchmark_module, sample_corpus
from tests.s3server import MOTO_SERVER, MotoServer

pytest.importorskip("ray", reason="Ray is the optional extra corpusclean[ray]; `make test` installs it")

import psutil  # noqa: E402  (a [dev] dependency)
from polars.testing import assert_frame_equal  # noqa: E402

RAY = str(Path(sys.executable).with_name("ray"))
SHARD_TASK = "MapBatches(_process_batch)"  # in the title of a worker running a shard
BUCKET = "cluster"


def _free_ports(count: int) -> list[int]:
    """Ports free now (all held open together, so they differ); Ray binds them a moment later."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _node_ports() -> list[str]:
    """The per-node ports Ray would otherwise take at fixed defaults (two nodes here, other Rays nearby)."""
    agent, grpc, metrics, runtime_env = _free_ports(4)
    return ["--dashboard-agent-listen-port", str(agent), "--dashboard-agent-grpc-port", str(grpc),
            "--metrics-export-port", str(metrics), "--runtime-env-agent-port", str(runtime_env)]


NODES_SCRIPT = """
import json, logging, sys, time
import ray
ray.init(address=sys.argv[1], log_to_driver=False, logging_level=logging.ERROR)
deadline = time.monotonic() + 60
while len([n for n in ray.nodes() if n["Alive"]]) < 2 and time.monotonic() < deadline:
    time.sleep(0.2)
print(json.dumps([{"id": n["NodeID"], "alive": n["Alive"], "ip": n["NodeManagerAddress"],
                   "raylet_socket": n["RayletSocketName"], "cpus": n["Resources"].get("CPU")}
                  for n in ray.nodes()]))
"""


class Cluster:
    """Two Ray nodes on this machine, started and stopped by this module."""

    def __init__(self, extra_env: dict[str, str] | None = None) -> None:
        # short: Ray's Unix sockets live under it, and a socket path has at most 107 bytes
        self.base = Path(tempfile.mkdtemp(prefix="cc-ray-", dir="/tmp"))
        token = self.base / "auth_token"
        token.write_text(secrets.token_hex(32))
        token.chmod(0o600)
        self.env = {key: value for key, value in os.environ.items()
                    if not key.startswith(("RAY_AUTH", "RAY_ADDRESS"))}
        self.env.update(RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token))
        # the nodes' own environment: a worker reads s3:// objects with the credentials of its node
        self.env.update(extra_env or {})
        self.port, dashboard = _free_ports(2)
        self.address = f"127.0.0.1:{self.port}"
        self.starters: list[subprocess.Popen] = []
        self.raylets: dict[str, psutil.Process] = {}  # "head" / "worker" -> its raylet
        # each node's own work root and temporary folder (the driver has the env's CORPUSCLEAN_WORK_ROOT)
        self.node_dirs = {name: {"work": self.base / f"{name}-work", "tmp": self.base / f"{name}-tmp"}
                          for name in ("head", "worker")}
        self.nodes: list[dict] = []

    def _start(self, name: str, args: list[str]) -> subprocess.Popen:
        dirs = self.node_dirs[name]
        for folder in dirs.values():
            folder.mkdir()
        env = {**self.env, "CORPUSCLEAN_WORK_ROOT": str(dirs["work"]), "TMPDIR": str(dirs["tmp"])}
        log = open(self.base / f"{name}.log", "w")
        with log:
            process = subprocess.Popen([RAY, "start", "--block", "--num-cpus", "1", "--node-ip-address", "127.0.0.1",
                                        "--temp-dir", str(self.base / name), "--disable-usage-stats", *_node_ports(),
                                        *args], env=env, stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        self.starters.append(process)
        return process

    def _raylet(self, starter: subprocess.Popen, name: str, deadline: float) -> psutil.Process:
        while time.monotonic() < deadline:
            assert starter.poll() is None, (self.base / f"{name}.log").read_text()[-3000:]
            for child in psutil.Process(starter.pid).children(recursive=True):
                try:
                    if child.name() == "raylet":
                        return child
                except psutil.NoSuchProcess:
                    pass
            time.sleep(0.1)
        raise AssertionError(f"no raylet of the {name} node: " + (self.base / f"{name}.log").read_text()[-3000:])

    def start(self) -> None:
        deadline = time.monotonic() + 90
        head = self._start("head", ["--head", "--port", str(self.port), "--include-dashboard", "false",
                                    "--dashboard-port", str(_free_ports(1)[0])])
        self.raylets["head"] = self._raylet(head, "head", deadline)
        worker = self._start("worker", ["--address", self.address])
        self.raylets["worker"] = self._raylet(worker, "worker", deadline)
        listed = subprocess.run([sys.executable, "-c", NODES_SCRIPT, self.address], env=self.env, cwd=self.base,
                                capture_output=True, text=True, timeout=120)
        assert listed.returncode == 0, listed.stderr[-3000:]
        self.nodes = json.loads(listed.stdout.strip().splitlines()[-1])

    def processes(self) -> list[psutil.Process]:
        """Every live process of the cluster: the starters, their descendants, and any process that
        names the cluster's temp dir on its command line (a descendant whose parent died)."""
        found = {}
        for starter in self.starters:
            try:
                parent = psutil.Process(starter.pid)
                if parent.status() != psutil.STATUS_ZOMBIE:
                    found[parent.pid] = parent
                for child in parent.children(recursive=True):
                    found[child.pid] = child
            except psutil.NoSuchProcess:
                pass
        for process in psutil.process_iter(["cmdline"]):
            if any(str(self.base) in part for part in process.info["cmdline"] or ()):
                found[process.pid] = process
        return [p for p in found.values() if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]

    def stop(self) -> None:
        """Stop both nodes at once; then SIGKILL whatever of theirs is still alive."""
        left = self.processes()
        for starter in self.starters:
            if starter.poll() is None:
                starter.terminate()  # `ray start --block` stops its node's processes on SIGTERM
        # a head that ran a job can take 15 s and more to stop (its actors); a test cluster needs no grace
        _, alive = psutil.wait_procs(left, timeout=5)
        for starter in self.starters:
            try:
                os.killpg(starter.pid, signal.SIGKILL)  # the node's process group (start_new_session)
            except (ProcessLookupError, PermissionError):
                pass
            starter.wait(timeout=10)
        for process in alive + self.processes():
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(alive, timeout=10)
        remaining = self.processes()
        shutil.rmtree(self.base, ignore_errors=True)
        assert not remaining, f"Ray processes left behind: {[(p.pid, p.name()) for p in remaining]}"

    def shard_workers(self) -> dict[int, str]:
        """The workers running a shard task now, as pid -> node ("head" or "worker")."""
        running = {}
        for node, raylet in self.raylets.items():
            try:
                children = raylet.children()
            except psutil.NoSuchProcess:
                continue
            for child in children:
                try:
                    title = " ".join(child.cmdline())
                except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                    continue
                if title.startswith("ray::") and SHARD_TASK in title:
                    running[child.pid] = node
        return running


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """A real S3-compatible server (moto's, on 127.0.0.1) for the run with inputs and outputs on it;
    None where moto or boto3 is not installed (the object-store test is skipped then)."""
    if not MOTO_SERVER.exists() or importlib.util.find_spec("boto3") is None:
        yield None
        return
    with MotoServer(tmp_path_factory.mktemp("cluster-s3-work")) as server:
        server.client.create_bucket(Bucket=BUCKET)
        yield server


@pytest.fixture(scope="module")
def cluster(s3):
    started = time.monotonic()
    cluster = Cluster(s3.aws if s3 else None)
    try:
        cluster.start()
        cluster.started_in = time.monotonic() - started
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """raw/, the seed texts when ../shared is there, and a generated crawl of about 100 text pages."""
    root = tmp_path_factory.mktemp("cluster-corpus")
    corpus = sample_corpus(root / "corpus")
    load_benchmark_module("crawl_generator").generate(root / "gen", 600_000, kind="text", quiet=True)
    shutil.move(root / "gen" / "raw", corpus / "crawl")  # the pages only: crawl.json and truth.jsonl stay out
    return corpus


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cluster-config") / "shards.toml"
    path.write_text("[run]\nshard_files = 2\n")  # many shards: many Ray tasks, on both nodes
    return path


@dataclass
class Where:
    """Where the cluster's runs read and write: a bucket of the S3 server, or local folders."""

    source: str
    outputs: str  # the prefix or folder the outputs go under
    env: dict[str, str] | None

    def out(self, name: str) -> str:
        return f"{self.outputs}/{name}"

    def manifest(self, out: str) -> dict:
        from corpusclean import storage

        return storage.read_manifest(out)

    def tables(self, out: str) -> dict:
        from corpusclean import storage

        manifest = self.manifest(out)
        return {name: storage.read_table(out, name, manifest=manifest) for name in TABLES}


@pytest.fixture(scope="module")
def where(s3, corpus, tmp_path_factory) -> Where:
    """The inputs and outputs on the S3 server (the issue's case: storage every node sees without NFS),
    or in folders where moto is not installed."""
    if s3 is None:
        return Where(str(corpus), str(tmp_path_factory.mktemp("cluster-out")), None)
    s3.upload(corpus, BUCKET, "corpus/")
    return Where(f"s3://{BUCKET}/corpus", f"s3://{BUCKET}", s3.env)


@pytest.fixture(scope="module")
def local(where, config) -> str:
    """The output of ``--engine local`` on the same inputs and config."""
    out = where.out("local")
    completed = subprocess.run(
        [sys.executable, "-m", "corpusclean", "run", where.source, "-o", out, "-c", str(config),
         "--engine", "local", "--workers", "2", "--quiet"], cwd=REPO, env=where.env, capture_output=True, text=True,
        timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return out


def _run_on_cluster(cluster: Cluster, source: str, config: Path, out: str, watch,
                    stderr: Path, extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """The command line with ``--engine ray --address`` the cluster (and ``extra`` options),
    ``watch()`` called every few ms while it runs (its stderr kept in the file ``stderr``)."""
    with open(stderr, "w") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "corpusclean", "run", source, "-o", out, "-c", str(config),
             "--engine", "ray", "--address", cluster.address, "--quiet", *extra],
            cwd=REPO, env=cluster.env, stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True)
        try:
            deadline = time.monotonic() + 600
            while process.poll() is None and time.monotonic() < deadline:
                watch()
                time.sleep(0.01)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=60)
    completed = subprocess.CompletedProcess(process.args, process.returncode, "", stderr.read_text())
    completed.pid = process.pid
    return completed


def _assert_same_tables(where: Where, out: str, local: str) -> None:
    manifest, expected = where.manifest(out), where.manifest(local)
    assert manifest["engine"] == "ray" and manifest["shards"] == expected["shards"] >= 50
    ray_tables, local_tables = where.tables(out), where.tables(local)
    for name in TABLES:
        if "source_path" in ray_tables[name].columns and ray_tables[name].height:
            assert ray_tables[name]["source_path"].str.starts_with(where.source + "/").all()
        assert_frame_equal(ray_tables[name], local_tables[name])


def test_cluster_has_two_nodes_and_refuses_a_driver_without_the_token(cluster):
    alive = [node for node in cluster.nodes if node["alive"]]
    assert len(alive) == 2 and {node["cpus"] for node in alive} == {1.0}
    sockets = sorted(node["raylet_socket"] for node in alive)
    assert str(cluster.base / "head") in sockets[0] and str(cluster.base / "worker") in sockets[1]
    # no token: the GCS answers "Unauthenticated" at once (Ray then retries for about 20 s; not waited for)
    env = {key: value for key, value in cluster.env.items() if not key.startswith("RAY_AUTH")}
    env["HOME"] = str(cluster.base)  # no ~/.ray/auth_token either
    probe = subprocess.Popen([sys.executable, "-c", f"import ray; ray.init(address={cluster.address!r})"],
                             env=env, cwd=cluster.base, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)
    timer = threading.Timer(60, os.killpg, (probe.pid, signal.SIGKILL))  # should Ray print nothing
    timer.start()
    try:
        seen = ""
        for line in probe.stderr:
            seen += line
            if "Unauthenticated" in line:
                break
        assert "Authentication token is missing or incorrect" in seen, seen[-3000:]
    finally:
        timer.cancel()
        try:
            os.killpg(probe.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        probe.wait(timeout=30)


def test_two_node_cluster_gives_the_local_tables(cluster, where, config, local, tmp_path):
    nodes_seen: dict[str, set[int]] = {"head": set(), "worker": set()}
    scratch_seen: dict[str, set[str]] = {"head": set(), "worker": set()}  # shard scratch folders per node
    remote = where.env is not None
    out = where.out("ray")
    driver_shards = None
    if remote:
        from corpusclean import storage

        driver_shards = storage.work_folder(out) / "_work" / "shards"
    in_driver_folder: set[str] = set()  # temporary entries seen in the driver's shard folder

    def watch() -> None:
        for pid, node in cluster.shard_workers().items():
            nodes_seen[node].add(pid)
        if remote:
            for node, dirs in cluster.node_dirs.items():
                scratch_seen[node].update(entry.name for entry in dirs["tmp"].glob("corpusclean-shard-*"))
            if driver_shards.is_dir():
                in_driver_folder.update(entry.name for entry in driver_shards.iterdir() if entry.name.startswith("."))

    completed = _run_on_cluster(cluster, where.source, config, out, watch, tmp_path / "ray.stderr",
                                ("--keep-work",) if remote else ())
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stderr == "", completed.stderr[-3000:]  # --quiet: nothing of Ray's either
    # shards ran on both nodes, in workers of each node's raylet
    assert nodes_seen["head"] and nodes_seen["worker"], nodes_seen
    _assert_same_tables(where, out, local)
    if remote:
        _assert_work_went_through_the_store(cluster, out, driver_shards, scratch_seen, in_driver_folder,
                                            completed.pid)


def _assert_work_went_through_the_store(cluster: Cluster, out: str, driver_shards: Path,
                                        scratch_seen: dict[str, set[str]], in_driver_folder: set[str],
                                        driver_pid: int) -> None:
    """With ``--keep-work``: every shard is in the bucket with its marker, and phase B's task results
    too; the nodes made their shards in their own temporary folders, and into the driver's shard folder
    only the driver wrote (its fetches), each local shard the same bytes as the bucket's."""
    from corpusclean import storage
    from corpusclean.shards import SHARD_MARKER

    objects = storage.list_versions(storage.join(out, "_work"))
    shards: dict[str, dict[str, int]] = {}
    for uri, (size, _) in objects.items():
        relative = uri.split("/_work/", 1)[1]
        if relative.startswith("shards/"):
            _, name, file = relative.split("/")
            shards.setdefault(name, {})[file] = size
    local_shards = {entry.name for entry in driver_shards.iterdir() if not entry.name.startswith(".")}
    assert local_shards and set(shards) == local_shards, (sorted(shards), sorted(local_shards))
    for name, files in shards.items():
        assert SHARD_MARKER in files, name
        marker = storage.read_json(storage.join(out, "_work", "shards", name, SHARD_MARKER))
        assert marker["tables"] == {file: size for file, size in files.items() if file != SHARD_MARKER}
        assert {path.name: path.stat().st_size for path in (driver_shards / name).iterdir()} == marker["tables"]
    phase_b = sorted(uri.split("/_work/phase_b/", 1)[1] for uri in objects if "/_work/phase_b/" in uri)
    assert "near/rows.parquet" in phase_b and "contained/rows.parquet" in phase_b, phase_b
    assert sum(name.startswith("near/band-") for name in phase_b) >= 8, phase_b
    assert any(name.startswith("contained/partition-") and name.endswith("/df.parquet") for name in phase_b)
    # the nodes: shards made in their own TMPDIR (seen while the run went), nothing in their work roots
    assert scratch_seen["head"] and scratch_seen["worker"], scratch_seen
    for dirs in cluster.node_dirs.values():
        assert not any(dirs["work"].iterdir()), list(dirs["work"].iterdir())
        assert not list(dirs["tmp"].glob("corpusclean-shard-*"))  # every scratch removed
    caches = {node: sum(path.stat().st_size for path in dirs["tmp"].glob("corpusclean-task-cache-*/*")
                        if not path.name.startswith("."))
              for node, dirs in cluster.node_dirs.items()}
    assert any(caches.values()), caches  # phase B's tasks read their inputs through a node cache
    # the driver's shard folder: only its own fetches' temporary folders were ever seen there
    assert all(entry.endswith(f".{driver_pid}.fetch") for entry in in_driver_folder), in_driver_folder
    shard_bytes = sum(size for files in shards.values() for size in files.values())
    phase_b_bytes = sum(size for uri, (size, _) in objects.items() if "/_work/phase_b/" in uri)
    print(f"\nthrough the store: shards {len(shards)} x up+down {shard_bytes} B; phase B objects "
          f"{len(phase_b)} {phase_b_bytes} B; node caches {caches} B")


def test_a_worker_killed_in_a_shard_is_retried(cluster, where, config, local, tmp_path):
    killed: list[tuple[int, str]] = []

    def watch() -> None:
        if killed:
            return
        running = cluster.shard_workers()
        # a worker of the second node if one is running: not on the node the driver (the CLI) joined
        for pid, node in sorted(running.items(), key=lambda item: item[1] != "worker"):
            try:
                os.kill(pid, signal.SIGKILL)  # kill -9, in the middle of a shard task
            except ProcessLookupError:
                continue
            killed.append((pid, node))
            return

    out = where.out("ray-killed")
    completed = _run_on_cluster(cluster, where.source, config, out, watch, tmp_path / "ray.stderr")
    assert killed, "no worker was seen running a shard"
    assert completed.returncode == 0, completed.stderr[-3000:]
    # the driver (the CLI) saw the task fail with its worker and submitted it again
    driver_log = "".join(log.read_text(errors="replace")
                         for log in cluster.base.glob(f"*/session_*/logs/python-core-driver-*_{completed.pid}.log"))
    assert "failed with error WORKER_DIED" in driver_log and "Will resubmit task" in driver_log, driver_log[-3000:]
    _assert_same_tables(where, out, local)



def test_against_an_earlier_output_in_the_store(cluster, where, config, local, tmp_path):
    """``--against`` an earlier output on the cluster: the same tables as the local engine's, and
    with the outputs in the store the tasks read the earlier fingerprints from that output's own
    object (the driver's local copy is not uploaded again under ``OUT/_work``)."""
    source = f"{where.source}/raw"
    out, reference = where.out("ray-against"), where.out("local-against")
    completed = subprocess.run(
        [sys.executable, "-m", "corpusclean", "run", source, "-o", reference, "-c", str(config), "--against", local,
         "--engine", "local", "--quiet"], cwd=REPO, env=where.env, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    completed = _run_on_cluster(cluster, source, config, out, lambda: None, tmp_path / "ray.stderr",
                                ("--against", local, "--keep-work"))
    assert completed.returncode == 0, completed.stderr[-3000:]
    ray_tables, local_tables = where.tables(out), where.tables(reference)
    assert ray_tables["links"].height and (ray_tables["paragraphs"]["earlier_ids"].list.len() > 0).any()
    for name in TABLES:
        assert_frame_equal(ray_tables[name], local_tables[name])
    if where.env is not None:
        from corpusclean import storage

        _, inputs = storage.list_objects(f"{out}/_work/phase_b")
        names = [uri.rsplit("/", 1)[-1] for uri, _, _ in inputs]
        assert "rows.parquet" in names, names  # the run's own task inputs are there (--keep-work)
        assert not [name for name in names if name.endswith("fingerprints.parquet")], names
