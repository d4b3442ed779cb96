"""One writer per index, enforced with an OS file lock that belongs to one process.

``fcntl.flock`` locks die with their process, so a writer killed with SIGKILL
never leaves a stale lock behind; the file keeps the holder's pid only so the
error message can name it.

A flock belongs to the open file, and a forked child shares its parent's open
files: worker processes forked while the lock is held would keep it alive
after the parent is killed (they finish their batch first), and a re-run
started at once would be refused, naming the dead parent.  So the lock is
taken on a raw descriptor that every forked child closes right after the fork
(``os.register_at_fork``; closing a shared descriptor in the child does not
unlock it for the parent) and that an ``exec`` closes too (Python opens it
non-inheritable).  The lock is then held by the process that took it and by
nothing else.

The lock is taken on the index folder itself, which cannot be unlinked while it
holds the index: a lock on ``write.lock`` alone was lost when someone deleted that
file (a second writer then created a new one and locked it too).  ``write.lock``
is still locked as well (a writer of an older version locks only that) and keeps
the holder's pid for the message.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

from ..errors import IndexLockedError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = "write.lock"

#: Descriptors of the writer locks this process holds.
_held: set[int] = set()


def _close_in_child() -> None:
    """In every forked child: drop the parent's lock descriptors (the parent keeps its lock)."""
    for fd in list(_held):
        with contextlib.suppress(OSError):
            os.close(fd)
    _held.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_in_child)


@contextlib.contextmanager
def writer_lock(index_dir: Path, wait: float = 0.0) -> Iterator[None]:
    """Hold the index's writer lock; wait up to *wait* seconds, else raise IndexLockedError."""
    index_dir.mkdir(parents=True, exist_ok=True)
    path = index_dir / LOCK_NAME
    owner = os.getpid()
    cloexec = getattr(os, "O_CLOEXEC", 0)
    fds: list[int] = []
    try:
        if fcntl is not None:
            fds.append(_open_held(index_dir, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
                                  | cloexec))
        fds.append(_open_held(path, os.O_RDWR | os.O_CREAT | cloexec, 0o644))
        deadline = time.monotonic() + max(wait, 0.0)
        locked = 0
        while locked < len(fds):
            try:
                if fcntl is not None:
                    fcntl.flock(fds[locked], fcntl.LOCK_EX | fcntl.LOCK_NB)
                locked += 1
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _holder(path)
                    raise IndexLockedError(
                        f"index {index_dir} is being written by another process{holder}; "
                        "try again later or pass --wait SECONDS"
                    ) from None
                time.sleep(0.2)
        fd = fds[-1]
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{owner}\n".encode())
        yield
    finally:
        # Only the process that opened them closes them: a forked child already dropped
        # them, and their numbers may since belong to other files there.
        if os.getpid() == owner:
            for fd in fds:
                if fd in _held:
                    _held.discard(fd)
                    os.close(fd)


def _open_held(path: Path, flags: int, mode: int = 0o777) -> int:
    """``os.open``, the descriptor recorded in :data:`_held` (see the module docstring)."""
    fd = os.open(path, flags, mode)
    _held.add(fd)
    return fd


def _holder(path: Path) -> str:
    try:
        pid = path.read_text().strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid else ""
