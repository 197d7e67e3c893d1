"""The output folder as one unit: one run writes it at a time, and a run's tables appear all at once.

A run's tables (``documents``, ``paragraphs``, ``removed``, ``links``, ``errors``, ``fingerprints``
and ``manifest.json``) describe one another: a link names paragraphs, the manifest counts rows. Renaming
six files into place one after another leaves a mix when the process dies between two renames (seen:
a new ``paragraphs.parquet`` beside the old ``links.parquet`` and manifest). So the tables of a run are
written into a *staging folder* beside ``OUT`` and the two folders are swapped in one system call:

1. **Lock.** ``OUT/.corpusclean.lock`` is held with ``flock`` for the whole run and says who holds it
   (pid, host, command, start time); a second run into ``OUT`` reads that and stops (exit 2). A lock
   taken on a file that a finished commit has just swapped away is noticed (its inode is no longer the
   one at the path) and taken again on the new one.
2. **Stage.** :meth:`OutputFolder.staging` is ``PARENT/.OUT.next-<pid>/``, on the same file system as
   ``OUT`` (renames across file systems are copies, never atomic). It carries its own lock file, locked
   by this run before the swap, so the folder that becomes ``OUT`` is locked from its first moment.
3. **Switch.** ``OUT/_work`` (resume data) moves into the staging folder when it is kept, then
   ``renameat2(staging, OUT, RENAME_EXCHANGE)`` swaps the two folders atomically (Linux 3.15+, ext4,
   xfs, btrfs, tmpfs). The previous corpus is now at the staging path and is deleted.

A kill at any moment therefore leaves ``OUT`` holding the previous complete corpus or the new one; what
it leaves beside it (a staging folder, a half-written temporary file) is removed by
:meth:`OutputFolder.clean_leftovers` at the next start, under the lock. Where the exchange is refused
(another OS, a file system without it) the switch is two renames, ``OUT -> .OUT.prev-<pid>`` then
``staging -> OUT``; a kill between them leaves no ``OUT``, and the next start renames the previous
corpus back. ``OUT`` itself cannot be a mount point (a mount point cannot be renamed): use a folder
inside it.

Example:
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "out"
    >>> with OutputFolder(out, "doctest") as folder:
    ...     staging = folder.staging()
    ...     _ = (staging / "manifest.json").write_text("{}")
    ...     folder.commit(staging, keep_work=False)
    >>> sorted(path.name for path in out.iterdir())
    ['.corpusclean.lock', 'manifest.json']
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import shutil
import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import OutOfSpace, UsageError
from ..failpoints import failpoint

LOCK_NAME = ".corpusclean.lock"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100



def _exchange(a: Path, b: Path) -> bool:
    """Swap the folders ``a`` and ``b`` in one step; False where the OS or file system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:  # glibc < 2.28
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, f"cannot switch {a} into place: {os.strerror(code)}", str(b))


