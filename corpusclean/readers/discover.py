"""Discovery: input arguments to the sorted list of files to read, each file once.

Directories are walked recursively in sorted order (so output order does not depend on the file
system). A dangling link becomes an error row, never a silent skip.

Every file gets a *source path* that is stable across machines: the input folder's own name followed by
the path inside it (``raw/harbor-tribune/a.html``), or the file's name when a file is given directly.
Source paths name documents (their ids are hashes of it), so the inputs are treated as a *set*:

* **The same file reached twice is read once.** Files are the same when their resolved paths are (a
  repeated argument, ``raw`` and ``raw/harbor``, a link to a file already reached; hard links are
  distinct files). The first path that reaches it wins, in the order discovery walks: arguments that
  lie inside no other argument folder first (so ``raw raw/harbor`` and ``raw/harbor raw`` both give
  ``raw/harbor/…``, the outermost folder's view), then the others, each group in the order given;
  inside a folder, entries depth-first in name order; links to *folders* after every argument's own
  tree, so a folder's files keep their own paths rather than a link's, and a link to a folder that
  was already walked adds nothing. A link to a *file* counts where it stands (``alpha/link.txt``,
  reached before ``top.txt``, wins). The other paths are dropped silently: nothing was lost.
* **Two different files never share a source path.** Arguments whose names collide (``A/raw`` and
  ``B/raw``, or ``A/x.html`` and ``B/x.html``) are labelled by their path from the closest folder
  holding all of them (``A/raw/…`` and ``B/raw/…``; ``raw`` and ``other/raw``). The label depends
  only on how the colliding inputs sit relative to each other, never on the absolute path above
  them, so the same layout gives the same ids on any machine; an argument whose name collides with
  none keeps its bare name, as before. A collision that labelling cannot tell apart (a file whose
  path happens to spell another input's label) is refused up front with a :class:`UsageError`
  naming both files, rather than failing the run's accounting at the end.
* **Excluded folders** (``exclude``: the pipeline's output folder) are never walked nor read, nor
  are links into them: when the output sits inside an input, a rerun does not ingest the previous
  tables. An argument that *is* an excluded folder or lies inside one is a :class:`UsageError`:
  reading one's own output is a mistake to fix, not to skip.
* **Links stay inside the inputs** unless ``follow_links``: a link found while walking (to a file or
  a folder) whose target resolves outside every argument (an argument folder's tree, or a file
  given as an argument) becomes a ``symlink_outside`` problem, so a crawl holding a link to
  ``/etc/passwd`` does not publish it. Arguments themselves are followed: the user named them.
  Links that stay inside work as before (a link to a folder is walked once, a loop is reported).
* **Names that are not valid UTF-8** (undecodable bytes from another system) cannot be written to
  Parquet: such a file or folder becomes a ``bad_file_name`` problem (nothing inside a folder so
  named is read) whose source path shows the bad bytes as ``\\xff`` escapes. An *argument* so named
  is read, its label escaped the same way. Every source path and message is valid UTF-8.
* **Object stores** (``s3://bucket/prefix``, see :mod:`corpusclean.storage`): a URI naming one object
  is that object; a prefix is every object under it (listed, sorted by key), as a folder is walked:
  the first folder below the prefix is the folder outlet (``s3://b/raw/<outlet>/...``), names starting
  with ``.`` below it are skipped, and the excluded prefixes (an object-store output) are never read.
  The source path of an object is its URI, so provenance says where a page came from. A bucket that
  is missing or closed, missing credentials, an unreachable endpoint and a URI naming nothing are
  :class:`UsageError`. ``file:///path`` is the local path ``/path``.
"""

from __future__ import annotations

import errno
import os
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from .. import storage
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
        path: where to read it (a :class:`~corpusclean.storage.ObjectPath` for an object-store input).
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
    """A path that cannot become a document (dangling link, loop, unreadable folder, link outside
    the inputs, name that is not UTF-8). ``source_path`` is always valid UTF-8."""

    source_path: str
    error_type: str
    message: str


