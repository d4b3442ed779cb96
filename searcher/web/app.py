"""FastAPI application: the JSON API under ``/api``, ``/healthz``, the search page.

Why FastAPI (on Starlette, run by uvicorn): the query parameters are typed once and become
both validation (a bad ``limit`` is a 422 naming the parameter) and the OpenAPI schema at
``/openapi.json``; Jinja2 renders the pages on the server with autoescaping, so search works
without JavaScript and document text can only ever be text.

Every engine call has a time budget: a slow query answers 503 when its budget is spent while
other requests keep being served.  A search runs on the event loop thread itself under a
:func:`searcher.time_limit` of :data:`LANE_HOLD` (no thread hop, see ``State.search``); one
still running then, and every other engine call, runs in a thread pool, where calls take
turns in one lane rather than all running at once.  The engine is thread-safe and notices
the nightly re-index on its next call, so a long-running server needs no restart.
"""

import contextlib
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from ..engine import SearchEngine
from .api import api
from .budget import HERE, State, WebOptions
from .guard import Guard
from .pages import pages
from .rendering import JSON, install_error_handlers

__all__ = ["JSON", "WebOptions", "create_app"]


# -- the app ----------------------------------------------------------------------------------

def create_app(engine: SearchEngine, options: WebOptions | None = None, **kwargs: Any) -> Any:
    """The ASGI app serving *engine*: ``/api/...``, ``/healthz``, ``/`` (search page),
    ``/doc/{id}``, ``/docs`` (API reference) and ``/openapi.json``.

    *options* (or the same fields as keywords: ``time_budget``, ``threads``,
    ``cors_origins``, ``public``) set the time budget per request, CORS, and whether
    answers leave out source paths.  The returned object is an
    ASGI callable (a FastAPI app) to run with uvicorn or mount in another app.
    """
    options = options or WebOptions(**kwargs)
    state = State(engine, options)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        state.pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="searcher", version=_version(), docs_url=None, redoc_url=None,
                  lifespan=lifespan, default_response_class=JSON,
                  description="Chinese full-text search over a folder of articles. "
                  "Read-only (`GET`, and `HEAD` for every `GET`); documents are addressed "
                  "by id.\n\nErrors are `{\"error\": code, \"detail\": message}`: `error` "
                  "is a stable code to branch on, `detail` a sentence in the request's "
                  "language (`Accept-Language: zh-CN` gives Chinese, English otherwise). "
                  "A 422 adds `problems`, one `{parameter, message}` per bad parameter.")
    app.state.searcher = state
    install_error_handlers(app)
    app.include_router(api)
    app.include_router(pages)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    if options.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(options.cors_origins),
                           allow_methods=["GET"], allow_headers=[])
    app.add_middleware(Guard, state=state)
    return app


def _version() -> str:
    from .. import __version__

    return __version__
