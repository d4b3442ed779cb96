"""The time and memory bound of reading one file, enforced inside the process reading it.

A file can be crafted to make its reader run for hours or fill the memory (a
"billion laughs" front matter, a pathological nesting of Markdown).  Reading
each file is bounded: an interval timer (``setitimer``, two system calls per
file, no thread or process per file) interrupts the reader when the file has
run past its time, or has grown this process's resident memory past its bound;
the file is then reported by name and skipped, and the run goes on.

The timer works in the main thread of a Unix process (always the case in
build workers, and for the CLI).  Code that never returns to the interpreter
(one long call into C) cannot be interrupted this way: in worker processes the
parent then kills the worker (:mod:`searcher.core.workers`).
"""

from __future__ import annotations

import signal
import threading
import time
from contextlib import AbstractContextManager

from ..errors import DocumentError
from .workers import resident_bytes

#: How often the bound is checked while a file is read (seconds).
INTERVAL = 0.05


class ParseLimitExceeded(DocumentError):
    """Reading one file ran past its time or memory bound; the file is skipped."""


def bounded(seconds: float, memory: int) -> AbstractContextManager[None]:
    """Run the body under *seconds* of wall time and *memory* bytes of growth of this
    process's resident memory, else raise :class:`ParseLimitExceeded` inside it."""
    return _Bound(seconds, memory)


_CAN_TIME = hasattr(signal, "setitimer")


class _Bound:
    """:func:`bounded`'s context (a class, not a generator: it is entered once per file)."""

    __slots__ = ("seconds", "memory", "started", "base", "active", "previous")

    def __init__(self, seconds: float, memory: int) -> None:
        self.seconds, self.memory = seconds, memory
        self.active = False

    def __enter__(self) -> None:
        if not _CAN_TIME or threading.current_thread() is not threading.main_thread():
            return
        self.started, self.base = time.monotonic(), resident_bytes()
        self.active = True
        self.previous = signal.signal(signal.SIGALRM, self._check)
        signal.setitimer(signal.ITIMER_REAL, INTERVAL, INTERVAL)

    def __exit__(self, *exc_info: object) -> None:
        if self.active:
            self.active = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            previous = self.previous
            signal.signal(signal.SIGALRM, previous if previous is not None else signal.SIG_DFL)

    def _check(self, signum: int, frame: object) -> None:
        if not self.active:
            return
        if time.monotonic() - self.started > self.seconds:
            raise ParseLimitExceeded(f"took longer than {self.seconds:g} s to read; skipped")
        if self.base is not None:
            resident = resident_bytes()
            if resident is not None and resident - self.base > self.memory:
                raise ParseLimitExceeded(
                    f"needed more than {self.memory / 2**20:g} MiB of memory to read; skipped")
