"""Discovery: input arguments to the sorted list of files to read.

Directories are walked recursively in sorted order (so output order does not depend on the file
system). Symbolic links to files are followed; a link to a folder is walked once (a link loop is
reported, not followed forever); a dangling link becomes an error row, never a silent skip.

Every file gets a *source path* that is stable across machines: the input folder's own name followed by
the path inside it (``raw/harbor-tribune/a.html``), or the file's name when a file is given directly.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from ..errors import UsageError


@dataclass(frozen=True)
class Piece:
    """A line range of a large JSONL file, read apart from the rest (see :mod:`corpusclean.shards`).

    Attributes:
        index: which piece of the file, from 0; ``count`` pieces in all.
        start: offset of the piece's first line in the JSONL (decompressed, for ``.jsonl.gz``).
        end: offset just past its last line (a line start, or the end of the JSONL).
        file_bytes: the file's size on disk when the pieces were planned (a change means a reread).
    """

    index: int
    count: int
    start: int
    end: int
    file_bytes: int


@dataclass(frozen=True)
class InputFile:
    """One file to read.

    Attributes:
        path: where to read it.
        source_path: stable display path, the provenance recorded in every output row.
        folder_outlet: the first folder below the input directory (``raw/<outlet>/…``), if any.
        piece: when set, only this line range of the file (a large JSONL cut by the shard planner).
    """

    path: Path
    source_path: str
    folder_outlet: str | None
    piece: Piece | None = None


@dataclass(frozen=True)
class DiscoveryProblem:
    """A path that cannot become a document (dangling link, loop, unreadable folder)."""

    source_path: str
    error_type: str
    message: str


def discover(paths: Iterable[str | Path], skip_hidden: bool = True) -> tuple[list[InputFile], list[DiscoveryProblem]]:
    """Expand ``paths`` (files or folders) into input files.

    Raises:
        UsageError: an argument does not exist.

    Example:
        >>> files, problems = discover(["raw"])  # the sample corpus, from the repository root
        >>> files[0].source_path, files[0].folder_outlet, problems
        ('raw/harbor-tribune/lifeboat-station-volunteers.html.gz', 'harbor-tribune', [])
    """
    files: list[InputFile] = []
    problems: list[DiscoveryProblem] = []
    for argument in paths:
        root = Path(argument)
        if not root.exists() and not root.is_symlink():
            raise UsageError(f"input path does not exist: {argument}")
        if root.is_dir():
            label = root.resolve().name
            _walk(root, label, (), skip_hidden, files, problems, visited=set())
        elif root.exists():
            files.append(InputFile(root, root.name, None))
        else:
            raise UsageError(f"input path is a dangling symbolic link: {argument}")
    files.sort(key=lambda f: f.source_path)
    problems.sort(key=lambda p: p.source_path)
    return files, problems


def _walk(folder: Path, label: str, parts: tuple[str, ...], skip_hidden: bool,
          files: list[InputFile], problems: list[DiscoveryProblem], visited: set[str]) -> None:
    source = "/".join((label, *parts))
    real = os.path.realpath(folder)
    if real in visited:
        problems.append(DiscoveryProblem(source, "symlink_loop", f"folder link loops back to {real}; not followed again"))
        return
    visited = visited | {real}
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as exc:
        problems.append(DiscoveryProblem(source, "unreadable", f"cannot list folder: {exc.strerror or exc}"))
        return
    for entry in entries:
        if skip_hidden and entry.name.startswith("."):
            continue
        child_parts = (*parts, entry.name)
        child_source = "/".join((label, *child_parts))
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir(follow_symlinks=True)
            is_file = entry.is_file(follow_symlinks=True)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                problems.append(DiscoveryProblem(child_source, "symlink_loop",
                                                 "symbolic link loops (it leads back to itself and never reaches a "
                                                 f"file): {os.readlink(path)}"))
            else:
                problems.append(DiscoveryProblem(child_source, "unreadable", f"cannot stat: {exc.strerror or exc}"))
            continue
        if is_dir:
            _walk(path, label, child_parts, skip_hidden, files, problems, visited)
        elif is_file:
            outlet = parts[0] if parts else None
            files.append(InputFile(path, child_source, outlet))
        elif entry.is_symlink():
            problems.append(DiscoveryProblem(child_source, "broken_symlink",
                                             f"symbolic link points to a missing target: {os.readlink(path)}"))
        else:
            problems.append(DiscoveryProblem(child_source, "not_a_file", "not a regular file (socket, device or pipe)"))