def discover(paths: Iterable[str | Path], skip_hidden: bool = True, exclude: Sequence[str | Path] = (),
             follow_links: bool = False) -> tuple[list[InputFile], list[DiscoveryProblem]]:
    """Expand ``paths`` (files or folders) into input files, each file once (see the module docstring).

    Args:
        paths: the input arguments.
        skip_hidden: skip names starting with ``.`` inside folders (arguments are always read).
        exclude: folders never walked nor read, nor reached through links (the output folder).
        follow_links: follow links whose target lies outside every input; by default they are
            ``symlink_outside`` problems.

    Raises:
        UsageError: an argument does not exist, is a dangling link, is (inside) an excluded folder,
            or two different files would get the same source path.

    Example:
        >>> files, problems = discover(["raw"])  # the sample corpus, from the repository root
        >>> files[0].source_path, files[0].folder_outlet, problems
        ('raw/harbor-tribune/lifeboat-station-volunteers.html.gz', 'harbor-tribune', [])
    """
    paths = list(paths)
    remote = [path for path in paths if storage.is_remote(path)]
    local = [storage.local_path(path) if isinstance(path, str) else path for path in paths if not storage.is_remote(path)]
    excluded = tuple(os.path.realpath(storage.local_path(folder) if isinstance(folder, str) else folder)
                     for folder in exclude if not storage.is_remote(folder))
    arguments = _arguments(local, excluded)
    walk = _Walk(skip_hidden, excluded, follow_links, inside=tuple(a.real for a in arguments))
    for argument in arguments:
        if not argument.is_dir:
            walk.add_file(argument.real, InputFile(argument.root, argument.label, None))
        elif argument.real not in walk.walked:  # else an argument walked before holds it
            walk.folder(argument.root, argument.real, argument.label, (), frozenset())
    walk.follow_folder_links()
    if remote:
        _remote(walk, remote, tuple(storage.normalize(folder) for folder in exclude if storage.is_remote(folder)))
    return walk.result()


def _remote(walk: "_Walk", uris: list[str], excluded: tuple[str, ...]) -> None:
    """Take in the objects that object-store arguments name (see the module docstring's last point):
    a URI naming an object is that object, a prefix every object under it, as a folder is walked.
    The source path of an object is its URI; its folder outlet is the first folder below the
    argument's prefix, as for a local folder; names starting with ``.`` at any level below the
    prefix are skipped with ``skip_hidden``; the excluded prefixes (the output) are never read."""
    storage.clean_fetch_leftovers()
    given = []
    for uri in dict.fromkeys(storage.normalize(uri) for uri in uris):
        for folder in excluded:
            if _under_uri(uri, folder):
                raise UsageError(f"input {uri} is inside {folder}, which is excluded from reading (the output): "
                                 "pass an input outside it or write the output elsewhere")
        given.append(uri)
    # outermost prefixes first, so an object under two arguments gets the outer one's folder outlet
    given.sort(key=lambda uri: sum(_under_uri(uri, other) for other in given if other != uri))
    for uri in given:
        kind, objects = storage.list_objects(uri)
        if kind == "missing":
            raise UsageError(f"input path does not exist: {uri} (no object, and no objects under that prefix)")
        for object_uri, size, mtime_ns in objects:
            parts = object_uri[len(uri) + 1:].split("/") if kind == "folder" else []
            if walk.skip_hidden and any(part.startswith(".") for part in parts):
                continue
            if any(_under_uri(object_uri, folder) for folder in excluded):
                continue  # our own output
            outlet = parts[0] if len(parts) > 1 else None
            walk.add_file(object_uri, InputFile(storage.ObjectPath(object_uri, size, mtime_ns), object_uri, outlet))


def _under_uri(uri: str, prefix: str) -> bool:
    return uri == prefix or uri.startswith(prefix + "/")


@dataclass
class _Argument:
    root: Path  # as given
    real: str  # resolved
    is_dir: bool
    label: str  # first part of its files' source paths
    shown: str  # resolved parent folder + own name: where its label is taken from on a collision