def _lock_file(path: Path, holder: dict[str, Any]) -> int | None:
    """Open and ``flock`` ``path``; the descriptor, or None when another process holds it."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.write(fd, (json.dumps(holder) + "\n").encode())
            return fd
        os.close(fd)  # the folder was swapped while we waited: lock the file now at the path


def _describe_holder(path: Path) -> str:
    try:
        holder = json.loads(path.read_text("utf-8"))
        return (f"pid {holder['pid']} on {holder['host']} since {holder['since']} "
                f"(corpusclean {holder['command']})")
    except (OSError, ValueError, KeyError):
        return "another corpusclean process"


class Reentrant:
    """A lock on an output that a process takes once however often it enters: ``run`` holds the lock
    that ``run_extract`` and ``run_dedup`` take again inside it.

    A subclass gives :meth:`_held_key` (what names the output) and :meth:`_acquire_lock` /
    :meth:`_release_lock` (taken on the first enter, given back on the last exit; ``_acquire_lock``
    gives back what it took if it fails). An inner ``with`` returns the holder, and its exit hands over
    to the holder's. The holders are per class, in ``_held``."""

    _held: dict[str, "Reentrant"]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._held = {}

    depth = 0
    _outer: "Reentrant | None" = None

    def _held_key(self) -> str:
        raise NotImplementedError

    def _acquire_lock(self) -> None:
        raise NotImplementedError

    def _release_lock(self, exc_type: type[BaseException] | None) -> None:
        raise NotImplementedError

    def __enter__(self):
        key = self._held_key()
        held = self._held.get(key)
        if held is not None:
            held.depth += 1
            self._outer = held  # __exit__ is called on this object: it hands over to the holder
            return held
        self._acquire_lock()
        self.depth = 1
        self._held[key] = self
        return self

    def __exit__(self, exc_type, *exc_info) -> None:
        if self._outer is not None:
            outer, self._outer = self._outer, None
            return outer.__exit__(exc_type, *exc_info)
        self.depth -= 1
        if self.depth == 0:
            self._held.pop(self._held_key(), None)
            self._release_lock(exc_type)


