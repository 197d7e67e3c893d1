"""A real S3-compatible server for the tests that need one: moto's standalone server on a free port of
127.0.0.1, started by the test and stopped after it (never an object mocked in memory).

    with MotoServer() as server:
        server.client.create_bucket(Bucket="corpus")
        server.upload(folder, "corpus")
        subprocess.run([...], env=server.env)   # the AWS_* environment a user's run would have
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

MOTO_SERVER = Path(sys.executable).with_name("moto_server")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MotoServer:
    """``moto_server -H 127.0.0.1 -p PORT`` for the ``with`` block; ``env`` points the AWS SDKs at it.

    ``work_root`` (optional) is where runs with an ``s3://`` output keep their local work folders
    (``CORPUSCLEAN_WORK_ROOT``), so a test leaves nothing in the user's cache."""

    def __init__(self, work_root: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.aws = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_ENDPOINT_URL": self.url,
                    "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
        if work_root is not None:
            self.aws["CORPUSCLEAN_WORK_ROOT"] = str(work_root)
        self.env = {**os.environ, **self.aws}
        self._process: subprocess.Popen | None = None
        self._saved: dict[str, str | None] = {}

    def __enter__(self) -> "MotoServer":
        self._process = subprocess.Popen([str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(self.port)],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(self.url, timeout=1)
                break
            except OSError as exc:
                if getattr(exc, "code", None):  # an HTTP answer of any status: it is up
                    break
                if time.monotonic() > deadline or self._process.poll() is not None:
                    self.__exit__()
                    raise RuntimeError("moto_server did not start") from exc
                time.sleep(0.1)
        # this process's own reads (corpusclean.storage, boto3) go to the server as well
        self._saved = {name: os.environ.get(name) for name in self.aws}
        os.environ.update(self.aws)
        return self

    def __exit__(self, *exc: Any) -> None:
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self.stop_server()

    def stop_server(self) -> None:
        """Stop the server process (the ``with`` block's end does; a test may do it sooner, to see a
        store go away under a running command)."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    @property
    def client(self):
        import boto3

        return boto3.client("s3")

    def upload(self, folder: Path, bucket: str, prefix: str = "") -> None:
        """Every file under ``folder`` to ``s3://bucket/prefix...`` under its relative name."""
        client = self.client
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                client.upload_file(str(path), bucket, prefix + path.relative_to(folder).as_posix())
