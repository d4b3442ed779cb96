"""Worker processes for the parallel parts of indexing: started clean, ended with their caller.

Workers are fresh interpreters (``python -c``, importing only searcher), not
children forked or served by :mod:`multiprocessing`:

- A fork server or ``spawn`` worker re-imports the caller's main script.  A
  script without ``if __name__ == "__main__":`` then runs its own indexing
  again inside every worker, which fails, and the pool replaced the dead worker
  forever.  Here nothing of the caller is imported, so a plain script, a
  notebook or ``python -c`` index like the CLI does; a worker that cannot start
  ends the run with one :class:`WorkerError` naming the cause.
- Each worker holds the read end of a *lifeline* pipe whose only write end is
  held by the process that started it.  However that process ends (``kill -9``,
  SIGTERM, an exception), the kernel closes the write end, the worker's watcher
  thread reads end-of-file and the worker exits at once, printing nothing.
  (``PR_SET_PDEATHSIG`` was tied to the fork server, which outlived the caller.)
- The parent watches each worker's current file: a file that runs past its
  time bound, or makes its worker grow past its memory bound, gets the worker
  killed; the file is reported by name and the task's other files are given to
  a fresh worker (see :mod:`searcher.core.limits` for the in-worker bound that
  stops most such files without a restart).  The worker writes which file it is
  on into a page of memory it shares with the parent, which reads it every
  :data:`TICK`: a message per file woke the parent 20,000 times in a 20,000-article
  build (1.6 s of its CPU, taken from the workers on two cores).
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import pickle
import queue
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import SearcherError

log = logging.getLogger(__name__)

#: Length prefix of every message on a pipe.
_HEADER = struct.Struct("!Q")
#: How often the parent checks its workers' time and memory (seconds).
TICK = 0.2
#: Worker processes need pipes handed to a child by number (POSIX); elsewhere the
#: indexer works in its own process.
SUPPORTED = os.name == "posix"

#: Write ends of the lifelines this process holds: a child forked from it (without exec)
#: closes them, so that only this process keeps its workers alive.
_lifelines: set[int] = set()


def _close_lifelines_in_child() -> None:
    for fd in list(_lifelines):
        with contextlib.suppress(OSError):
            os.close(fd)
    _lifelines.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_lifelines_in_child)


class WorkerError(SearcherError):
    """A worker process could not start, or ended without a result it owed."""


@dataclass
class Bounds:
    """How long one file may run in a worker, and how much that worker may grow meanwhile."""

    seconds: float
    memory: int


@dataclass
class Interrupted:
    """A task whose worker ended while it ran: *index* is the file it was on and *reason*
    says why, in words for the report."""

    task: Any
    index: int
    reason: str


def _send(stream: BinaryIO, message: Any) -> None:
    data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _receive(stream: BinaryIO) -> Any:
    """The next message, or None at end of file."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    size = _HEADER.unpack(header)[0]
    data = stream.read(size)
    if len(data) < size:
        return None
    return pickle.loads(data)


#: A worker's state in the memory it shares with the parent: a sequence number (odd while
#: the worker writes), then the number of tasks it has begun, whether it is on a file (1)
#: or between files (0), the file's number in the task (-1: none yet), when the file began
#: (``time.monotonic``, one clock for every process) and the worker's resident memory then
#: (-1: unknown).
_SEQUENCE = struct.Struct("=Q")
_FIELDS = struct.Struct("=QqqdQ")
_STATE_SIZE = mmap.PAGESIZE


@dataclass
class FileState:
    """What the parent reads of a worker's current task: *file* is the number of the file
    it is on (*on_file*) or was last on, None before its first."""

    on_file: bool
    file: int | None
    started: float
    memory: int | None


def _read_state(shared: mmap.mmap) -> tuple[int, FileState] | None:
    """(tasks begun, state) as the worker last wrote them, or None before it wrote any."""
    for _ in range(1000):
        (first,) = _SEQUENCE.unpack_from(shared, 0)
        tasks, on_file, file, started, memory = _FIELDS.unpack_from(shared, _SEQUENCE.size)
        (last,) = _SEQUENCE.unpack_from(shared, 0)
        if first == last and not first % 2:
            break
        time.sleep(0)  # the worker is writing it: a few instructions
    else:
        return None
    if first == 0:
        return None
    return tasks, FileState(bool(on_file), None if file < 0 else file, started,
                            None if memory == 2**64 - 1 else memory)