class OutputFolder(Reentrant):
    """``OUT`` locked for one run: stage its tables beside it, then switch them in at once.

    Re-entrant within a process: ``run`` locks ``OUT`` and the phases it calls take the same lock
    again. Raises :class:`~corpusclean.errors.UsageError` when another run holds it.
    """

    def __init__(self, path: str | Path, command: str = "run") -> None:
        self.path = Path(path)
        self.command = command
        self.fd: int | None = None
        self.staging_fds: list[int] = []

    # -- lock ------------------------------------------------------------------------------------
    def _held_key(self) -> str:
        return os.path.realpath(self.path)

    def _acquire_lock(self) -> None:
        self._restore_previous()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot write to output folder {self.path}: {exc.strerror or exc}") from None
        if os.path.ismount(self.path):
            raise UsageError(f"output folder {self.path} is a mount point, which cannot be switched atomically; "
                             f"use a folder inside it, e.g. -o {self.path / 'corpus'}")
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "command": self.command,
                  "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        try:
            self.fd = _lock_file(self.path / LOCK_NAME, holder)
        except OSError as exc:
            raise UsageError(f"cannot write to output folder {self.path}: {exc.strerror or exc}") from None
        if self.fd is None:
            raise UsageError(f"output folder {self.path} is in use by {_describe_holder(self.path / LOCK_NAME)}; "
                             "wait for it to finish or stop it, or write to another folder")
        try:
            self._probe_parent()
            self.clean_leftovers()
        except BaseException:
            self._release()
            raise

    def _release_lock(self, exc_type: type[BaseException] | None) -> None:
        try:
            if exc_type is not None:  # a failed run leaves no half-written file behind
                self.clean_leftovers()
        finally:
            self._release()

    def _release(self) -> None:
        for fd in [self.fd, *self.staging_fds]:
            if fd is not None:
                os.close(fd)  # closing drops the flock
        self.fd, self.staging_fds = None, []

    # -- staging and switch ------------------------------------------------------------------------
    def _sibling(self, kind: str, pid: int | None = None) -> Path:
        return self.path.parent / f".{self.path.name}.{kind}-{os.getpid() if pid is None else pid}"

    def _probe_parent(self) -> None:
        probe = self._sibling("probe")
        try:
            probe.mkdir(exist_ok=True)
            probe.rmdir()
        except OSError as exc:
            raise UsageError(f"cannot write beside output folder {self.path} (in {self.path.parent}): "
                             f"{exc.strerror or exc}; the new tables are staged there and switched in at once") from None

    def staging(self) -> Path:
        """A fresh, empty, locked staging folder for this run's tables."""
        staging = self._sibling("next")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        fd = _lock_file(staging / LOCK_NAME, {"pid": os.getpid(), "host": socket.gethostname(),
                                              "command": self.command, "since": time.strftime("%Y-%m-%d %H:%M:%S")})
        assert fd is not None, "a folder this process just made is locked by no one else"
        self.staging_fds.append(fd)
        return staging

    def commit(self, staging: Path, keep_work: bool) -> None:
        """Make ``staging`` the output folder in one step; ``_work`` goes with it when ``keep_work``."""
        work = self.path / "_work"
        if keep_work and work.is_dir():
            os.rename(work, staging / "_work")
        failpoint("commit.work_moved")
        if _exchange(staging, self.path):
            old = staging
        else:
            old = self._sibling("prev")
            os.rename(self.path, old)
            os.rename(staging, self.path)
        failpoint("commit.exchanged")
        # the lock held on the swapped-away folder's file now guards nothing: the staging folder's is
        # the lock at OUT, and it is ours
        os.close(self.fd)
        self.fd = self.staging_fds.pop()
        shutil.rmtree(old, ignore_errors=True)
        failpoint("commit.done")

    def abandon(self, staging: Path) -> None:
        """Remove a staging folder whose run failed, giving resume data back to ``OUT``."""
        if (staging / "_work").is_dir() and not (self.path / "_work").exists():
            os.rename(staging / "_work", self.path / "_work")
        shutil.rmtree(staging, ignore_errors=True)

    def clean_leftovers(self) -> None:
        """Remove what killed runs left: staging folders beside ``OUT`` and temporary files in it.

        Only ever called under the lock, so nothing removed here belongs to a live run."""
        for leftover in self.path.parent.glob(f".{self.path.name}.next-*"):
            if (leftover / "_work").is_dir() and not (self.path / "_work").exists():
                os.rename(leftover / "_work", self.path / "_work")  # killed mid-switch: keep the resume data
            shutil.rmtree(leftover, ignore_errors=True)
        for leftover in self.path.parent.glob(f".{self.path.name}.prev-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        for folder in (self.path, self.path / "_work", self.path / "_work" / "shards"):
            for temporary in folder.glob(".*.tmp"):
                if temporary.is_dir():
                    shutil.rmtree(temporary, ignore_errors=True)
                else:
                    temporary.unlink(missing_ok=True)

    def _restore_previous(self) -> None:
        """A fallback switch killed between its two renames left no ``OUT``: put the previous back."""
        if self.path.exists():
            return
        previous = sorted(self.path.parent.glob(f".{self.path.name}.prev-*"))
        if previous:
            os.rename(previous[0], self.path)


def folder_bytes(path: Path) -> int:
    """Bytes of the files under ``path`` (0 when it does not exist)."""
    total = 0
    for root, _, names in os.walk(path):
        for name in names:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def _is_out_of_space(exc: BaseException | None) -> bool:
    """A full disk, as an ``OSError`` or wrapped by polars or pyarrow (``ComputeError: ... No space
    left on device (os error 28)``), or by a worker process, which sends the exception as text."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if any(words in str(exc) for words in (os.strerror(errno.ENOSPC), os.strerror(errno.EDQUOT))):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


@contextmanager
def space_checked(folder: Path, needed: Callable[[], int], clean: Callable[[], None]) -> Iterator[None]:
    """Turn a full disk (``ENOSPC``, ``EDQUOT``) under ``folder`` into one :class:`OutOfSpace` line that
    names the folder, the space free once ``clean()`` removed the half-written files, and ``needed()``,
    an estimate of what the run still needs there."""
    try:
        yield
    except Exception as exc:
        if not _is_out_of_space(exc):
            raise
        clean()
        free = shutil.disk_usage(folder if folder.exists() else folder.parent).free
        raise OutOfSpace(f"no space left on the device of {folder} ({free / 1e6:,.0f} MB free); this run needs "
                         f"about {needed() / 1e6:,.0f} MB more there; free some space or write to another "
                         "folder (-o), then rerun: finished shards are kept") from None
