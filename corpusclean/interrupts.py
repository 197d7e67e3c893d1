"""Interruptions: Ctrl-C and SIGTERM end a command within two seconds, with one line, resumable.

What a run leaves is always valid, at any instant: phase A renames each finished shard folder into
place and phase B switches a staging folder in for the output (:mod:`corpusclean.shards`,
:mod:`corpusclean.writers.output`), and the next start removes the temporary ones. So stopping needs
no cleanup, only speed and a clear word; what it takes:

* **One path for both signals.** Inside :func:`handled` (the commands), SIGINT and SIGTERM raise
  :class:`Interrupted` in the main thread (a ``KeyboardInterrupt``, so code that already unwinds on
  Ctrl-C does so on SIGTERM too). It is raised once: a second Ctrl-C while unwinding or exiting is
  ignored instead of breaking that with a traceback. The phase-A pool stops its workers on the way
  out (:mod:`corpusclean.executors.local`) and fills in how many shards are finished; the command
  prints :func:`message` as one line and exits 128 + the signal number (130, 143).
* **A bound on the time.** Python runs signal handlers only between bytecodes of the main thread,
  so a main thread inside a long native call (a polars join in phase B) would not react until it
  returns. The C-level handler writes each signal to a wakeup pipe at once (``signal.set_wakeup_fd``);
  a watchdog thread reading it ends the process with ``os._exit`` if it is still alive
  :data:`HARD_EXIT_AFTER` seconds after the signal, printing the line if the main thread has not.
  That is safe because of the atomic renames above; phase-A workers die with the process (they set
  ``PR_SET_PDEATHSIG`` and watch their parent).
* :func:`deferred`: a block where a signal only takes effect at its end (the pool uses it while it
  starts worker processes, so no worker is left half registered).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

#: The signals that interrupt a command.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: Seconds after a signal at which the watchdog ends a process that has not exited yet.
HARD_EXIT_AFTER = 1.5


class Interrupted(KeyboardInterrupt):
    """The command was stopped by signal ``signum``.

    The phase-A executor fills in ``done`` of ``total`` shards (pieces of big JSONL files count as
    shards) and ``shards_dir``; elsewhere they stay ``None``."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)
        self.done: int | None = None
        self.total: int | None = None
        self.shards_dir: Path | None = None

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def __reduce__(self):
        return type(self), (self.signum,), self.__dict__


class _State:
    def __init__(self) -> None:
        self.active = False      # our handlers are installed (inside handled())
        self.raised = False      # Interrupted was raised; later signals are ignored
        self.deferring = 0
        self.pending: int | None = None
        self.output: Path | None = None
        self.reported = threading.Lock()  # held by whoever prints the line (main thread or watchdog)


_state = _State()


def _handler(signum: int, frame) -> None:
    if _state.raised:
        return
    if _state.deferring:
        _state.pending = _state.pending or signum
        return
    _state.raised = True
    raise Interrupted(signum)


@contextmanager
def deferred() -> Iterator[None]:
    """A signal that arrives in this block raises :class:`Interrupted` when the block ends
    (inside :func:`handled` only; elsewhere signals act as they would anyway)."""
    _state.deferring += 1
    try:
        yield
    finally:
        _state.deferring -= 1
        if not _state.deferring and _state.pending is not None and not _state.raised:
            signum, _state.pending = _state.pending, None
            _state.raised = True
            raise Interrupted(signum)


def _count_finished(shards_dir: Path) -> int:
    try:
        return sum(entry.is_dir() and not entry.name.startswith(".") for entry in shards_dir.iterdir())
    except OSError:
        return 0


def message(stop: BaseException | int, output: str | Path | None) -> str:
    """The one line that says an interrupted command kept what it finished and how to go on."""
    work = Path(output) / "_work" if output is not None else None
    done = getattr(stop, "done", None)
    total = getattr(stop, "total", None)
    shards_dir = getattr(stop, "shards_dir", None) or (work / "shards" if work else None)
    where = f" in {work}" if work else ""
    if done is not None and total is not None and done:
        return (f"corpusclean: interrupted; {done} of {total} shards are finished and kept{where}; "
                "run the same command again to resume")
    finished = done if done is not None else _count_finished(shards_dir) if shards_dir else 0
    if not finished:
        return "corpusclean: interrupted before any shard was finished; run the same command again to start over"
    return (f"corpusclean: interrupted; {finished} finished shard{'s' * (finished != 1)} "
            f"{'are' if finished != 1 else 'is'} kept{where}; run the same command again to resume")


def _write_line(line: str) -> None:
    try:
        if sys.stderr.isatty():  # a progress display may have hidden the cursor
            sys.stderr.write("\r\x1b[2K\x1b[?25h")
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr closed (a terminal that went away): nothing to tell
        pass


def report(stop: BaseException, output: str | Path | None) -> int:
    """Print the interruption's line to stderr (once per process) and return the exit code.

    For the commands' ``except KeyboardInterrupt``: a plain ``KeyboardInterrupt`` counts as SIGINT."""
    if _state.reported.acquire(blocking=False):
        _write_line(message(stop, output))
    return getattr(stop, "exit_code", 128 + signal.SIGINT)


def _watch(read_fd: int, disarmed: threading.Event) -> None:
    """Watchdog thread: after a stop signal, end the process if it outlives :data:`HARD_EXIT_AFTER`."""
    while True:
        try:
            data = os.read(read_fd, 64)
        except OSError:
            return
        if not data or disarmed.is_set():
            return
        stops = [signum for signum in data if signum in STOP_SIGNALS]
        if stops:
            break
    if disarmed.wait(HARD_EXIT_AFTER):
        return
    if _state.reported.acquire(blocking=False):
        _write_line(message(stops[0], _state.output))
    os._exit(128 + stops[0])


@contextmanager
def handled(output: str | Path | None = None, hard_exit: bool = True) -> Iterator[None]:
    """Run a command's body so that SIGINT and SIGTERM raise :class:`Interrupted` (see the module
    docstring); ``output`` is the command's output folder, for the line. With ``hard_exit`` a watchdog
    ends the process :data:`HARD_EXIT_AFTER` seconds after a signal if it is still alive: only for a
    caller that exits on :class:`Interrupted`, as the commands do.

    Off the main thread (where handlers cannot be set) the body runs as it is."""
    if threading.current_thread() is not threading.main_thread() or _state.active:
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    _state.__init__()
    _state.active, _state.output = True, Path(output) if output is not None else None
    disarmed = threading.Event()
    read_fd = write_fd = -1
    previous_wakeup = None
    if hard_exit:
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        previous_wakeup = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        threading.Thread(target=_watch, args=(read_fd, disarmed), name="corpusclean-interrupts",
                         daemon=True).start()
    for signum in STOP_SIGNALS:
        signal.signal(signum, _handler)
    interrupted = False
    try:
        yield
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        interrupted = interrupted or _state.raised
        for signum, handler in previous.items():
            # after an interruption the process is ending (the watchdog sees to it): a second Ctrl-C
            # must not break that with a traceback, nor, arriving while the interpreter shuts down
            # (which resets handlers but ignored signals), kill it with another exit code
            signal.signal(signum, signal.SIG_IGN if interrupted and hard_exit else handler)
        _state.active = False
        if hard_exit:
            signal.set_wakeup_fd(previous_wakeup if previous_wakeup is not None else -1)
            if not interrupted:  # else the watchdog stays armed until the process exits
                disarmed.set()
                os.close(write_fd)  # the watchdog reads end-of-file and ends