def worker_state(pid: int) -> FileState | None:
    """What worker process *pid* last told its parent through their shared page, read from
    outside both (a monitor, or a test that must stop a worker on a file): None when *pid*
    is no worker of ours or has not begun a task.  Linux only (it reads ``/proc``)."""
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            if os.readlink(fd).startswith("/memfd:searcher-worker-state"):
                with open(fd, "rb") as handle, mmap.mmap(handle.fileno(), _STATE_SIZE,
                                                         access=mmap.ACCESS_READ) as page:
                    read = _read_state(page)
                return None if read is None else read[1]
    return None


# -- the worker side --------------------------------------------------------------------------

_results: BinaryIO | None = None
_state: mmap.mmap | None = None
_sequence = 0
_tasks_begun = 0
_file = -1


def report_file(index: int | None) -> None:
    """In a worker: tell the parent that file *index* of the current task begins, or (None)
    that the task's files are done and its result is being written (a no-op elsewhere).
    The parent counts progress and bounds each file's time and memory with it."""
    if _state is not None:
        _write_state(index)


def _write_state(index: int | None) -> None:
    global _sequence, _file
    if index is not None:
        _file = index
    resident = resident_bytes()
    assert _state is not None  # set when the worker starts, before any task
    _sequence += 1  # odd: the parent reads again
    _SEQUENCE.pack_into(_state, 0, _sequence)
    _FIELDS.pack_into(_state, _SEQUENCE.size, _tasks_begun, index is not None, _file,
                      time.monotonic(), 2**64 - 1 if resident is None else resident)
    _sequence += 1
    _SEQUENCE.pack_into(_state, 0, _sequence)


def _tell(message: Any) -> None:
    try:
        assert _results is not None
        _send(_results, message)
    except (OSError, ValueError):  # the parent is gone: end quietly, nobody reads any more
        os._exit(0)


def _watch_lifeline(fd: int) -> None:
    """Exit this worker, silently, as soon as the process that started it has ended."""
    try:
        while os.read(fd, 1):
            pass
    except OSError:
        pass
    os._exit(0)