def _arguments(paths: Iterable[str | Path], excluded: tuple[str, ...]) -> list[_Argument]:
    """The arguments checked, without repeats, labelled apart, in walking order (outermost first)."""
    arguments: list[_Argument] = []
    for given in paths:
        root = Path(given)
        if not root.exists():
            if root.is_symlink():
                raise UsageError(f"input path is a dangling symbolic link: {_printable(str(given))}")
            raise UsageError(f"input path does not exist: {_printable(str(given))}")
        real = os.path.realpath(root)
        for folder in excluded:
            if _under(real, folder):
                raise UsageError(f"input {_printable(str(given))} is inside {_printable(folder)}, which is excluded "
                                 "from reading (the output folder): pass an input outside it or write the output elsewhere")
        if any(argument.real == real for argument in arguments):
            continue  # the same file or folder again: read once
        is_dir = root.is_dir()
        if is_dir:
            shown = real
        else:  # a file keeps the name it was given by (a link keeps its own name), as before
            shown = os.path.join(os.path.realpath(os.path.dirname(os.path.abspath(root))), root.name)
        arguments.append(_Argument(root, real, is_dir, _printable(os.path.basename(shown)), shown))
    _label_apart(arguments)
    folders = [a.real for a in arguments if a.is_dir]
    nested = [any(a.real != folder and _under(a.real, folder) for folder in folders) for a in arguments]
    return [a for a, inner in zip(arguments, nested) if not inner] + [a for a, inner in zip(arguments, nested) if inner]


def _label_apart(arguments: list[_Argument]) -> None:
    """Give arguments that share a name their path from the closest folder holding them all."""
    by_label: dict[str, list[_Argument]] = {}
    for argument in arguments:
        by_label.setdefault(argument.label, []).append(argument)
    for group in by_label.values():
        if len(group) < 2:
            continue
        common = os.path.commonpath([os.path.dirname(a.shown) for a in group])
        for argument in group:
            relative = Path(os.path.relpath(argument.shown, common))
            argument.label = "/".join(_printable(part) for part in relative.parts)


