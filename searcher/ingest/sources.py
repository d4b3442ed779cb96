"""Find article files under source folders, safely.

Links are followed only inside the source folder, and each file once (a loop
is reported, not walked forever); a link leading out of it is skipped and
reported unless following is asked for.  Hidden files and folders such as
``.git`` are skipped, and anything that cannot be stat'ed is reported with its
path instead of stopping the walk.
"""

from __future__ import annotations

import errno
import os
import stat
from array import array
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SourceNotFoundError
from .documents import EXTENSIONS, document_id


@dataclass(frozen=True, slots=True)
class SourceFile:
    """An article file found on disk, with what incremental indexing compares.

    Slotted: a scan holds one per article (500,000 at scale) in the indexing
    process for the whole run.
    """

    path: str
    relpath: str
    source: str
    size: int
    mtime_ns: int
    #: The source folder's label, part of the id (given by the indexer).
    label: str = ""

    @property
    def id(self) -> str:
        return document_id(self.relpath, self.label)


@dataclass
class Scan:
    """What a walk of the source folders found."""

    files: list[SourceFile] = field(default_factory=list)
    #: (path, reason): files and folders that could not be read (loops, broken links, ...).
    problems: list[tuple[str, str]] = field(default_factory=list)
    #: (path, reason): links not followed on purpose (they lead out of the source folder).
    skipped: list[tuple[str, str]] = field(default_factory=list)


