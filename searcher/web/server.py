"""Running the app with uvicorn (``searcher serve``), in one process or several.

With ``--workers N`` this module starts N worker processes that each build their own app;
they get the settings and options through one environment variable, read by
:func:`app_from_env`.  The parent listens on the port, accepts every connection and hands it
(the socket itself, over a Unix socket: ``SCM_RIGHTS``) to the worker that holds the fewest
open connections; a worker says when a connection closes.  Why not let the kernel spread
them: uvicorn's own ``--workers`` shares one listening socket, and the first worker woken
accepts every connection waiting, so a burst lands on one worker (measured with 16 clients
and 2 workers: 15:1 and 16:0 most of the time); one ``SO_REUSEPORT`` socket per worker
spreads connections by a hash of their addresses, which with 16 clients is often 10:6 or
worse, and the worker with more connections makes its clients wait longer (the p99 of
bench/serve.py: 12x the library's with the hash, 9x with an even split).  Keep-alive
connections stay on one worker, so an even count of connections is an even load.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import logging
import multiprocessing
import os
import selectors
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import Settings
from ..engine import SearchEngine
from .app import WebOptions, create_app

ENV_CONFIG = "SEARCHER_WEB_CONFIG"

#: The interpreter's thread switch interval in a server process (CPython's default: 5 ms).
#: A search runs in a pool thread while the event loop thread serves sockets; each time the
#: loop wants the GIL it waits this long, then makes the search stop mid-way.  At 5 ms that
#: happens inside most searches (~10 ms each), several times a request; at 20 ms nearly every
#: search runs to its end first and the loop does its pending work in one go between
#: searches (measured in alternating rounds under load: ~45% more requests per second for
#: the same CPU per request).  A slow query still gives the loop a turn every 20 ms, so time
#: budgets and other requests are served.  Only processes that ``serve`` starts set it: an
#: app mounted in another service leaves that service's setting alone.
SWITCH_INTERVAL = 0.02

log = logging.getLogger("searcher.web")


def encode_config(settings: Settings, options: WebOptions) -> str:
    def plain(value: Any) -> Any:
        return str(value) if isinstance(value, Path) else value

    return json.dumps({
        # every setting but ``extra`` (not a setting: free-form data a caller attached)
        "settings": {k: plain(v) for k, v in dataclasses.asdict(settings).items()
                     if k != "extra"},
        "options": {**dataclasses.asdict(options),
                    "cors_origins": list(options.cors_origins)},
    })


def app_from_env() -> Any:
    """The app for one uvicorn worker process (``factory=True``)."""
    sys.setswitchinterval(SWITCH_INTERVAL)
    data = json.loads(os.environ[ENV_CONFIG])
    settings = Settings().with_overrides(**data["settings"])
    options = data["options"]
    options["cors_origins"] = tuple(options["cors_origins"])
    return create_app(SearchEngine(settings=settings), WebOptions(**options))


#: uvicorn releases whose internals :func:`_protocol_factory` was checked against (the
#: workers build uvicorn's connection protocol themselves to adopt handed-over sockets).
UVICORN_TESTED = ((0, 29), (1, 0))


def uvicorn_supported() -> bool:
    """Whether this uvicorn is one :func:`_protocol_factory` knows (else ``serve`` falls back
    to uvicorn's own workers), and this platform can pass sockets between processes."""
    import uvicorn

    try:
        version = tuple(int(part) for part in uvicorn.__version__.split(".")[:2])
    except ValueError:
        return False
    low, high = UVICORN_TESTED
    return low <= version < high and hasattr(socket, "send_fds") and hasattr(socket, "AF_UNIX")


def _protocol_factory(server: Any) -> Callable[[], asyncio.Protocol]:
    """uvicorn's HTTP protocol for one connection, as ``Server.startup`` builds it for its
    listening sockets (the only use of uvicorn internals: ``config.http_protocol_class``,
    ``server.server_state`` and ``server.lifespan``, checked in :data:`UVICORN_TESTED`).
    The protocol registers itself in ``server_state.connections``, so uvicorn's graceful
    shutdown waits for adopted connections as for its own."""
    config = server.config
    return functools.partial(config.http_protocol_class, config=config,
                             server_state=server.server_state,
                             app_state=server.lifespan.state)


def _listening_socket(host: str, port: int, backlog: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


#: What a worker writes to the parent: ready to take connections, one connection closed.
READY, CLOSED = b"r", b"x"


def _worker(channel: socket.socket, common: dict[str, Any]) -> None:
    """One worker process: uvicorn with no listening socket of its own, serving the
    connections the parent hands over on *channel*."""
    import uvicorn

    from ..core.workers import die_with_parent

    die_with_parent()  # a killed `searcher serve` takes its workers with it
    server = uvicorn.Server(uvicorn.Config("searcher.web.server:app_from_env", factory=True,
                                           **common))
    try:
        import uvloop
    except ImportError:
        asyncio.run(_adopt_connections(server, channel))
    else:
        uvloop.run(_adopt_connections(server, channel))


async def _adopt_connections(server: Any, channel: socket.socket) -> None:
    """Run *server* (app start-up, graceful shutdown on SIGTERM) and serve every socket that
    arrives on *channel*; tell the parent when ready and when each connection closes."""
    loop = asyncio.get_running_loop()
    serving = asyncio.ensure_future(server.serve(sockets=[]))
    while not server.started:  # the app is being built (index opened): bounded by serve
        if serving.done():
            return await serving  # start-up failed: uvicorn has said why
        await asyncio.sleep(0.02)
    make_protocol = _protocol_factory(server)
    channel.setblocking(False)

    def tell(message: bytes) -> None:
        with contextlib.suppress(OSError):  # the parent is gone: nobody to tell
            channel.send(message)

    def protocol() -> asyncio.Protocol:
        made = make_protocol()
        lost = made.connection_lost

        def connection_lost(exc: Exception | None) -> None:
            try:
                lost(exc)
            finally:
                tell(CLOSED)

        made.connection_lost = connection_lost  # type: ignore[method-assign]
        return made

    async def adopt(sock: socket.socket) -> None:
        try:
            await loop.connect_accepted_socket(protocol, sock)
        except OSError:  # closed by the client meanwhile
            sock.close()
            tell(CLOSED)

    def receive() -> None:
        while True:
            try:  # one byte per handed socket, so a read never holds two sockets' fds
                data, fds, _, _ = socket.recv_fds(channel, 1, 1)
            except BlockingIOError:
                return
            except OSError:
                data, fds = b"", []
            if not data:  # the parent has gone: stop (our connections finish first)
                loop.remove_reader(channel.fileno())
                server.should_exit = True
                return
            for fd in fds:
                sock = socket.socket(fileno=fd)
                sock.setblocking(False)
                task = loop.create_task(adopt(sock))
                adopting.add(task)  # held until done: the loop keeps only weak references
                task.add_done_callback(adopting.discard)

    adopting: set[asyncio.Task] = set()
    loop.add_reader(channel.fileno(), receive)
    tell(READY)
    try:
        await serving
    finally:
        loop.remove_reader(channel.fileno())
        channel.close()


@dataclasses.dataclass
class _Slot:
    """One worker: its process, the parent's end of its channel, its open connections."""

    process: multiprocessing.process.BaseProcess
    channel: socket.socket
    started: float
    ready: bool = False
    connections: int = 0


class Workers:
    """N worker processes behind one listening socket, kept at N until told to stop.

    The parent accepts and hands each connection to the ready worker with the fewest open
    ones (see the module's docstring).  SIGINT/SIGTERM stop them all (each finishes its
    requests: uvicorn's graceful shutdown); a worker that dies on its own is logged and
    replaced, at most once a second, and meanwhile the others take every connection."""

    def __init__(self, host: str, port: int, workers: int, common: dict[str, Any]) -> None:
        self.count, self.common = workers, common
        self.stop = threading.Event()
        self.slots: list[_Slot] = []
        # Bound here, in the parent, for the whole run: a bind error shows once, and the
        # port stays ours between worker restarts (connections wait in its backlog).
        self.listener = _listening_socket(host, port, common.get("backlog", 2048))
        self.selector = selectors.DefaultSelector()
        self.accepting = False

    def _start(self) -> _Slot:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        process = multiprocessing.get_context("spawn").Process(
            target=_worker, args=(theirs, self.common), daemon=False)
        process.start()
        theirs.close()
        ours.setblocking(False)
        slot = _Slot(process, ours, time.monotonic())
        self.selector.register(ours, selectors.EVENT_READ, slot)
        return slot

    def _accept(self) -> None:
        """Hand every waiting connection to the ready worker with the fewest."""
        while True:
            try:
                conn, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. out of file descriptors: try again later
                log.error("accept failed: %s", exc)
                return
            with conn:
                for slot in sorted((s for s in self.slots if s.ready),
                                   key=lambda s: s.connections):
                    try:
                        socket.send_fds(slot.channel, [b"c"], [conn.fileno()])
                    except OSError:  # that worker is gone or stuck: the next one
                        continue
                    slot.connections += 1
                    break
                else:
                    log.error("no worker could take a connection; closed it")

    def _hear(self, slot: _Slot) -> None:
        """Read what *slot*'s worker said: ready, connections closed, or gone (EOF)."""
        while True:
            try:
                data = slot.channel.recv(4096)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                data = b""
            if not data:
                self._forget(slot)
                break
            slot.ready = slot.ready or READY in data
            slot.connections = max(0, slot.connections - data.count(CLOSED))

    def _forget(self, slot: _Slot) -> None:
        if slot.channel.fileno() >= 0:
            self.selector.unregister(slot.channel)
            slot.channel.close()
        slot.ready = False

    def _listen(self, on: bool) -> None:
        """Accept only while some worker is ready: until then connections wait in the
        backlog rather than being handed to a worker still starting."""
        if on != self.accepting:
            if on:
                self.selector.register(self.listener, selectors.EVENT_READ, None)
            else:
                self.selector.unregister(self.listener)
            self.accepting = on

    def run(self) -> None:
        previous = {sig: signal.signal(sig, lambda *_: self.stop.set())
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.slots = [self._start() for _ in range(self.count)]
            while not self.stop.is_set():
                for key, _ in self.selector.select(timeout=0.5):
                    if key.data is None:
                        self._accept()
                    else:
                        self._hear(key.data)
                self._replace_dead()
                self._listen(any(s.ready for s in self.slots))
        finally:
            self._listen(False)
            self.listener.close()  # connections not yet handed over are refused
            for slot in self.slots:
                if slot.process.exitcode is None and slot.process.pid is not None:
                    os.kill(slot.process.pid, signal.SIGTERM)
            for slot in self.slots:
                slot.process.join(30)
                if slot.process.exitcode is None:
                    slot.process.kill()
                    slot.process.join()
                self._forget(slot)
            self.selector.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _replace_dead(self) -> None:
        for number, slot in enumerate(self.slots):
            if (slot.process.exitcode is not None and not self.stop.is_set()
                    and time.monotonic() - slot.started >= 1.0):
                log.error("worker %s ended (exit code %s); starting another",
                          slot.process.pid, slot.process.exitcode)
                self._forget(slot)
                self.slots[number] = self._start()


def serve(settings: Settings, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
          options: WebOptions | None = None, log_level: str = "warning",
          access_log: bool = False) -> None:
    """Serve the index of *settings* until interrupted.

    uvicorn picks uvloop and httptools (dependencies) when they import: its pure-Python
    fallbacks (asyncio's loop, h11) cost the one event loop thread more per request."""
    import uvicorn

    sys.setswitchinterval(SWITCH_INTERVAL)
    options = options or WebOptions()
    from .protocol import JsonErrorsHttpTools

    common: dict[str, Any] = {"host": host, "port": port, "log_level": log_level,
                              "access_log": access_log, "server_header": False,
                              "http": JsonErrorsHttpTools}
    if workers > 1:
        os.environ[ENV_CONFIG] = encode_config(settings, options)  # inherited by the workers
        if uvicorn_supported():
            Workers(host, port, workers, common).run()
        else:  # no socket passing (Windows) or an unknown uvicorn: uvicorn's own workers
            uvicorn.run("searcher.web.server:app_from_env", factory=True, workers=workers,
                        **common)
    else:
        uvicorn.run(create_app(SearchEngine(settings=settings), options), **common)
