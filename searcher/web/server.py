"""Running the app with uvicorn (``searcher serve``), in one process or several.

With ``--workers N`` uvicorn starts N processes that each build their own app; they get the
settings and options through one environment variable, read by :func:`app_from_env`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
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
        os.environ[ENV_CONFIG] = _encode(settings, options)
        uvicorn.run("searcher.web.server:app_from_env", factory=True, workers=workers,
                    **common)
    else:
        uvicorn.run(create_app(SearchEngine(settings=settings), options), **common)