#: prctl option: the signal the kernel sends this process when its parent ends (Linux).
PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent ends (a no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # no usable libc: the lifeline still ends it
        log.debug("prctl(PR_SET_PDEATHSIG) unavailable")


def serve(task_fd: int, result_fd: int, lifeline_fd: int, parent: int, state_fd: int) -> None:
    """A worker's main loop: initialise, then run tasks until the parent closes the pipe.

    The worker ends with *parent* twice over: the kernel kills it when *parent* ends
    (Linux; at once, even while this interpreter is busy in one long call into C), and
    its lifeline's watcher thread exits it (everywhere).
    """
    global _results, _state, _tasks_begun, _file
    die_with_parent()
    if os.getppid() != parent:  # it ended before the kernel was told
        os._exit(0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent to handle
    threading.Thread(target=_watch_lifeline, args=(lifeline_fd,), daemon=True).start()
    tasks = os.fdopen(task_fd, "rb")
    _results = os.fdopen(result_fd, "wb")
    _state = mmap.mmap(state_fd, _STATE_SIZE)
    os.close(state_fd)
    try:
        initializer, initargs = _receive(tasks)
        if initializer is not None:
            initializer(*initargs)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which stops the run
        _tell(("error", _describe(exc), traceback.format_exc()))
        os._exit(1)
    _tell(("ready", resident_bytes()))
    while True:
        try:
            message = _receive(tasks)
        except (OSError, ValueError):
            message = None
        if message is None:
            os._exit(0)
        function, task = message
        _tasks_begun, _file = _tasks_begun + 1, -1
        _write_state(None)
        try:
            result = function(task)
        except BaseException as exc:  # noqa: BLE001 - the parent raises it
            _tell(("raised", _picklable(exc), traceback.format_exc()))
            continue
        _tell(("done", result))


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _picklable(exc: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001 - anything unpicklable is sent as text
        return WorkerError(f"a worker process failed: {_describe(exc)}")
    return exc


_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
#: (pid, descriptor) of this process's open ``/proc/self/statm`` (None: not opened yet).
_own_statm: tuple[int, int] | None = None


def resident_bytes(pid: int | None = None) -> int | None:
    """Resident memory of process *pid* (this one by default) in bytes; None where /proc
    is missing."""
    if pid is None:
        return _own_resident()
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return None


def _own_resident() -> int | None:
    """This process's resident memory, read from a ``statm`` kept open (each read gives
    the current figure): a worker reads it two or three times per file, and opening the
    file each time was a tenth of the time of reading a short article."""
    global _own_statm
    me = os.getpid()
    if _own_statm is None or _own_statm[0] != me:  # first use (or a child forked from C)
        try:
            _own_statm = (me, os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC))
        except OSError:
            return None
    try:
        return int(os.pread(_own_statm[1], 256, 0).split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return None


def _forget_parents_statm() -> None:
    """In a child forked from Python: close the parent's ``statm`` (it reports the parent)."""
    global _own_statm
    if _own_statm is not None:
        with contextlib.suppress(OSError):
            os.close(_own_statm[1])
        _own_statm = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_parents_statm)


_BOOT = ("import sys; sys.path[:0] = {path!r}; "
         "from searcher.core.workers import serve; serve({fds})")


# -- the parent side --------------------------------------------------------------------------

class _Worker:
    """One worker process and the parent's ends of its pipes."""

    def __init__(self, pool: WorkerPool, number: int) -> None:
        self.number = number
        task_r, task_w = os.pipe()
        result_r, result_w = os.pipe()
        life_r, life_w = os.pipe()
        _lifelines.add(life_w)
        self.lifeline = life_w
        state_fd = -1
        try:
            state_fd = _shared_file()
            self.state = mmap.mmap(state_fd, _STATE_SIZE)
            fds = f"{task_r}, {result_w}, {life_r}, {os.getpid()}, {state_fd}"
            code = _BOOT.format(path=_search_path(), fds=fds)
            self.proc = subprocess.Popen(
                [sys.executable, "-c", code], pass_fds=(task_r, result_w, life_r, state_fd),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, close_fds=True)
        except BaseException as exc:
            for fd in (task_w, result_r):
                os.close(fd)
            self.close_lifeline()
            if isinstance(exc, OSError):
                raise WorkerError(f"an indexing worker process could not start: cannot run "
                                  f"{sys.executable!r} ({exc.strerror or exc}); run with "
                                  "--jobs 1 to index without worker processes") from None
            raise
        finally:
            for fd in (task_r, result_w, life_r, state_fd):
                if fd >= 0:
                    os.close(fd)
        self.tasks = os.fdopen(task_w, "wb")
        self.results = os.fdopen(result_r, "rb")
        self.ready = False
        self.task: Any = None
        self.given = 0  # tasks given to it; the state of the last one is read from its page
        self.given_at = 0.0
        self.killed: str | None = None
        with contextlib.suppress(OSError):
            _send(self.tasks, (pool.initializer, pool.initargs))
        threading.Thread(target=self._read, args=(pool.events,), daemon=True).start()

    def _read(self, events: queue.Queue) -> None:
        while True:
            try:
                message = _receive(self.results)
            except Exception:  # noqa: BLE001 - a broken stream is a dead worker
                message = None
            events.put((self, message))
            if message is None:
                return

    def give(self, function: Callable[[Any], Any], task: Any) -> None:
        self.task, self.given, self.given_at = task, self.given + 1, time.monotonic()
        with contextlib.suppress(OSError):  # it died: its reader reports that
            _send(self.tasks, (function, task))

    def file_state(self) -> FileState:
        """Where the worker is in its current task (between files until it reports one)."""
        read = _read_state(self.state)
        if read is None or read[0] != self.given:
            return FileState(False, None, self.given_at, None)
        return read[1]

    def kill(self, reason: str) -> None:
        if self.killed is None:
            self.killed = reason
            with contextlib.suppress(OSError):
                self.proc.kill()

    def close_lifeline(self) -> None:
        if self.lifeline in _lifelines:
            _lifelines.discard(self.lifeline)
            with contextlib.suppress(OSError):
                os.close(self.lifeline)

    def close(self) -> None:
        """End the worker: idle ones read end of file, busy ones their lifeline's end."""
        with contextlib.suppress(OSError):
            self.tasks.close()
        self.close_lifeline()

    def ended_how(self) -> str:
        code = self.proc.wait()
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit code {code}"


def _shared_file() -> int:
    """A descriptor of a fresh zero-filled file of :data:`_STATE_SIZE` bytes, in memory."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("searcher-worker-state")
    else:
        with tempfile.TemporaryFile() as handle:
            fd = os.dup(handle.fileno())
    try:
        os.ftruncate(fd, _STATE_SIZE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _search_path() -> list[str]:
    """Where the worker finds searcher and its dependencies: this process's import path."""
    return [os.path.abspath(p) if p else os.getcwd() for p in sys.path]


class WorkerPool:
    """*jobs* worker processes running ``function(task)`` for tasks given to :meth:`run`.

    *initializer* (a module-level function, with *initargs*) runs once in each
    worker.  *bounds* limits each file a worker reports with
    :func:`report_file`.  Use as a context manager: leaving it ends every worker
    within moments, busy or not.
    """

    def __init__(self, jobs: int, initializer: Callable[..., None] | None = None,
                 initargs: tuple = (), bounds: Bounds | None = None) -> None:
        self.initializer, self.initargs, self.bounds = initializer, initargs, bounds
        self.events: queue.Queue = queue.Queue()
        self.workers: list[_Worker] = []
        self.started = 0
        self._checked = 0.0
        self.idle_deaths = 0
        self._retried: set[int] = set()  # ids of tasks run again after their worker ended
        try:
            for _ in range(max(1, jobs)):
                self._start()
        except BaseException:
            self.close()
            raise

    def _start(self) -> _Worker:
        self.started += 1
        worker = _Worker(self, self.started)
        self.workers.append(worker)
        return worker

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for worker in self.workers:
            worker.close()
        deadline = time.monotonic() + 1.0
        for worker in self.workers:
            try:
                worker.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.proc.kill()
                worker.proc.wait()
        self.workers.clear()

    def files_done(self) -> int:
        """Files the busy workers have finished of their current tasks."""
        return sum(w.file_state().file or 0 for w in self.workers if w.task is not None)

    def run(self, function: Callable[[Any], Any], tasks: Iterable[Any],
            recover: Callable[[Interrupted], tuple[Any, Any]] | None = None,
            tick: Callable[[], None] | None = None) -> Iterator[Any]:
        """Yield ``function(task)`` for each task, in the order they finish.

        When a worker ends while it runs a task (killed for a bound, by the
        system, or crashed), ``recover(Interrupted)`` gives the result to yield
        in its place and a task to run instead (or None); without *recover* the
        run stops with :class:`WorkerError`.  *tick* is called every
        :data:`TICK` seconds (progress).  An exception a task raises is raised
        here.
        """
        pending = deque(tasks)
        while pending or any(w.task is not None for w in self.workers):
            for idle in self.workers:
                if idle.ready and idle.task is None and idle.killed is None and pending:
                    idle.give(function, pending.popleft())
            try:
                worker, message = self.events.get(timeout=TICK)
            except queue.Empty:
                worker = message = None
            self._check_bounds()
            if tick is not None:
                tick()
            if worker is None or worker not in self.workers:
                continue
            if message is None:  # the worker ended
                replacement = self._ended(worker, recover)
                if replacement is not None:
                    if replacement[1] is not None:
                        pending.appendleft(replacement[1])
                    if replacement[0] is not None:
                        yield replacement[0]
                continue
            kind = message[0]
            if kind == "ready":
                worker.ready = True
            elif kind == "error":
                log.debug("worker start-up failed:\n%s", message[2])
                raise WorkerError(f"an indexing worker process could not start: {message[1]}")
            elif kind == "done":
                worker.task = None
                yield message[1]
            elif kind == "raised":
                worker.task = None
                raise message[1]

    def _ended(self, worker: _Worker, recover: Callable[[Interrupted], tuple[Any, Any]] | None
               ) -> tuple[Any, Any] | None:
        how = worker.ended_how()
        self.workers.remove(worker)
        worker.close()
        if not worker.ready:
            raise WorkerError(f"an indexing worker process could not start ({how}); "
                              "run with --jobs 1 to index without worker processes")
        if worker.task is None:  # it held no work: start another
            self.idle_deaths += 1
            if self.idle_deaths > 2 * len(self.workers) + 2:
                raise WorkerError(f"indexing worker processes keep ending ({how})")
            self._start()
            return None
        reason = worker.killed or f"its worker process ended ({how})"
        state = worker.file_state()
        if not state.on_file or state.file is None:
            # Between files (writing its result): no file to blame; the task runs once more.
            if recover is None or id(worker.task) in self._retried:
                raise WorkerError(f"an indexing worker process ended while working ({how})")
            self._retried.add(id(worker.task))
            self._start()
            return None, worker.task
        if recover is None:
            raise WorkerError(f"an indexing worker process ended while working ({reason})")
        outcome = recover(Interrupted(worker.task, state.file, reason))
        self._start()
        return outcome

    def _check_bounds(self) -> None:
        now = time.monotonic()
        if self.bounds is None or now - self._checked < TICK:
            return
        self._checked = now
        for worker in self.workers:
            if worker.task is None or worker.killed is not None:
                continue
            state = worker.file_state()
            if not state.on_file:
                continue
            if now - state.started > self.bounds.seconds:
                worker.kill(f"took longer than {self.bounds.seconds:g} s to index; skipped")
                continue
            resident = resident_bytes(worker.proc.pid)
            if (resident is not None and state.memory is not None
                    and resident - state.memory > self.bounds.memory):
                worker.kill(f"needed more than {_mib(self.bounds.memory)} of memory to "
                            "index; skipped")


def _mib(size: int) -> str:
    return f"{size / 2**20:g} MiB"
