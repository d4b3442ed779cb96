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
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import DocumentError
from .workers import resident_bytes

#: How often the bound is checked while a file is read (seconds).
INTERVAL = 0.05


class ParseLimitExceeded(DocumentError):
    """Reading one file ran past its time or memory bound; the file is skipped."""


@contextmanager
def bounded(seconds: float, memory: int) -> Iterator[None]:
    """Run the body under *seconds* of wall time and *memory* bytes of growth of this
    process's resident memory, else raise :class:`ParseLimitExceeded` inside it."""
    if (not hasattr(signal, "setitimer")
            or threading.current_thread() is not threading.main_thread()):
        yield
        return
    started, base = time.monotonic(), resident_bytes()
    active = True

    def check(signum: int, frame: object) -> None:
        if not active:
            return
        if time.monotonic() - started > seconds:
            raise ParseLimitExceeded(f"took longer than {seconds:g} s to read; skipped")
        if base is not None:
            resident = resident_bytes()
            if resident is not None and resident - base > memory:
                raise ParseLimitExceeded(
                    f"needed more than {memory / 2**20:g} MiB of memory to read; skipped")

    previous = signal.signal(signal.SIGALRM, check)
    try:
        signal.setitimer(signal.ITIMER_REAL, INTERVAL, INTERVAL)
        yield
    finally:
        active = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous if previous is not None else signal.SIG_DFL)
