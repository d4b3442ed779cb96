"""Find article files under source folders, safely.

Symlinked folders are followed once (a loop is reported, not walked forever),
hidden folders such as ``.git`` are skipped, and anything that cannot be
stat'ed is reported with its path instead of stopping the walk.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SourceNotFoundError
from .documents import EXTENSIONS, document_id


@dataclass(frozen=True)
class SourceFile:
    """An article file found on disk, with what incremental indexing compares."""

    path: str
    relpath: str
    source: str
    size: int
    mtime_ns: int

    @property
    def id(self) -> str:
        return document_id(self.relpath)


@dataclass
class Scan:
    files: list[SourceFile] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)


def check_sources(sources: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Absolute source folders, or SourceNotFoundError naming the first bad one."""
    result = []
    for src in sources:
        path = Path(src).expanduser()
        if not path.exists():
            raise SourceNotFoundError(f"source folder {src} does not exist")
        if not path.is_dir():
            raise SourceNotFoundError(f"source {src} is not a folder")
        result.append(path.absolute())
    if not result:
        raise SourceNotFoundError("no source folder given (e.g. searcher index sample_docs)")
    return result


def scan(sources: Iterable[Path]) -> Scan:
    """Every article file under *sources*, sorted by path for deterministic builds."""
    out = Scan()
    for source in sources:
        _walk(source, out)
    out.files.sort(key=lambda f: f.path)
    return out


def _walk(source: Path, out: Scan) -> None:
    seen_dirs: set[tuple[int, int]] = set()
    root = str(source)

    def onerror(exc: OSError) -> None:
        out.problems.append((exc.filename or root, f"cannot list folder: {exc.strerror}"))

    for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=onerror):
        try:
            st = os.stat(dirpath)
        except OSError as exc:
            out.problems.append((dirpath, f"cannot open folder: {exc.strerror}"))
            dirnames[:] = []
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:
            out.problems.append((dirpath, "symlink loop: folder already visited, skipped"))
            dirnames[:] = []
            continue
        seen_dirs.add(key)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
        rel_prefix = "" if rel_dir == "." else rel_dir + "/"
        for name in filenames:
            if name.startswith(".") or not name.lower().endswith(EXTENSIONS):
                continue
            path = os.path.join(dirpath, name)
            try:
                fst = os.stat(path)
            except OSError as exc:
                reason = "symlink loop" if exc.errno == errno.ELOOP else (
                    "broken symlink" if os.path.islink(path) else f"cannot stat: {exc.strerror}")
                out.problems.append((path, reason))
                continue
            if not stat.S_ISREG(fst.st_mode):  # what os.path.isfile says, without a second stat
                continue
            out.files.append(SourceFile(path, rel_prefix + name, root, fst.st_size,
                                        fst.st_mtime_ns))
