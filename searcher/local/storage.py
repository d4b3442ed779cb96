"""Where an index lives on disk: generations and the CURRENT pointer.

An index directory holds one or more *generations* (complete Whoosh indexes)
and a ``CURRENT`` file naming the one to search.  Incremental updates commit
inside the current generation (Whoosh commits are atomic); a full rebuild
writes a new generation and then replaces ``CURRENT`` with ``os.replace``, so
a reader sees either the old index or the new one, never a mix.  Old
generations are removed by the next writer, not immediately, so searches that
started before the swap can finish.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CURRENT = "CURRENT"
INFO = "searcher.json"
GEN_PREFIX = "gen-"


@dataclass(frozen=True)
class Generation:
    """One complete (or being-built) Whoosh index inside the index directory."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    def info(self) -> dict[str, Any]:
        try:
            return json.loads((self.path / INFO).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def write_info(self, info: dict[str, Any]) -> None:
        tmp = self.path / f".{INFO}.tmp"
        tmp.write_text(json.dumps(info, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, self.path / INFO)


class IndexDir:
    """The index directory given by ``--index-dir`` (default ``./index_data``)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def current(self) -> Generation | None:
        """The generation searches should use, or None when nothing was ever built.

        That is the one ``CURRENT`` names; when ``CURRENT`` is missing, empty, unreadable or
        names no generation (a damaged pointer), the newest complete generation instead,
        so that a damaged pointer never hides (nor gets deleted) an intact index.
        """
        named = self.pointed()
        if named is not None:
            return named
        ready = [g for g in self.generations() if g.info().get("state") == "ready"
                 and any(p.suffix == ".toc" for p in g.path.iterdir())]
        if not ready:
            return None
        best = max(ready, key=lambda g: (g.info().get("updated") or 0, g.name))
        if (self.root / CURRENT).exists() or len(self.generations()) > 0:
            _warn_pointer(self.root, best)
        return best

    def pointed(self) -> Generation | None:
        """The generation ``CURRENT`` names, or None when it is missing or damaged."""
        try:
            name = (self.root / CURRENT).read_bytes().decode("utf-8").strip()
        except (OSError, UnicodeDecodeError):
            return None
        if not name.startswith(GEN_PREFIX) or "/" in name or "\\" in name:
            return None
        path = self.root / name
        return Generation(path) if path.is_dir() else None

    def current_marker(self) -> tuple[int, int] | None:
        """A cheap token that changes whenever CURRENT is replaced."""
        try:
            st = os.stat(self.root / CURRENT)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns)

    def generations(self) -> list[Generation]:
        if not self.root.is_dir():
            return []
        return sorted(
            (Generation(p) for p in self.root.iterdir()
             if p.is_dir() and p.name.startswith(GEN_PREFIX)),
            key=lambda g: g.name,
        )

    def new_generation(self) -> Generation:
        self.root.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        path = self.root / f"{GEN_PREFIX}{stamp}-{secrets.token_hex(3)}"
        path.mkdir()
        return Generation(path)

    def publish(self, gen: Generation) -> None:
        """Atomically make *gen* the generation that searches use."""
        tmp = self.root / f".{CURRENT}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(gen.name + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.root / CURRENT)
        _fsync_dir(self.root)

    def remove_stale(self, keep: set[str]) -> list[str]:
        """Delete generations other than CURRENT and *keep*; returns their names."""
        current = self.current()
        removed = []
        for gen in self.generations():
            if gen.name in keep or (current and gen.name == current.name):
                continue
            shutil.rmtree(gen.path, ignore_errors=True)
            removed.append(gen.name)
        return removed

    def size_bytes(self) -> int:
        """Bytes of the current generation's files (``stats()``, so ``/healthz`` too)."""
        gen = self.current()
        return _tree_bytes(gen.path) if gen is not None else 0


_warned_pointers: set[str] = set()


def _warn_pointer(root: Path, gen: Generation) -> None:
    key = f"{root}:{gen.name}"
    if key not in _warned_pointers:
        _warned_pointers.add(key)
        log.warning("%s is missing or damaged: using the newest complete generation, %s "
                    "(the next 'searcher index' run writes it again)", root / CURRENT, gen.name)


def _tree_bytes(folder: Path | str) -> int:
    """Bytes of the files under *folder*.  ``os.scandir`` knows an entry's type without a
    ``stat`` (pathlib's ``rglob`` + ``is_file`` + ``stat`` makes two per file): 8 ms instead
    of 32 ms for the 1,195 files of a 500k-article index."""
    total = 0
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                total += _tree_bytes(entry.path)
            elif entry.is_file():
                total += entry.stat().st_size
    return total


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def index_gone(root: str | os.PathLike[str]) -> bool:
    """True when *root* no longer holds a usable index (folder, CURRENT or generation gone)."""
    try:
        return IndexDir(root).current() is None
    except OSError:
        return True