def check_sources(sources: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Absolute source folders, or SourceNotFoundError naming the first bad one.

    A folder given twice (under two names, e.g. through a link) is kept once.
    """
    result = []
    real_paths = set()
    for src in sources:
        path = Path(src).expanduser()
        if not path.exists():
            raise SourceNotFoundError(f"source folder {src} does not exist")
        if not path.is_dir():
            raise SourceNotFoundError(f"source {src} is not a folder")
        if os.path.realpath(path) not in real_paths:
            real_paths.add(os.path.realpath(path))
            result.append(path.absolute())
    if not result:
        raise SourceNotFoundError("no source folder given (e.g. searcher index sample_docs)")
    return result


def new_label(source: str | os.PathLike[str], taken: Iterable[str]) -> str:
    """The label for a source folder seen for the first time: its name, else the shortest
    tail of its path that no other folder has (``site2/content`` beside ``content``).

    Labels go into document ids, so they hold no absolute path: the same folder
    gives the same ids wherever it is.
    """
    taken = set(taken)
    parts = [p for p in Path(source).parts if p not in ("/", "\\")] or [str(source)]
    for start in range(len(parts) - 1, -1, -1):
        label = "/".join(parts[start:])
        if label not in taken:
            return label
    count = 2
    while f"{parts[-1]}~{count}" in taken:
        count += 1
    return f"{parts[-1]}~{count}"


def scan(sources: Iterable[Path], *, follow_links: bool = False) -> Scan:
    """Every article file under *sources*, sorted by path for deterministic builds.

    Links that resolve outside their source folder are not followed (and are
    listed in ``Scan.skipped``) unless *follow_links*; see :func:`_walk`.
    """
    out = Scan()
    for source in sources:
        _walk(Path(source), out, follow_links)
    out.files.sort(key=lambda f: f.path)
    out.problems.sort()
    out.skipped.sort()
    return out


def became_link_out(source_file: SourceFile) -> bool:
    """Whether the file is now a link leading out of its source folder (it may have been
    replaced by one since the scan, which follows no such link); one lstat when it is not.

    Both back ends check this just before reading a file."""
    try:
        if not stat.S_ISLNK(os.lstat(source_file.path).st_mode):
            return False
    except OSError:
        return False  # load_document reports what is wrong with it
    return not inside(source_file.path, source_file.source)


def inside(path: str, folder: str) -> bool:
    """Whether the real (link-resolved) *path* lies in the real *folder*."""
    real, base = os.path.realpath(path), os.path.realpath(folder)
    return real == base or real.startswith(base.rstrip(os.sep) + os.sep)


def _walk(source: Path, out: Scan, follow_links: bool) -> None:
    """Find the article files of one source folder.

    The folder's own files and folders are walked first, without following
    any link.  Then each link met on the way is looked at: one that leads
    outside the source folder (like ripgrep and fd, the real path decides) is
    skipped and reported unless *follow_links*, so a link such as
    ``post.md -> /etc/passwd`` can never publish a file from elsewhere; one
    that leads to a file or folder already walked is ignored (indexed once, at
    its own path); one that leads back to a folder above it is a loop and
    reported; anything else (a hidden folder's files, or an outside target
    with *follow_links*) is walked under the link's path, once.
    """
    root = str(source)
    root_real = os.path.realpath(root)
    seen_dirs: set[tuple[int, int]] = set()
    # (st_dev, st_ino) of every file walked, flat: only links need them, and a set of
    # tuples cost 130 bytes a file (66 MB at 500,000 articles) in a tree with none.
    file_keys = array("Q")
    links: deque[tuple[str, str]] = deque()  # (path, relpath) of every link met

    files, problems = out.files, out.problems

    def walk(top: str, top_rel: str) -> None:
        stack = [(top, top_rel)]
        while stack:
            folder, rel = stack.pop()
            try:
                st = os.stat(folder)
            except OSError as exc:
                out.problems.append((folder, f"cannot open folder: {exc.strerror}"))
                continue
            key = (st.st_dev, st.st_ino)
            if key in seen_dirs:
                out.problems.append((folder, "symlink loop: folder already visited, skipped"))
                continue
            seen_dirs.add(key)
            try:
                with os.scandir(folder) as listing:
                    _walk_entries(listing, rel, stack)
            except OSError as exc:
                problems.append((folder, f"cannot list folder: {exc.strerror}"))

    def _walk_entries(listing: Iterator[os.DirEntry[str]], rel: str,
                      stack: list[tuple[str, str]]) -> None:
        # One entry at a time: a flat folder of 500,000 articles listed first held
        # 45 MB of DirEntry objects.
        for entry in listing:
            name = entry.name
            if name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, rel + name + "/"))
                elif entry.is_symlink():
                    links.append((entry.path, rel + name))
                elif name.lower().endswith(EXTENSIONS):
                    fst = entry.stat(follow_symlinks=False)
                    if stat.S_ISREG(fst.st_mode):
                        file_keys.extend((fst.st_dev, fst.st_ino))
                        files.append(SourceFile(entry.path, rel + name, root, fst.st_size,
                                                fst.st_mtime_ns))
            except OSError as exc:
                problems.append((entry.path, f"cannot stat: {exc.strerror}"))

    seen_files: set[tuple[int, int]] = set()
    known = 0  # how much of file_keys is in seen_files

    def file_seen(key: tuple[int, int]) -> bool:
        nonlocal known
        new = file_keys[known:]
        seen_files.update(zip(new[0::2], new[1::2], strict=True))
        known = len(file_keys)
        return key in seen_files

    walk(root, "")
    links = deque(sorted(links))  # which of two links to one target is used: the first by path
    while links:
        path, relpath = links.popleft()
        is_article = relpath.lower().endswith(EXTENSIONS)
        try:
            st = os.stat(path)
        except OSError as exc:
            if is_article:  # a dangling link to a folder cannot be told from one to a file
                out.problems.append((path, "symlink loop" if exc.errno == errno.ELOOP else
                                     "broken symlink" if exc.errno == errno.ENOENT else
                                     f"cannot stat: {exc.strerror}"))
            continue
        is_dir = stat.S_ISDIR(st.st_mode)
        if not (is_dir or (is_article and stat.S_ISREG(st.st_mode))):
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs if is_dir else file_seen(key):
            if is_dir and inside(os.path.dirname(path), path):
                out.problems.append((path, "symlink loop: folder already visited, skipped"))
            continue  # already found at its own path
        target = os.path.realpath(path)
        if not follow_links and not (target == root_real
                                     or target.startswith(root_real.rstrip(os.sep) + os.sep)):
            what = "folder" if is_dir else "file"
            out.skipped.append((path, f"link to {what} {target} outside the source folder; "
                                      "not followed (follow_links to index it)"))
            continue
        if is_dir:
            before = len(links)
            walk(path, relpath + "/")
            new = sorted(links.pop() for _ in range(len(links) - before))
            links.extend(new)
        else:
            seen_files.add(key)
            files.append(SourceFile(path, relpath, root, st.st_size, st.st_mtime_ns))