class _Walk:
    """The state of one discovery: files and problems by resolved path, and folder links to follow."""

    def __init__(self, skip_hidden: bool, excluded: tuple[str, ...], follow_links: bool,
                 inside: tuple[str, ...]) -> None:
        self.skip_hidden = skip_hidden
        self.excluded = excluded
        self.excluded_set = frozenset(excluded)
        self.follow_links = follow_links
        self.inside = inside
        self.files: dict[str, InputFile] = {}  # resolved path -> the first path that reached it
        self.problems: dict[str, DiscoveryProblem] = {}  # where the entry is -> its problem
        self.walked: set[str] = set()  # resolved folders listed
        # links to folders, walked after the trees of all arguments:
        # (path, resolved target, where the link is, label, parts, resolved folders above it)
        self.links: deque[tuple[Path, str, str, str, tuple[str, ...], frozenset[str]]] = deque()

    def add_file(self, real: str, file: InputFile) -> None:
        self.files.setdefault(real, file)

    def problem(self, where: str, source: str, error_type: str, message: str) -> None:
        self.problems.setdefault(where, DiscoveryProblem(source, error_type, message))

    def folder(self, folder: Path, real: str, label: str, parts: tuple[str, ...], above: frozenset[str]) -> None:
        """List ``folder`` (resolved: ``real``) and take in its entries, depth-first in name order."""
        self.walked.add(real)
        above = above | {real}
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError as exc:
            self.problem(real, "/".join((label, *parts)), "unreadable",
                         f"cannot list folder: {_printable(exc.strerror or str(exc))}")
            return
        for entry in entries:
            name = entry.name
            if self.skip_hidden and name.startswith("."):
                continue
            where = os.path.join(real, name)
            if where in self.excluded_set:
                continue  # our own output
            if not _valid_name(name):
                self._bad_name(entry, where, "/".join((label, *parts, _printable(name))))
                continue
            child_parts = (*parts, name)
            self._entry(entry, where, label, parts, child_parts, above)

    def _entry(self, entry: os.DirEntry, where: str, label: str, parts: tuple[str, ...],
               child_parts: tuple[str, ...], above: frozenset[str]) -> None:
        source = "/".join((label, *child_parts))
        path = Path(entry.path)
        try:
            is_link = entry.is_symlink()
            is_dir = entry.is_dir(follow_symlinks=True)
            is_file = entry.is_file(follow_symlinks=True)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                self.problem(where, source, "symlink_loop", "symbolic link loops (it leads back to itself and never "
                             f"reaches a file): {_printable(os.readlink(path))}")
            else:
                self.problem(where, source, "unreadable", f"cannot stat: {_printable(exc.strerror or str(exc))}")
            return
        target = where
        if is_link:
            target = os.path.realpath(path)
            if any(_under(target, folder) for folder in self.excluded):
                return  # a link into our own output
            exists = is_dir or is_file or os.path.exists(path)
            if exists and not self.follow_links and not any(_under(target, folder) for folder in self.inside):
                self.problem(where, source, "symlink_outside",
                             f"symbolic link leads outside the inputs, to {_printable(target)}; not followed "
                             "(pass --follow-links to read it)")
                return
        if is_dir:
            if is_link:
                self.links.append((path, target, where, label, child_parts, above))
            else:
                self.folder(path, target, label, child_parts, above)
        elif is_file:
            self.add_file(target, InputFile(path, source, parts[0] if parts else None))
        elif is_link and not os.path.exists(path):
            self.problem(where, source, "broken_symlink",
                         f"symbolic link points to a missing target: {_printable(os.readlink(path))}")
        else:
            self.problem(where, source, "not_a_file", "not a regular file (socket, device or pipe)")

    def _bad_name(self, entry: os.DirEntry, where: str, source: str) -> None:
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            is_dir = False
        what = "folder name" if is_dir else "file name"
        rest = "; nothing inside it was read" if is_dir else ""
        self.problem(where, source, "bad_file_name",
                     f"{what} is not valid UTF-8 (bad bytes shown as \\x escapes){rest}: rename it to read it")

    def follow_folder_links(self) -> None:
        """Walk the links to folders met so far (and those met in them), in the order met."""
        while self.links:
            path, target, where, label, parts, above = self.links.popleft()
            if target in above:
                self.problem(where, "/".join((label, *parts)), "symlink_loop",
                             f"folder link loops back to {_printable(target)}; not followed again")
            elif target not in self.walked:  # else its files were read under their own paths
                self.folder(path, target, label, parts, above)

    def result(self) -> tuple[list[InputFile], list[DiscoveryProblem]]:
        """Files and problems sorted by source path, which are unique (see the module docstring)."""
        files = sorted(self.files.values(), key=lambda f: f.source_path)
        taken: dict[str, InputFile] = {}
        for file in files:
            other = taken.setdefault(file.source_path, file)
            if other is not file:
                raise UsageError(f"two different input files would both be recorded as {file.source_path}: "
                                 f"{_printable(str(other.path))} and {_printable(str(file.path))}; "
                                 "rename one or pass them from folders with different names")
        problems = []
        used = set(taken)
        for problem in sorted(self.problems.values(), key=lambda p: p.source_path):
            source, n = problem.source_path, 1
            while source in used:  # a bad name escaped into another name: keep both rows apart
                n += 1
                source = f"{problem.source_path} [{n}]"
            used.add(source)
            problems.append(problem if source == problem.source_path
                            else DiscoveryProblem(source, problem.error_type, problem.message))
        return files, problems


def _under(path: str, folder: str) -> bool:
    """Whether resolved ``path`` is ``folder`` or inside it."""
    return path == folder or path.startswith(folder if folder.endswith(os.sep) else folder + os.sep)


def _valid_name(name: str) -> bool:
    """Whether a name read from the file system is valid UTF-8 (undecodable bytes arrive as lone
    surrogates, which no Parquet writer can encode)."""
    if name.isascii():
        return True
    try:
        name.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _printable(text: str) -> str:
    """``text`` as valid UTF-8: bytes that were not UTF-8 (surrogate escapes) as ``\\xff``."""
    if _valid_name(text):
        return text
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that does not stand for a byte
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
