"""Named points where a test can kill the process for real, to prove every crash leaves a whole corpus.

``CORPUSCLEAN_FAILPOINT=commit.exchanged corpusclean run ...`` makes the process send itself ``SIGKILL``
(a real ``kill -9``: no handler, no cleanup, no flush) when it reaches :func:`failpoint` with that name.
Timing a kill from outside cannot hit a moment of a few microseconds, such as between the two folder
renames of a commit; this can, every time. Unset (always, outside ``tests/test_faults.py``), a
failpoint is one dictionary lookup. The idea is that of FoundationDB's and etcd's failpoints.

Points, in the order a run reaches them: ``extract.discovered``, ``extract.shards_done``,
``dedup.linked``, ``write.staging``, ``write.first_shard``, ``write.tables_closed``,
``write.links``, ``write.manifest``, ``commit.work_moved``, ``commit.exchanged``, ``commit.done``;
for an ``s3://`` output (:mod:`corpusclean.writers.remote`), ``publish.tables`` (the new generation
uploaded, the manifest not yet written) and ``publish.manifest`` (the manifest written);
``inspect.opened`` in ``inspect`` of an ``s3://`` output (read in place), once its manifest is
checked, before any table is read.
"""

from __future__ import annotations

import os
import signal

VARIABLE = "CORPUSCLEAN_FAILPOINT"


def failpoint(name: str) -> None:
    """SIGKILL this process if ``CORPUSCLEAN_FAILPOINT`` names this point; SIGSTOP it if the variable
    is ``NAME:stop``, so that a test can change the world (stop the object store) before it sends
    ``SIGCONT``."""
    wanted = os.environ.get(VARIABLE)
    if wanted == name:
        os.kill(os.getpid(), signal.SIGKILL)
    elif wanted == f"{name}:stop":
        os.kill(os.getpid(), signal.SIGSTOP)
