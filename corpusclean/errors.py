"""The kinds of failure corpusclean knows.

* :class:`UsageError` is something the user must fix (a missing input path, an unknown config key, an
  unwritable output folder). The CLI prints its message on one line and exits with code 2.
* :class:`InputError` is one bad input (undecodable bytes, an empty page, no article found). It never
  stops a run: the pipeline records it as a row of ``errors.parquet`` with the stage it failed in.
* :class:`OutOfSpace` is a full disk: one line naming the folder and the space needed, exit code 1.
"""

from __future__ import annotations


class UsageError(Exception):
    """A problem with how corpusclean was called; the message says what to do."""


class InputError(Exception):
    """One input could not be turned into a document.

    Args:
        stage: pipeline stage that gave up (``discover``, ``read``, ``decode``, ``extract``, ``clean``).
        error_type: a short stable code, e.g. ``empty``, ``binary``, ``undecodable``, ``no_article``.
        message: a sentence a person understands.
    """

    def __init__(self, stage: str, error_type: str, message: str) -> None:
        super().__init__(message)
        self.stage = stage
        self.error_type = error_type
        self.message = message


class OutOfSpace(Exception):
    """The output's file system filled up. The CLI prints the message on one line and exits with 1;
    the previous tables and finished phase-A shards are kept, half-written files removed."""
