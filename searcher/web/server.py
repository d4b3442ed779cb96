"""Running the app with uvicorn (``searcher serve``), in one process or several.

With ``--workers N`` this module starts N worker processes that each build their own app;
they get the settings and options through one environment variable, read by
:func:`app_from_env`.  Each worker listens on its own socket bound with ``SO_REUSEPORT``, so
the kernel spreads new connections over the workers evenly (a hash of each connection's
addresses).  uvicorn's own ``--workers`` shares one socket instead: every idle worker is woken
by a new connection and the first one accepts everything that is waiting, so a burst of
connections lands on one worker (measured with 16 clients and 2 workers: splits like 15:1
and 16:0 most of the time, one worker idle while the other queues).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
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


def _encode(settings: Settings, options: WebOptions) -> str:
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


def reuseport_socket(host: str, port: int) -> socket.socket:
    """A socket bound to *host*:*port* with ``SO_REUSEPORT`` (not yet listening): each worker
    listens on one, and the kernel balances connections between the listening ones."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def _worker(host: str, port: int, common: dict[str, Any]) -> None:
    """One worker process: its own listening socket, the app from the environment."""
    import uvicorn

    from ..local.building import _die_with_parent

    _die_with_parent()  # a killed `searcher serve` takes its workers with it
    sock = reuseport_socket(host, port)
    config = uvicorn.Config("searcher.web.server:app_from_env", factory=True, **common)
    uvicorn.Server(config).run(sockets=[sock])


class Workers:
    """N worker processes on one port (``SO_REUSEPORT``), kept at N until told to stop.

    SIGINT/SIGTERM stop them all (each finishes its requests: uvicorn's graceful shutdown);
    a worker that dies on its own is logged and replaced, at most once a second."""

    def __init__(self, host: str, port: int, workers: int, common: dict[str, Any]) -> None:
        self.host, self.port, self.count, self.common = host, port, workers, common
        self.stop = threading.Event()
        self.processes: list[multiprocessing.process.BaseProcess] = []
        # Held (bound, never listening) for the whole run: the port stays ours between
        # worker restarts, and a bind error shows here, in the parent, once.
        self.reserved = reuseport_socket(host, port)

    def _start(self) -> multiprocessing.process.BaseProcess:
        process = multiprocessing.get_context("spawn").Process(
            target=_worker, args=(self.host, self.port, self.common), daemon=False)
        process.start()
        return process

    def run(self) -> None:
        previous = {sig: signal.signal(sig, lambda *_: self.stop.set())
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.processes = [self._start() for _ in range(self.count)]
            while not self.stop.wait(1.0):
                for number, process in enumerate(self.processes):
                    if process.exitcode is not None and not self.stop.is_set():
                        log.error("worker %s ended (exit code %s); starting another",
                                  process.pid, process.exitcode)
                        self.processes[number] = self._start()
        finally:
            for process in self.processes:
                if process.exitcode is None and process.pid is not None:
                    os.kill(process.pid, signal.SIGTERM)
            for process in self.processes:
                process.join(30)
                if process.exitcode is None:
                    process.kill()
                    process.join()
            self.reserved.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def serve(settings: Settings, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
          options: WebOptions | None = None, log_level: str = "warning",
          access_log: bool = False) -> None:
    """Serve the index of *settings* until interrupted.

    uvicorn picks uvloop and httptools (dependencies) when they import: its pure-Python
    fallbacks (asyncio's loop, h11) cost the one event loop thread more per request."""
    import uvicorn

    sys.setswitchinterval(SWITCH_INTERVAL)
    options = options or WebOptions()
    common: dict[str, Any] = {"host": host, "port": port, "log_level": log_level,
                              "access_log": access_log, "server_header": False}
    if workers > 1:
        os.environ[ENV_CONFIG] = _encode(settings, options)  # inherited by the workers
        if hasattr(socket, "SO_REUSEPORT"):
            logging.basicConfig(format="%(levelname)s: %(message)s")
            Workers(host, port, workers, common).run()
        else:  # no SO_REUSEPORT (Windows): uvicorn's workers, on one shared socket
            uvicorn.run("searcher.web.server:app_from_env", factory=True, workers=workers,
                        **common)
    else:
        uvicorn.run(create_app(SearchEngine(settings=settings), options), **common)
