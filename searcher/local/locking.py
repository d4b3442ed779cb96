"""One writer per index, enforced with an OS file lock.

``fcntl.flock`` locks die with their process, so a writer killed with SIGKILL
never leaves a stale lock behind; the file keeps the holder's pid only so the
error message can name it.
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


@contextlib.contextmanager
def writer_lock(index_dir: Path, wait: float = 0.0) -> Iterator[None]:
    """Hold the index's writer lock; wait up to *wait* seconds, else raise IndexLockedError."""
    index_dir.mkdir(parents=True, exist_ok=True)
    path = index_dir / LOCK_NAME
    handle = open(path, "a+")  # noqa: SIM115 - held for the duration of the context
    try:
        deadline = time.monotonic() + max(wait, 0.0)
        while True:
            try:
                if fcntl is not None:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _holder(path)
                    raise IndexLockedError(
                        f"index {index_dir} is being written by another process{holder}; "
                        "try again later or pass --wait SECONDS"
                    ) from None
                time.sleep(0.2)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()


def _holder(path: Path) -> str:
    try:
        pid = path.read_text().strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid else ""
