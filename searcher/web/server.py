"""Running the app with uvicorn (``searcher serve``), in one process or several.

With ``--workers N`` uvicorn starts N processes that each build their own app; they get the
settings and options through one environment variable, read by :func:`app_from_env`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import Any

from ..config import Settings
from ..engine import SearchEngine
from .app import WebOptions, create_app

ENV_CONFIG = "SEARCHER_WEB_CONFIG"

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
    data = json.loads(os.environ[ENV_CONFIG])
    settings = Settings().with_overrides(**data["settings"])
    options = data["options"]
    options["cors_origins"] = tuple(options["cors_origins"])
    return create_app(SearchEngine(settings=settings), WebOptions(**options))


def serve(settings: Settings, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
          options: WebOptions | None = None, log_level: str = "warning",
          access_log: bool = False) -> None:
    """Serve the index of *settings* until interrupted."""
    import uvicorn

    options = options or WebOptions()
    common: dict[str, Any] = {"host": host, "port": port, "log_level": log_level,
                              "access_log": access_log, "server_header": False}
    if workers > 1:
        os.environ[ENV_CONFIG] = _encode(settings, options)
        uvicorn.run("searcher.web.server:app_from_env", factory=True, workers=workers,
                    **common)
    else:
        uvicorn.run(create_app(SearchEngine(settings=settings), options), **common)
