"""An output in an object store (``s3://bucket/out``) with the atomic-commit rules of a local folder.

S3 has no rename, so a run's tables cannot be swapped in; instead they are written where no reader
looks yet and one small object, written last, says where they are. Layout::

    OUT/manifest.json               the corpus: the run's manifest, whose "storage" section names its
                                    generation and the key of every table; one PUT, so it is replaced whole
    OUT/_v/<run-id>/<table>.parquet the tables of one run (a generation), never changed once written
    OUT/_v/<run-id>/manifest.json   the same manifest, beside its tables
    OUT/.corpusclean.lock           held by the run writing OUT (who, since when, its run id)

A run (``run`` and ``dedup``; ``extract`` takes the lock too):

1. **Check.** The bucket is reached with the environment's credentials (:func:`corpusclean.storage.check_bucket`):
   no credentials, a missing bucket, a refused access or an unreachable endpoint is one line, exit 2,
   before any work.
2. **Lock.** ``OUT/.corpusclean.lock`` is created with a conditional PUT (``If-None-Match: *``): of two
   runs starting together exactly one creates it; the other reads who holds it and stops (exit 2). The
   holder rewrites it every :data:`HEARTBEAT_SECONDS` with the time. A lock whose holder is dead is
   taken over: on the same host when its pid is gone, on any host when its heartbeat is older than
   :data:`STALE_SECONDS` (``CORPUSCLEAN_LOCK_STALE_SECONDS``). It is deleted when the run ends.
3. **Clean.** Under the lock, generations the manifest does not name (as ``generation`` or
   ``previous_generation``) are deleted: what a killed run had uploaded.
4. **Work locally.** Phase A and the final write run exactly as for a local output, in the local folder
   :func:`corpusclean.storage.work_folder` of the URI (``_work``, the staging folder), which keeps its
   local lock and rules.
5. **Publish.** The staged tables are uploaded to ``OUT/_v/<run-id>/``; the lock is read back to check
   it still names this run; then ``OUT/manifest.json`` is PUT, in one request. Then generations older
   than the previous one are deleted, and the local folder switches in the same tables (a local copy).

**Guarantee.** A reader that reads ``OUT/manifest.json`` and then the tables it names sees one run's
complete corpus: the previous one or the new one, never a mix, because a generation's objects are
complete before the manifest names them (S3 has been strongly consistent for reads after writes and
lists since 2020; an object appears whole or not at all) and the manifest is one object. A run killed
at any moment (even ``kill -9``) before the manifest PUT leaves the manifest as it was, and the
generation it named readable; what it uploaded is removed at the next start. The previous generation
is kept until the next publish, so a reader that read the old manifest just before a switch can still
read its tables for a whole run's time. One run at a time, by the conditional PUT; the limit: two runs
that take over the *same stale* lock in the same instant can both believe they hold it (deleting it and
creating it again are two requests); the check just before the manifest PUT makes the one that lost see
it, unless both pass their checks before either writes the manifest.

Not covered: readers that list ``OUT/_v/`` instead of following the manifest, and object stores that
ignore ``If-None-Match`` (old MinIO, some S3 clones): there a second run is not refused at the lock,
only (usually) at the check before publishing.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
from pathlib import Path
from typing import Any

from .. import storage
from ..errors import UsageError
from ..failpoints import failpoint
from .output import LOCK_NAME, OutputFolder, Reentrant

GENERATIONS = "_v"
#: seconds between two rewrites of the lock object by its holder
HEARTBEAT_SECONDS = 30.0
#: a lock not rewritten for this long belongs to a dead run (on another host: no pid to ask)
STALE_SECONDS = float(os.environ.get("CORPUSCLEAN_LOCK_STALE_SECONDS", 600))


def output_folder(location: str | os.PathLike, command: str = "run") -> "OutputFolder | RemoteOutputFolder":
    """The output of a run: a local folder (or ``file://``), or an object-store prefix."""
    if storage.is_remote(location):
        return RemoteOutputFolder(str(location), command)
    return OutputFolder(storage.local_path(location) if isinstance(location, str) else location, command)


def _new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(4)


class RemoteOutputFolder(Reentrant):
    """``s3://bucket/out`` locked for one run; :meth:`commit` publishes a staged run (module docstring).

    Has :class:`OutputFolder`'s interface: ``path`` is the local folder the run works in."""

    def __init__(self, uri: str, command: str = "run") -> None:
        self.uri = storage.normalize(uri)
        self.bucket, self.prefix = storage.split(self.uri)
        self.command = command
        self.local = OutputFolder(storage.work_folder(self.uri), command)
        self.path: Path = self.local.path
        self.run_id = _new_run_id()
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None
        self._locked = False

    def _key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    # -- lock ------------------------------------------------------------------------------------
    def _held_key(self) -> str:
        return self.uri

    def _acquire_lock(self) -> None:
        storage.check_bucket(self.uri)
        self.local.__enter__()
        try:
            self._acquire()
            self.clean_remote_leftovers()
        except BaseException:
            self._release()
            self.local.__exit__(None, None, None)
            raise

    def _release_lock(self, exc_type: type[BaseException] | None) -> None:
        try:
            self._release()
        finally:
            self.local.__exit__(exc_type, None, None)

    def _holder(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "host": socket.gethostname(), "command": self.command, "run_id": self.run_id,
                "since": getattr(self, "_since", None) or time.strftime("%Y-%m-%d %H:%M:%S"),
                "heartbeat": time.time()}

    def _put_lock(self, conditional: bool) -> bool:
        from botocore import exceptions as be

        extra = {"IfNoneMatch": "*"} if conditional else {}
        try:
            storage.client().put_object(Bucket=self.bucket, Key=self._key(LOCK_NAME),
                                        Body=json.dumps(self._holder()).encode(), ContentType="application/json",
                                        **extra)
            return True
        except be.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
                return False
            message = storage.describe_error(exc, self.uri)
            raise UsageError(message or f"cannot write the lock {self.uri}/{LOCK_NAME}: {exc}") from None

    def _acquire(self) -> None:
        self._since = time.strftime("%Y-%m-%d %H:%M:%S")
        for _ in range(3):
            if self._put_lock(conditional=True):
                self._locked = True
                self._beat = threading.Thread(target=self._heartbeat, name="corpusclean-lock", daemon=True)
                self._beat.start()
                return
            holder = storage.read_json(storage.join(self.uri, LOCK_NAME))
            if holder is None:
                continue  # released in between: try again
            if not self._stale(holder):
                raise UsageError(f"output {self.uri} is in use by {_describe(holder)}; wait for it to finish "
                                 f"or stop it, or write to another output (a dead run's lock expires "
                                 f"{STALE_SECONDS:.0f} s after its last heartbeat)")
            storage.client().delete_object(Bucket=self.bucket, Key=self._key(LOCK_NAME))  # a dead run's
        raise UsageError(f"output {self.uri}: could not take its lock ({LOCK_NAME}); try again")

    @staticmethod
    def _stale(holder: dict[str, Any]) -> bool:
        if holder.get("host") == socket.gethostname() and isinstance(holder.get("pid"), int):
            try:
                os.kill(holder["pid"], 0)
            except ProcessLookupError:
                return True
            except OSError:
                pass
            else:
                return False  # alive on this host
        return time.time() - float(holder.get("heartbeat") or 0) > STALE_SECONDS

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                self._put_lock(conditional=False)
            except Exception:  # noqa: BLE001 - the check before publishing decides
                pass

    def _still_ours(self) -> bool:
        holder = storage.read_json(storage.join(self.uri, LOCK_NAME))
        return holder is not None and holder.get("run_id") == self.run_id

    def _release(self) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=5)
            self._beat = None
        if self._locked:
            self._locked = False
            try:
                if self._still_ours():
                    storage.client().delete_object(Bucket=self.bucket, Key=self._key(LOCK_NAME))
            except Exception:  # noqa: BLE001 - a lock left behind is taken over as stale by the next run
                pass

    # -- staging, publish ------------------------------------------------------------------------
    def staging(self) -> Path:
        return self.local.staging()

    def abandon(self, staging: Path) -> None:
        self.local.abandon(staging)

    def clean_leftovers(self) -> None:
        self.local.clean_leftovers()

    def _manifest(self) -> dict[str, Any] | None:
        return storage.read_json(storage.join(self.uri, storage.MANIFEST))

    def _generations(self) -> list[str]:
        from pyarrow import fs as pafs

        selector = pafs.FileSelector(f"{self.bucket}/{self._key(GENERATIONS)}", allow_not_found=True)
        return sorted(info.base_name for info in storage.filesystem().get_file_info(selector)
                      if info.type == pafs.FileType.Directory)

    def _delete_generations(self, keep: set[str]) -> None:
        # with boto3 (storage.delete_prefix): pyarrow's delete_dir leaves an empty "directory" marker
        # object for the parent
        for generation in self._generations():
            if generation not in keep:
                storage.delete_prefix(storage.join(self.uri, GENERATIONS, generation))

    def clean_remote_leftovers(self) -> None:
        """Delete the generations the manifest names not (a killed run's uploads); under the lock."""
        manifest = self._manifest() or {}
        section = manifest.get("storage", {})
        self._delete_generations({section.get("generation"), section.get("previous_generation")} - {None})

    def commit(self, staging: Path, keep_work: bool) -> None:
        """Publish the tables staged in ``staging`` (module docstring, step 5), then switch the local copy."""
        from pyarrow import fs as pafs

        names = sorted(entry.name for entry in staging.iterdir()
                       if entry.is_file() and entry.name.endswith(".parquet") and not entry.name.startswith("."))
        generation = f"{GENERATIONS}/{self.run_id}"
        previous = (self._manifest() or {}).get("storage", {}).get("generation")
        manifest = json.loads((staging / storage.MANIFEST).read_text("utf-8"))
        manifest["storage"] = {
            "uri": self.uri, "generation": self.run_id, "previous_generation": previous,
            "tables": {name.removesuffix(".parquet"): f"{generation}/{name}" for name in names},
            "published": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        body = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()
        system, local = storage.filesystem(), pafs.LocalFileSystem()
        for name in names:
            pafs.copy_files(str(staging / name), f"{self.bucket}/{self._key(generation, name)}",
                            source_filesystem=local, destination_filesystem=system)
        storage.client().put_object(Bucket=self.bucket, Key=self._key(generation, storage.MANIFEST), Body=body,
                                    ContentType="application/json")
        failpoint("publish.tables")
        if not self._still_ours():
            raise UsageError(f"output {self.uri}: another run took its lock while this one ran; nothing was "
                             "published (the manifest is unchanged)")
        storage.client().put_object(Bucket=self.bucket, Key=self._key(storage.MANIFEST), Body=body,
                                    ContentType="application/json")
        failpoint("publish.manifest")
        self._delete_generations({self.run_id, previous} - {None})
        (staging / storage.MANIFEST).write_bytes(body)  # the local copy says where it was published
        self.local.commit(staging, keep_work)


def _describe(holder: dict[str, Any]) -> str:
    try:
        return (f"pid {holder['pid']} on {holder['host']} since {holder['since']} "
                f"(corpusclean {holder['command']})")
    except KeyError:
        return "another corpusclean process"
