"""FastAPI application: the JSON API under ``/api``, ``/healthz``, the search page.

Why FastAPI (on Starlette, run by uvicorn): the query parameters are typed once and become
both validation (a bad ``limit`` is a 422 naming the parameter) and the OpenAPI schema at
``/openapi.json``; Jinja2 renders the pages on the server with autoescaping, so search works
without JavaScript and document text can only ever be text.

Every engine call has a time budget: a slow query answers 503 when its budget is spent while
other requests keep being served.  A search runs on the event loop thread itself under a
:func:`searcher.time_limit` of :data:`LANE_HOLD` (no thread hop, see ``_State.search``); one
still running then, and every other engine call, runs in a thread pool, where calls take
turns in one lane rather than all running at once.  The engine is thread-safe and notices
the nightly re-index on its next call, so a long-running server needs no restart.
"""

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import functools
import json
import logging
import re
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, unquote_to_bytes, urlencode
from zoneinfo import ZoneInfo

import orjson
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from pydantic import StringConstraints
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..deadline import time_limit
from ..engine import SearchEngine
from ..errors import (
    DocumentNotFoundError,
    IndexNotFoundError,
    QueryError,
    SearcherError,
    TimeLimitExceeded,
)
from . import messages
from .schema import (
    DocumentBody,
    HealthBody,
    SearchBody,
    StatsBody,
    SuggestBody,
    responses,
)

log = logging.getLogger("searcher.web")

#: Limits on what one request may ask for (the parser's own limit is 1000 characters).
MAX_QUERY_CHARS = 500
MAX_LIMIT = 100
MAX_PAGE = 1000
MAX_FILTER_CHARS = 200
MAX_ID_CHARS = 200
#: Seconds one engine call runs alone before the next one may start beside it.  Engine calls
#: are CPU-bound Python, so in one process several at once only take turns on the GIL, and
#: the turns cost: threads that wait for the GIL wake every 5 ms to force a switch (measured:
#: 1-2 ms more kernel time per search request with four at once than with one).  So calls
#: run one after another: a search on the event loop thread for up to this long (then it
#: stops and goes on in the pool), other calls queue for a lane in the pool, and one that
#: holds the lane longer than this (a slow query) lets the next start beside it, so a slow
#: query holds up the others for about this long at most.  Several processes
#: (``--workers``) are what use several cores.
LANE_HOLD = 0.25
#: Filters that take several values (any of them matches), as the library's search() does.
MULTI_FILTERS = ("author", "category", "tag", "year", "month")
#: Facets the search page shows in its sidebar, in this order.
PAGE_FACETS = ("author", "category", "tag", "year", "month")

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")

_HERE = resources.files("searcher.web")


@dataclass(frozen=True)
class WebOptions:
    """How the app behaves; ``searcher serve`` fills it from its options."""

    #: Seconds one engine call may take before the request answers 503.
    time_budget: float = 10.0
    #: Threads that run engine calls: normally one at a time (see LANE_HOLD); more only run
    #: beside slow ones, so this many slow queries at once hold up the rest.
    threads: int = 4
    #: Origins allowed to call the API from a browser (no CORS headers when empty).
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    #: Serving beyond this machine: no answer or page names a source path or folder
    #: (``searcher serve --public``); documents are linked by id only, as always.
    public: bool = False


class ApiError(Exception):
    """An error answered as ``{"error": ..., "detail": ...}`` with *status*: *error* is the
    stable code, *key* and *fields* the message (:mod:`searcher.web.messages`), given in the
    request's language when answered; *extra* are more keys of the answer."""

    def __init__(self, status: int, error: str, key: str, fields: dict[str, Any] | None = None,
                 **extra: Any) -> None:
        self.status, self.error, self.key, self.extra = status, error, key, extra
        self.fields = fields or {}
        super().__init__(self.detail)

    @property
    def detail(self) -> str:
        """The message in English (logs, and the API's default)."""
        return self.message("en")

    def message(self, lang: messages.Lang) -> str:
        if self.key in ("bad_query", "bad_filter"):
            said = messages.query_error(self.fields["detail"], self.extra.get("position"),
                                        lang)
            return said if lang == "en" else messages.text(self.key, lang, detail=said)
        return messages.text(self.key, lang, **self.fields)


#: orjson writes what json.dumps(ensure_ascii=False, separators=(",", ":"), default=str)
#: writes, several times faster (a page of hits: ~0.3 ms less per request): dates and
#: dataclasses go through ``str`` as with json.dumps (orjson's own forms differ).
_ORJSON = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _as_json_value(value: Any) -> Any:
    """What json.dumps(default=str) makes of a value orjson passes on: float subclasses
    (numpy's float64) are numbers to json.dumps, anything else becomes its ``str``."""
    return float(value) if isinstance(value, float) else str(value)


class JSON(JSONResponse):
    """Compact UTF-8 JSON; values JSON cannot hold (front-matter dates) become strings."""

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content, default=_as_json_value, option=_ORJSON)
        except TypeError:  # orjson.JSONEncodeError is one
            # what orjson refuses and json.dumps takes (ints over 64 bits, keys that are not
            # strings): the same answer, slower.  (NaN, which json.dumps writes as a bare
            # NaN that is not JSON, orjson writes as null.)
            from ..reports import json_text  # keeps paths that are not UTF-8 valid

            return json_text(content, separators=(",", ":"), default=str).encode("utf-8")


class _State:
    """What the routes need, kept on ``app.state.searcher``."""

    def __init__(self, engine: SearchEngine, options: WebOptions) -> None:
        self.engine = engine
        self.options = options
        self.pool = concurrent.futures.ThreadPoolExecutor(
            max(1, options.threads), thread_name_prefix="searcher-web")
        self.templates = Jinja2Templates(directory=str(_HERE / "templates"))
        #: Searches run on the event loop only where they stop at searcher.time_limit (see
        #: search); a back end that does not check it waits in the pool like other calls.
        self.on_loop = engine.checks_time_limit
        #: The start page's example queries, with the index state they were taken from.
        self.examples: tuple[Any, list[tuple[str, str]]] | None = None
        # One lane per event loop (an app may be served by several loops one after another,
        # as the test client does; an asyncio semaphore belongs to one loop).
        self._lanes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] \
            = weakref.WeakKeyDictionary()

    def _lane(self, loop: asyncio.AbstractEventLoop) -> asyncio.Semaphore:
        lane = self._lanes.get(loop)
        if lane is None:
            lane = self._lanes[loop] = asyncio.Semaphore(1)
        return lane

    async def search(self, *args: Any, **kwargs: Any) -> Any:
        """``engine.search(*args, **kwargs)`` on the event loop thread itself, in its turn
        in the lane, when it is done within LANE_HOLD (nearly every search), else in the
        pool like :meth:`run`.

        A search handed to a pool thread costs the worker more than the search itself: the
        thread wakes, takes the GIL from the loop and gives it back, the loop keeps a timer
        for the budget, and a loop that wants the GIL while a search runs waits for it
        (measured in one process, the app called directly: 0.3-2.7 ms of CPU a request,
        depending on the run; the waits cost time, not CPU).  On the loop it
        runs under :func:`searcher.time_limit`, which the engine checks between ranking steps: a
        search still ranking after LANE_HOLD stops there and starts over in the pool with
        what is left of the budget, so a slow query holds the loop (and every other request
        of this worker) up for about LANE_HOLD at most, as a pool call holding the lane
        does.

        An answer that comes after the budget (a step that does not check the limit ran
        past it) is a 503, as from the pool.  A back end whose searches do not check the
        limit (a cluster: a network call) searches in the pool, like :meth:`run`.

        The lane is handed on in the loop's next round, not at once: so the loop polls its
        sockets between two searches.  Handed on at once, every request read in one poll
        was searched before the next poll, and a new connection, which takes the loop a few
        rounds to set up, waited behind dozens of searches (measured with 16 clients: ~1 s
        for the first request of a connection, 0.14 s for the others)."""
        # The server's budget bounds every call (time_limit here and in _limited), so the
        # engine's own default limit (the search_timeout setting) must not cut it shorter.
        kwargs.setdefault("timeout", 0)
        loop = asyncio.get_running_loop()
        started = loop.time()
        if not self.on_loop:  # a cluster: network waits, and no checks of time_limit
            return await self._run(started, self.engine.search, args, kwargs)
        budget = self.options.time_budget
        lane = self._lane(loop)
        try:
            if lane.locked():
                await asyncio.wait_for(lane.acquire(), budget)
            else:
                await lane.acquire()  # free: no task, no timer
        except asyncio.TimeoutError:
            raise _over_budget(self.engine.search, args, budget) from None
        try:
            left = budget - (loop.time() - started)
            if left <= 0:
                raise _over_budget(self.engine.search, args, budget)
            with time_limit(min(LANE_HOLD, left)):
                results = self.engine.search(*args, **kwargs)
        except TimeLimitExceeded:
            results = None  # a slow one: on to the pool, with the rest of the budget
        finally:
            loop.call_soon(lane.release)
        if results is None:
            return await self._run(started, self.engine.search, args, kwargs)
        if loop.time() - started > budget:  # a step that does not check ran past it
            raise _over_budget(self.engine.search, args, budget)
        return results

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` in the pool once it has the lane (or the call ahead of it
        has held the lane for LANE_HOLD), or ApiError 503 once the budget is spent: waiting
        for the lane counts, the budget is the answer's deadline.  The call runs under
        :func:`searcher.time_limit` for the budget, so a search stops soon after its 503
        instead of going on in its thread."""
        return await self._run(asyncio.get_running_loop().time(), fn, args, kwargs)

    async def _run(self, started: float, fn: Callable[..., Any], args: tuple,
                   kwargs: dict[str, Any]) -> Any:
        loop = asyncio.get_running_loop()
        budget = self.options.time_budget
        lane = self._lane(loop)
        future: asyncio.Future | None = None
        try:
            if loop.time() - started >= budget:  # spent already (on the loop): no pool call
                raise asyncio.TimeoutError
            if lane.locked():
                await asyncio.wait_for(lane.acquire(), budget - (loop.time() - started))
            else:
                await lane.acquire()  # free: no task, no timer
        except asyncio.TimeoutError:
            pass
        else:
            try:
                remaining = budget - (loop.time() - started)
                future = loop.run_in_executor(self.pool, functools.partial(
                    _limited, max(remaining, 0.0), fn, *args, **kwargs))
                await asyncio.wait((future,), timeout=min(LANE_HOLD, max(remaining, 0.0)))
            finally:
                lane.release()  # done, or slow: the next call may start
            if not future.done():
                # Not wait_for: it would raise the call's own TimeLimitExceeded when the thread's
                # limit passes just before the wait's (the same deadline, two clocks).
                await asyncio.wait((future,), timeout=max(budget - (loop.time() - started), 0))
                if not future.done():
                    future.cancel()  # its thread stops at the limit; nobody waits for it
                    future = None
            if future is not None and future.exception() is not None:
                if not isinstance(future.exception(), TimeLimitExceeded):
                    future.result()  # the call's own error is the answer, even a late one
                future = None
        # Also late when the work finished just as the budget ran out (a busy event loop
        # may notice the result before the timer): the budget is the answer's deadline.
        if future is None or loop.time() - started > budget:
            raise _over_budget(fn, args, budget)
        return future.result()


def _over_budget(fn: Callable[..., Any], args: tuple, budget: float) -> ApiError:
    """The 503 of a request over its time budget (logged)."""
    log.warning("%s %s exceeded the %.3g s time budget", getattr(fn, "__name__", fn),
                [a for a in args if isinstance(a, str)], budget)
    return ApiError(503, "time budget exceeded", "time_budget", {"seconds": f"{budget:g}"})


def _limited(seconds: float, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` in a pool thread, under a time limit (see searcher/deadline)."""
    with time_limit(seconds):
        return fn(*args, **kwargs)


def _state(request: Request) -> _State:
    return request.app.state.searcher


# -- errors ----------------------------------------------------------------------------------

def _root(scope: dict) -> str:
    """Where the app is mounted (``""`` at the top), also under ``/static``, whose mount
    adds itself to ``root_path``: _Guard notes the app's own root first."""
    return scope.get("searcher.root", scope.get("root_path", ""))


def _api_path(scope: dict) -> bool:
    path, root = scope["path"], _root(scope)
    if root and path.startswith(root):
        path = path[len(root):]
    return path == "/api" or path.startswith("/api/") or path in ("/healthz", "/openapi.json")


def _wants_json(request: Request) -> bool:
    return _api_path(request.scope)


def _lang(request: Request | dict) -> messages.Lang:
    """The language of a request's messages: the API follows ``Accept-Language`` (English
    by default); the search page is a Chinese page, all of it in Chinese."""
    scope = request if isinstance(request, dict) else request.scope
    if not _api_path(scope):
        return "zh"
    header = dict(scope.get("headers") or ()).get(b"accept-language", b"")
    return messages.negotiate(header.decode("latin-1"), "en")


def _error_response(request: Request, err: ApiError) -> Response:
    lang = _lang(request)
    detail = err.message(lang)
    if _wants_json(request):
        extra = dict(err.extra)
        if "problems" in extra:
            extra["problems"] = [{"parameter": p["parameter"], "message": p[lang]}
                                 for p in extra["problems"]]
        response: Response = JSON({"error": err.error, "detail": detail, **extra},
                                  status_code=err.status)
    else:
        response = _state(request).templates.TemplateResponse(
            request, "error.html", {**_page_context(request), "status": err.status,
                                    "error": err.error, "detail": detail},
            status_code=err.status)
    if err.status == 503:
        response.headers["Retry-After"] = "5"
    return response


def _as_api_error(exc: Exception) -> ApiError:
    """The library's errors as HTTP errors (anything else is a bug: 500)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, QueryError):
        return ApiError(400, "bad query", "bad_query", {"detail": str(exc)},
                        position=exc.position)
    if isinstance(exc, DocumentNotFoundError):
        return ApiError(404, "not found", "not_found_document")
    if isinstance(exc, IndexNotFoundError):
        log.warning("index unavailable: %s", exc)
        return ApiError(503, "index unavailable", "index_unavailable")
    if isinstance(exc, SearcherError):
        log.warning("search failed: %s", exc)
        return ApiError(503, "unavailable", "unavailable")
    raise exc


#: pydantic's error types → Chinese (the English is pydantic's own message).
_PROBLEMS_ZH = {
    "missing": "缺少这个参数", "string_too_short": "不能为空",
    "string_too_long": "太长（最多 {max_length} 个字符）",
    "too_long": "太多（最多 {max_length} 个）",
    "int_parsing": "应为整数", "int_from_float": "应为整数",
    "greater_than_equal": "应不小于 {ge}", "less_than_equal": "应不大于 {le}",
    "literal_error": "应为 {expected} 之一",
    "date_from_datetime_parsing": "不是有效日期（应为 年-月-日，如 2021-06-01）",
    "date_from_datetime_inexact": "不是有效日期（应为 年-月-日，如 2021-06-01）",
    "date_parsing": "不是有效日期（应为 年-月-日，如 2021-06-01）",
    "date_type": "不是有效日期（应为 年-月-日，如 2021-06-01）",
}


def _problem(item: dict[str, Any]) -> dict[str, str]:
    # "author.0" (one of a repeated parameter's values) is the parameter "author"
    where = ".".join(str(part) for part in item.get("loc", ())[1:]
                     if not isinstance(part, int)) or "request"
    english = item.get("msg", "invalid")
    chinese = _PROBLEMS_ZH.get(item.get("type", ""), "无效")
    try:
        chinese = chinese.format(**(item.get("ctx") or {}))
    except (KeyError, IndexError, ValueError):
        chinese = "无效"
    return {"parameter": where, "en": english, "zh": chinese}


class _ValidationError(ApiError):
    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__(422, "invalid parameter", "invalid_parameter", problems=problems)

    def message(self, lang: messages.Lang) -> str:
        problems = self.extra["problems"]
        sep = "; " if lang == "en" else "；"
        joined = sep.join(f"{p['parameter']}: {p[lang]}" if lang == "en"
                          else f"{p['parameter']} {p[lang]}" for p in problems)
        return joined if lang == "en" else f"参数有误：{joined}"


def _install_error_handlers(app: FastAPI) -> None:
    async def searcher_error(request: Request, exc: Exception) -> Response:
        return _error_response(request, _as_api_error(exc))

    async def validation_failed(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return _error_response(request, _ValidationError([_problem(i) for i in exc.errors()]))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            err = ApiError(404, "not found", "not_found_page")
        elif exc.status_code == 405:
            err = ApiError(405, "method not allowed", "method_not_allowed")
        else:
            err = ApiError(exc.status_code, "error", "bad_request")
        response = _error_response(request, err)
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        if exc.status_code == 405:  # HEAD is answered for every GET (see _Guard)
            response.headers["Allow"] = "GET, HEAD"
        return response

    for kind in (ApiError, SearcherError):
        app.add_exception_handler(kind, searcher_error)
    app.add_exception_handler(RequestValidationError, validation_failed)
    app.add_exception_handler(StarletteHTTPException, http_error)


#: The headers every response gets (see _Guard), as ASGI wants them.
SECURITY_HEADERS = [(b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY")]


class _Guard:
    """Outermost ASGI layer: security headers on every response, and any unexpected
    exception logged and answered with a bare 500 (no traceback, no internals).

    It also answers ``HEAD`` for every ``GET`` (the ``GET`` answer without its body: uptime
    monitors and link checkers ask that), refuses a query string whose percent-encoding is
    not UTF-8 (400 naming the parameter; Starlette would decode it to U+FFFD), and answers
    the hot endpoint, ``GET /api/search``, itself when the request is plainly valid (see
    :func:`_plain_search_params`): FastAPI's routing, dependency resolution and pydantic
    validation cost ~0.7 ms a request, as much as 7% of a search.  The answer is the
    route's own (same :func:`_search_answer`); anything unusual, and every request when
    CORS is on, goes through FastAPI, whose validation and 422s stay the reference, as does
    the route for ``/openapi.json``."""

    def __init__(self, app: Any, state: _State) -> None:
        self.app = app
        self.state = state
        self.fast = not state.options.cors_origins

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope["searcher.root"] = scope.get("root_path", "")
        head = scope["method"] == "HEAD"
        if head:
            scope["method"] = "GET"
        started = False

        async def send_with_headers(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", ()), *SECURITY_HEADERS]
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}  # content-length stays the GET's
            await send(message)

        try:
            bad = _undecodable_parameter(scope.get("query_string", b""))
            if bad is not None:
                err = ApiError(400, "bad encoding", "bad_encoding", {"parameter": bad},
                               parameter=bad)
                await _error_response(Request(scope), err)(scope, receive, send_with_headers)
            elif not self.fast or not await self._search(scope, receive, send_with_headers):
                await self.app(scope, receive, send_with_headers)
        except Exception:
            log.exception("unexpected error answering %s %s", scope.get("method"),
                          scope.get("path"))
            if started:
                raise
            lang = _lang(scope)
            body = json.dumps({"error": "internal error",
                               "detail": messages.text("internal", lang)}, ensure_ascii=False)
            await send_with_headers({
                "type": "http.response.start", "status": 500,
                "headers": [(b"content-type", b"application/json")]})
            await send_with_headers({"type": "http.response.body", "body": body.encode()})

    async def _search(self, scope: dict, receive: Any, send: Any) -> bool:
        """Answer a plainly valid ``GET /api/search`` as the route would (True), or leave
        the request to FastAPI (False)."""
        path, root = scope["path"], scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):]
        if path != "/api/search" or scope["method"] != "GET":
            return False
        params = _plain_search_params(scope.get("query_string", b""))
        if params is None:
            return False
        request = Request(scope)
        try:
            response: Response = await _search_answer(self.state, params, _lang(request))
        except (ApiError, SearcherError) as exc:
            response = _error_response(request, _as_api_error(exc))
        await response(scope, receive, send)
        return True


def _undecodable_parameter(query_string: bytes) -> str | None:
    """The name of the first query parameter whose value (or name) is not UTF-8 once its
    percent-encoding is undone (``q=%FF``), or None."""
    for part in query_string.split(b"&"):
        name, _, value = part.partition(b"=")
        for raw in (name, value):
            try:
                unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError:
                return unquote_to_bytes(name).decode("utf-8", "replace") or "?"
    return None


async def _search_answer(state: _State, params: dict[str, Any],
                         lang: messages.Lang = "en") -> Response:
    """The JSON answer of ``/api/search`` for checked *params* (``_search``'s keywords):
    a page past the last is a 404 naming the number of pages.  Notices are worded in
    *lang* (their codes and params stay as they are)."""
    results = await _search(state, **params)
    if params["page"] > max(results.pages, 1):
        raise ApiError(404, "page out of range", "page_out_of_range",
                       {"page": params["page"], "pages": results.pages}, pages=results.pages)
    answer = results.as_dict()
    if lang != "en" and results.notices:
        worded = [messages.notice_text(notice, lang) for notice in results.notices]
        answer["notices"] = [dict(item, message=text)
                             for item, text in zip(answer["notices"], worded, strict=True)]
        answer["notice"] = " ".join(worded)
    return JSON(_public_results(state, answer))


_SEARCH_SINGLE = ("q", "since", "until", "sort", "page", "limit", "facet_limit")
_SEARCH_LISTS = (*MULTI_FILTERS, "facets")
_SMALL_INT = re.compile(r"[1-9][0-9]{0,3}")


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_YEAR = re.compile(r"[1-9][0-9]{3}")
_MONTH = re.compile(r"[1-9][0-9]{3}-(0[1-9]|1[0-2])")


def _is_date(text: str) -> bool:
    """Whether *text* is a date as the API declares them (``YYYY-MM-DD``, a real day)."""
    if not _ISO_DATE.fullmatch(text):
        return False
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _plain_search_params(query_string: bytes) -> dict[str, Any] | None:
    """``_search``'s keywords for an ``/api/search`` query string that is valid beyond doubt
    under the route's declared limits, or None for anything else (a missing ``q``, a value
    out of range or not plain digits, a repeated single value, too many or too long
    values...): those go through FastAPI, whose answer is the reference.  Parsed as
    Starlette parses a query string; unknown parameters are ignored as FastAPI does."""
    single: dict[str, str] = {}
    lists: dict[str, list[str]] = {name: [] for name in _SEARCH_LISTS}
    for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if key in lists:
            lists[key].append(value)
        elif key in _SEARCH_SINGLE:
            if key in single:
                return None
            single[key] = value
    q = single.get("q", "")
    if not 1 <= len(q) <= MAX_QUERY_CHARS:
        return None
    numbers = {}
    for name, default, high in (("page", 1, MAX_PAGE), ("limit", 10, MAX_LIMIT),
                                ("facet_limit", 10, 100)):
        value = single.get(name)
        if value is None:
            numbers[name] = default
        elif _SMALL_INT.fullmatch(value) and int(value) <= high:
            numbers[name] = int(value)
        else:
            return None
    sort = single.get("sort", "relevance")
    if sort not in ("relevance", "date", "oldest"):
        return None
    if any(name in single and not _is_date(single[name]) for name in ("since", "until")):
        return None
    if any(len(values) > 20 or any(len(v) > MAX_FILTER_CHARS for v in values)
           for name, values in lists.items() if name != "facets") or len(lists["facets"]) > 10:
        return None
    if not all(re.match(_FACETS, value) for value in lists["facets"]) or \
            not all(_YEAR.fullmatch(value) for value in lists["year"]) or \
            not all(_MONTH.fullmatch(value) for value in lists["month"]):
        return None
    return {"q": q, "sort": sort, **numbers, "since": single.get("since"),
            "until": single.get("until"), "facets": _split_facets(lists["facets"]),
            "filters": {name: lists[name] for name in MULTI_FILTERS}}


# -- shared helpers ---------------------------------------------------------------------------

def _split_facets(values: list[str] | None) -> list[str]:
    names: list[str] = []
    for value in values or []:
        names.extend(n.strip() for n in value.split(",") if n.strip())
    return list(dict.fromkeys(names))


def _check_id(doc_id: str) -> None:
    """Ids only: anything that looks like a path is a 404 without asking the engine, which
    also accepts source paths."""
    if (not doc_id or len(doc_id) > MAX_ID_CHARS or "/" in doc_id or "\\" in doc_id
            or ".." in doc_id or ":" in doc_id or "\x00" in doc_id):
        raise ApiError(404, "not found", "not_found_document")


def _get_by_id(engine: SearchEngine, doc_id: str):
    doc = engine.get(doc_id)
    if doc.id != doc_id:  # the engine found it by path: not an id
        raise ApiError(404, "not found", "not_found_document")
    return doc


async def _search(state: _State, q: str, *, page: int, limit: int, sort: str,
                  filters: dict[str, list[str]], since: str | None, until: str | None,
                  facets: list[str], facet_limit: int = 10) -> Any:
    kwargs: dict[str, Any] = {"limit": limit, "page": page, "sort": sort,
                              "since": since or None, "until": until or None}
    for name, values in filters.items():
        values = [v for v in values if v.strip()]
        if values:
            kwargs[name] = values
    if facets:
        kwargs["facets"] = facets
        kwargs["facet_limit"] = facet_limit
    return await state.search(q, **kwargs)


# -- the JSON API -----------------------------------------------------------------------------

api = APIRouter()

Q = Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS,
                         description="Query in searcher's syntax: words, `\"a phrase\"`, "
                         "`a OR b`, `-excluded`, `title:word` (see the README).")]
Filter = Annotated[list[Annotated[str, StringConstraints(max_length=MAX_FILTER_CHARS)]], Query(
    max_length=20, description="Repeat for several values (any of them matches).")]
Year = Annotated[list[Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{3}$")]], Query(
    max_length=20, description="A year, `2021`; repeat for several.")]
Month = Annotated[list[Annotated[str, StringConstraints(
    pattern=r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])$")]], Query(
    max_length=20, description="A month, `2021-06`; repeat for several.")]
DateParam = Annotated[dt.date | None, Query(
    description="A day, `YYYY-MM-DD` (inclusive), in the index's time zone.")]
Sort = Annotated[Literal["relevance", "date", "oldest"], Query()]
Page = Annotated[int, Query(ge=1, le=MAX_PAGE, description="A page past the last is a 404.")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
_FACET = "(author|category|tag|year|month)"
_FACETS = rf"^ *{_FACET}? *(, *{_FACET}? *)*$"
Facets = Annotated[list[Annotated[str, StringConstraints(pattern=_FACETS)]], Query(
    max_length=10,
    description="Facet names (`author`, `category`, `tag`, `year`, `month`), "
    "repeated or comma-separated: `facets=author,year`.")]
FacetLimit = Annotated[int, Query(ge=1, le=100, description="Values per facet.")]


def _public_results(state: _State, data: dict[str, Any]) -> dict[str, Any]:
    """*data* (``SearchResults.as_dict()``) without source paths when serving publicly."""
    if state.options.public:
        for hit in data["hits"]:
            hit.pop("path", None)
    return data


def _public_document(state: _State, data: dict[str, Any]) -> dict[str, Any]:
    if state.options.public:
        data.pop("path", None)
        data.pop("relpath", None)
    return data


def _public_stats(state: _State, data: dict[str, Any]) -> dict[str, Any]:
    if state.options.public:
        data = {k: v for k, v in data.items() if k not in ("sources", "index_dir", "url")}
        if isinstance(data.get("fingerprint"), dict) and data["fingerprint"].get("userdict"):
            data["fingerprint"] = {**data["fingerprint"], "userdict": "(set)"}  # a path
    return data


#: OpenAPI links: a hit's id is what /api/documents and /api/similar take (clients and
#: schemathesis follow them from a search to its documents).
_HIT_LINKS = {name: {"operationId": op, "parameters": {"doc_id": "$response.body#/hits/0/id"}}
              for name, op in (("document", "document"), ("similar", "similar"))}


@api.get("/api/search", summary="Ranked results (the CLI's --json shape)",
         operation_id="search", response_model=None,
         responses={200: {"model": SearchBody, "links": _HIT_LINKS},
                                         **responses(400, 404, 422, 500, 503)})
async def api_search(request: Request, q: Q, author: Filter = [], category: Filter = [],  # noqa: B006 - FastAPI copies defaults
                     tag: Filter = [], year: Year = [], month: Month = [],  # noqa: B006
                     since: DateParam = None, until: DateParam = None,
                     sort: Sort = "relevance", page: Page = 1, limit: Limit = 10,
                     facets: Facets = [], facet_limit: FacetLimit = 10) -> Response:  # noqa: B006
    """One page of hits for `q`, with facet counts over all matches.  Snippets are plain
    text; `highlights` are `[start, end)` spans into them.  `year` is `2021`, `month`
    `2021-06`.  `notices` say how a query with a slip (an unclosed quote …) was read;
    `did_you_mean` is the query with a homophone typo corrected, or null.  A page past the
    last is a 404 that says how many pages there are."""
    state = _state(request)
    given = {"author": author, "category": category, "tag": tag, "year": year, "month": month}
    filters = {name: list(values) for name, values in given.items()}
    return await _search_answer(state, {
        "q": q, "page": page, "limit": limit, "sort": sort, "filters": filters,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "facets": _split_facets(facets), "facet_limit": facet_limit}, _lang(request))


@api.get("/api/documents/{doc_id}", summary="One document: metadata and text",
         operation_id="document", response_model=None, responses={200: {"model": DocumentBody},
                                         **responses(400, 404, 500, 503)})
async def api_document(request: Request, doc_id: str) -> JSON:
    """Everything stored for the document with this id (`searcher show --json`).  Ids
    only: a source path is a 404."""
    _check_id(doc_id)
    state = _state(request)
    doc = await state.run(_get_by_id, state.engine, doc_id)
    return JSON(_public_document(state, doc.as_dict()))


@api.get("/api/suggest", summary="Completions for what is being typed",
         operation_id="suggest", response_model=None, responses={200: {"model": SuggestBody},
                                         **responses(400, 422, 500, 503)})
async def api_suggest(request: Request, q: Annotated[str, Query(
                          max_length=100, description="What has been typed so far.")],
                      limit: Annotated[int, Query(ge=1, le=50)] = 10) -> JSON:
    """Indexed words, phrases and titles that complete `q` (Chinese, pinyin such as
    `liaoc`, or pinyin initials such as `lc`), most common first.  `query` is the text
    to put in the search box: it keeps the words and spaces already typed."""
    state = _state(request)
    items = await state.run(state.engine.suggest, q, limit=limit) if q.strip() else []
    return JSON({"query": q, "suggestions": [
        {**i.as_dict(), "query": box_text(q, i.text)} for i in items]})


@api.get("/api/similar/{doc_id}", summary="Documents similar to one document",
         operation_id="similar", response_model=None,
         responses={200: {"model": SearchBody, "links": _HIT_LINKS},
                                         **responses(400, 404, 422, 500, 503)})
async def api_similar(request: Request, doc_id: str, limit: Limit = 10) -> JSON:
    """The same shape as `/api/search`; near-duplicates are marked on their hits."""
    _check_id(doc_id)
    state = _state(request)
    results = await state.run(state.engine.similar, doc_id, limit=limit, timeout=0)
    return JSON(_public_results(state, results.as_dict()))


@api.get("/api/stats", summary="Document count, index size, last update, fields",
         operation_id="stats", response_model=None, responses={200: {"model": StatsBody},
                                         **responses(400, 500, 503)})
async def api_stats(request: Request) -> JSON:
    """What `searcher stats --json` says; without source folders with `--public`."""
    state = _state(request)
    return JSON(_public_stats(state, await state.run(state.engine.stats)))


@api.get("/healthz", summary="200 when the index opens, 503 otherwise",
         operation_id="health", response_model=None, responses={200: {"model": HealthBody},
                                         **responses(400, 500, 503)})
async def healthz(request: Request) -> JSON:
    """For load balancers and uptime monitors (`HEAD` works too)."""
    state = _state(request)
    stats = await state.run(state.engine.stats)
    return JSON({"status": "ok", "documents": stats["documents"]})


_SYNTAX = re.compile(r'["()|]')
_DASHES = re.compile(r"(^|\s)-+")


def box_text(typed: str, text: str) -> str:
    """What choosing the completion *text* of *typed* puts in the search box: *text*
    without query syntax (a title's quote must not become an unclosed phrase), and where
    *text* continues what was typed, the typed words and spaces kept (``长江 保`` +
    ``长江保护法`` → ``长江 保护法``: two words stay two words, as the user wrote them)."""
    clean = " ".join(_DASHES.sub(r"\1", _SYNTAX.sub(" ", text)).split())
    head = typed.lstrip()
    out: list[str] = []
    j = 0
    for ch in head:
        if ch.isspace():
            if out and out[-1] != " ":
                out.append(" ")
            continue
        while j < len(clean) and clean[j] == " ":
            j += 1
        if j >= len(clean) or _fold_char(ch) != _fold_char(clean[j]):
            return clean  # not a continuation (pinyin, initials, a folded form): as is
        out.append(clean[j])
        j += 1
    if j < len(clean) and clean[j] == " " and out and out[-1] == " ":
        j += 1
    return ("".join(out) + clean[j:]).strip()


def _fold_char(ch: str) -> str:
    from ..analysis.normalize import fold

    try:
        return fold(ch)
    except (UnicodeError, ValueError):
        return ch


# -- the pages ------------------------------------------------------------------------------

pages = APIRouter()


def parts(text: str, spans: Iterable[Iterable[int]]) -> list[tuple[str, bool]]:
    """*text* cut at *spans* into ``(piece, highlighted)``; the template escapes each piece."""
    out: list[tuple[str, bool]] = []
    pos = 0
    for start, end in sorted(tuple(s) for s in spans):
        start, end = max(start, pos), min(end, len(text))
        if start >= end:
            continue
        if start > pos:
            out.append((text[pos:start], False))
        out.append((text[start:end], True))
        pos = end
    if pos < len(text):
        out.append((text[pos:], False))
    return out


class _Page:
    """The search page's state, as it is in the URL (so it can be shared, reloaded and
    walked with Back/Forward): links are built from it, never from request text as is."""

    SINGLE = ("q", "since", "until", "sort", "page")
    LABELS = {"author": "作者", "category": "分类", "tag": "标签", "year": "年份",
              "month": "月份", "since": "起", "until": "止"}

    def __init__(self, params: Any, root: str = "") -> None:
        def get(key: str) -> str:
            return str(params.get(key) or "").strip()[:MAX_QUERY_CHARS]

        def getlist(key: str) -> list[str]:
            values = params.getlist(key) if hasattr(params, "getlist") else (
                [params[key]] if params.get(key) else [])
            clean = [v[:MAX_FILTER_CHARS] for v in values if v and v.strip()]
            return list(dict.fromkeys(clean))[:20]

        self.single = {k: get(k) for k in self.SINGLE if get(k)}
        self.multi = {k: getlist(k) for k in MULTI_FILTERS}
        self.root = root  # where the app is mounted

    def _url(self, single: dict[str, str], multi: dict[str, list[str]]) -> str:
        if single.get("sort") == "relevance":
            single.pop("sort")
        if single.get("page") == "1":
            single.pop("page")
        pairs = [("q", single["q"])] if "q" in single else []
        pairs += [(k, v) for k in MULTI_FILTERS for v in multi.get(k, [])]
        pairs += [(k, single[k]) for k in self.SINGLE[1:] if k in single]
        return f"{self.root}/?{urlencode(pairs)}" if pairs else f"{self.root}/"

    def url(self, **changes: Any) -> str:
        """This state with single-valued *changes*; anything but ``page`` starts at page 1."""
        single = dict(self.single)
        if "page" not in changes:
            single.pop("page", None)
        for key, value in changes.items():
            if value in (None, ""):
                single.pop(key, None)
            else:
                single[key] = str(value)
        return self._url(single, self.multi)

    def toggle(self, name: str, value: str) -> str:
        """Add *value* to filter *name* (a facet click), or remove it when it is there."""
        multi = {k: list(v) for k, v in self.multi.items()}
        values = multi.setdefault(name, [])
        if value in values:
            values.remove(value)
        else:
            values.append(value)
        single = {k: v for k, v in self.single.items() if k != "page"}
        return self._url(single, multi)

    def active(self, name: str, value: str) -> bool:
        return value in self.multi.get(name, [])

    def chips(self) -> list[tuple[str, str, str]]:
        out = [(self.LABELS[k], v, self.toggle(k, v)) for k in MULTI_FILTERS
               for v in self.multi[k]]
        out += [(self.LABELS[k], self.single[k], self.url(**{k: None}))
                for k in ("since", "until") if k in self.single]
        return out

    def page_links(self, current: int, pages: int) -> list[tuple[int, str] | None]:
        """The pager's numbers: the first, the last, two either side of *current*; None
        where numbers are left out (shown as an ellipsis)."""
        last = min(pages, MAX_PAGE)
        shown = sorted({1, last, *range(max(1, current - 2), min(last, current + 2) + 1)})
        out: list[tuple[int, str] | None] = []
        for n in shown:
            previous = out[-1][0] if out and out[-1] is not None else None
            if previous is not None and n == previous + 2:  # one number: no "…" for it
                out.append((n - 1, self.url(page=n - 1)))
            elif previous is not None and n > previous + 2:
                out.append(None)
            out.append((n, self.url(page=n)))
        return out


def _page_number(value: str | None) -> int | None:
    """The ``page`` of the page's URL: None when absent, 0 when it is not a page number."""
    if value is None:
        return None
    value = value.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 40 or int(value) < 1:
        return 0
    return int(value)


def _needs_cleaning(raw: Any) -> bool:
    """Whether the page's URL holds empty parameters (a form sends its empty boxes) or a
    page that is not a number: the page redirects to the same search without them."""
    return any(not value.strip() for _, value in raw.multi_items()) or \
        _page_number(raw.get("page")) == 0 or raw.get("sort") == "relevance"


def _page_context(request: Request) -> dict[str, Any]:
    """What every page's frame (base.html) needs."""
    return {"root": _root(request.scope), "q": "", "public": _state(request).options.public}


def _pinyin_notes(results: Any) -> list[tuple[str, list[str]]]:
    readings = getattr(results, "pinyin", None) or {}
    return [(spelling, words) for spelling, words in readings.items() if words]


def _redirect(url: str) -> Response:
    return RedirectResponse(url, status_code=302)


@pages.get("/", response_class=HTMLResponse, include_in_schema=False)
async def search_page(request: Request) -> Response:
    state = _state(request)
    raw = request.query_params
    root = _root(request.scope)
    view = _Page(raw, root)
    asked = _page_number(raw.get("page")) or 1
    if _needs_cleaning(raw):
        return _redirect(view.url(page=asked))
    q = view.single.get("q", "")
    sort = view.single.get("sort", "relevance")
    if sort not in ("relevance", "date", "oldest"):
        sort = "relevance"
    context: dict[str, Any] = {**_page_context(request), "view": view, "q": q, "sort": sort,
                               "parts": parts, "results": None, "error": None, "facets": {},
                               "facet_names": _Page.LABELS, "max_page": MAX_PAGE,
                               "pinyin_notes": [], "msg": _zh}
    status = 200
    if q:
        try:
            since, until = (_page_date(view, name) for name in ("since", "until"))
            results = await _search(
                state, q, page=min(asked, MAX_PAGE), limit=10, sort=sort,
                filters=view.multi, since=since, until=until, facets=list(PAGE_FACETS))
        except (ApiError, SearcherError) as exc:
            err = _as_api_error(exc)
            status = err.status
            context["error"] = err.message("zh")
            context["error_status"] = err.status
            context["error_position"] = err.extra.get("position") \
                if err.key == "bad_query" else None
        else:
            last = max(1, min(results.pages, MAX_PAGE))
            if asked > last:  # past the last page (or the deepest one served): go there
                return _redirect(view.url(page=last))
            context["results"] = results
            context["facets"] = results.facets
            context["pinyin_notes"] = _pinyin_notes(results)
            context["notice_text"] = functools.partial(messages.notice_text, lang="zh")
    else:
        context["start"] = await _start_info(state)
    return state.templates.TemplateResponse(request, "search.html", context,
                                            status_code=status)


def _zh(key: str, **fields: Any) -> str:
    """A message of the page (Chinese) for the templates."""
    return messages.text(key, "zh", **fields)


def _page_date(view: _Page, name: str) -> str | None:
    value = view.single.get(name)
    if value is None:
        return None
    if not _is_date(value):
        raise ApiError(400, "bad date", "bad_date",
                       {"parameter": _Page.LABELS[name], "value": value})
    return value


async def _start_info(state: _State) -> dict[str, Any]:
    """The start page's facts: document count, last update (in the index's time zone),
    and example queries taken from the index (none when it cannot be read)."""
    try:
        stats = await state.run(state.engine.stats)
    except (ApiError, SearcherError) as exc:
        log.warning("start page: %s", exc)
        return {"documents": None, "updated": None, "examples": []}
    updated = None
    if stats.get("last_update"):
        with contextlib.suppress(ValueError, TypeError):
            when = dt.datetime.fromisoformat(str(stats["last_update"]))
            zone = ZoneInfo(state.engine.settings.timezone)
            updated = (when.astimezone(zone) if when.tzinfo else when).strftime(
                "%Y-%m-%d %H:%M")
    key = (stats.get("generation"), stats.get("documents"), stats.get("last_update"))
    if state.examples is None or state.examples[0] != key:
        try:
            examples = await state.run(example_queries, state.engine)
        except (ApiError, SearcherError) as exc:
            log.warning("example queries: %s", exc)
            examples = []
        state.examples = (key, examples)
    return {"documents": stats.get("documents"), "updated": updated,
            "examples": state.examples[1]}


#: Characters whose completions are looked at for the start page's example word: common
#: first characters of Chinese words (the index decides which word is shown).
_EXAMPLE_STARTS = "中国人大发新北上学城经市文生工业全民时"


def example_queries(engine: SearchEngine) -> list[tuple[str, str]]:
    """Example queries for the start page, from the index itself: ``(label, query)`` for
    the most common Chinese word among the completions of a few common characters, the
    same word in pinyin, and a phrase that starts with it (quoted)."""
    best = None
    for start in _EXAMPLE_STARTS:
        for item in engine.suggest(start, limit=5):
            if item.kind == "word" and len(item.text) >= 2 and \
                    all("\u4e00" <= ch <= "\u9fff" for ch in item.text):
                if best is None or item.count > best.count:
                    best = item
                break
    if best is None:
        return []
    out = [("词语", best.text)]
    from pypinyin import lazy_pinyin

    spelling = "".join(lazy_pinyin(best.text))
    if spelling.isascii() and spelling.isalpha() and engine.search(spelling, limit=1).total:
        out.append(("拼音", spelling))
    phrase = next((s.text for s in engine.suggest(best.text, limit=20)
                   if s.kind == "phrase" and s.text != best.text), None)
    if phrase and engine.search(f'"{phrase}"', limit=1).total:
        out.append(("短语", f'"{phrase}"'))
    return out


def _document_view(engine: SearchEngine, doc_id: str, q: str):
    """The document, and the spans of its title and text that *q* matches (none for a query
    that does not parse: the page still shows the document)."""
    doc = _get_by_id(engine, doc_id)
    spans: list[tuple[int, int]] = []
    title_spans: list[tuple[int, int]] = []
    if q:
        with contextlib.suppress(QueryError):
            spans = engine.highlight(doc.text, q)
            title_spans = engine.highlight(doc.title, q)
    return doc, spans, title_spans


@pages.get("/doc/{doc_id:path}", response_class=HTMLResponse, include_in_schema=False)
async def document_page(request: Request, doc_id: str) -> Response:
    _check_id(doc_id)
    state = _state(request)
    q = request.query_params.get("q", "")[:MAX_QUERY_CHARS]
    doc, spans, title_spans = await state.run(_document_view, state.engine, doc_id, q)
    similar = None
    try:
        similar = await state.run(state.engine.similar, doc_id, limit=5, timeout=0)
    except (ApiError, SearcherError) as exc:  # the page still shows the document
        log.warning("similar documents for %s: %s", doc_id, exc)
    root = _root(request.scope)
    return state.templates.TemplateResponse(request, "document.html", {
        **_page_context(request), "doc": doc, "q": q, "text_parts": parts(doc.text, spans),
        "title_parts": parts(doc.title, title_spans), "similar": similar, "marks": len(spans),
        "back": _Page({"q": q}, root).url() if q else root + "/"})


@pages.get("/favicon.ico", include_in_schema=False)
async def favicon(request: Request) -> Response:
    """Browsers ask every page for it; the same small icon as the pages link."""
    return Response((_HERE / "static" / "favicon.svg").read_bytes(),
                    media_type="image/svg+xml",
                    headers={"Cache-Control": "public, max-age=86400"})


@pages.get("/docs", response_class=HTMLResponse, include_in_schema=False)
async def docs_page(request: Request) -> Response:
    """The API reference, rendered on the server from the OpenAPI schema (works offline);
    descriptions are Markdown, rendered by markdown-it-py without raw HTML."""
    schema = request.app.openapi()
    md = _markdown()
    endpoints = []
    for path, methods in schema.get("paths", {}).items():
        for method, op in methods.items():
            params = [{"name": p["name"], "in": p["in"], "required": p.get("required", False),
                       "schema": _schema_text(p.get("schema", {})),
                       "description": md(p.get("description") or
                                         p.get("schema", {}).get("description", ""))}
                      for p in op.get("parameters", [])]
            endpoints.append({"method": method.upper(), "path": path,
                              "summary": op.get("summary", ""),
                              "description": md(op.get("description", "")), "params": params,
                              "responses": [(code, md(r.get("description", "")))
                                            for code, r in sorted(op.get("responses",
                                                                         {}).items())]})
    return _state(request).templates.TemplateResponse(
        request, "docs.html", {"schema": schema, "endpoints": endpoints,
                               "description": md(schema["info"].get("description", "")),
                               "root": _root(request.scope)})


@functools.lru_cache(maxsize=1)
def _markdown() -> Callable[[str], Markup]:
    from markdown_it import MarkdownIt

    renderer = MarkdownIt("commonmark", {"html": False})
    return lambda text: Markup(renderer.render(text or ""))


def _schema_text(schema: dict[str, Any]) -> str:
    if "anyOf" in schema:
        return " | ".join(_schema_text(s) for s in schema["anyOf"])
    text = schema.get("type", "")
    if text == "array":
        text = f"list of {_schema_text(schema.get('items', {}))}"
    if "enum" in schema:
        text += " (" + ", ".join(map(str, schema["enum"])) + ")"
    bounds = [f"{key} {schema[key]}" for key in
              ("minimum", "maximum", "minLength", "maxLength", "maxItems") if key in schema]
    if "default" in schema:
        bounds.append(f"default {schema['default']}")
    return text + (f" [{', '.join(bounds)}]" if bounds else "")


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
    state = _State(engine, options)

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
    _install_error_handlers(app)
    app.include_router(api)
    app.include_router(pages)
    app.mount("/static", StaticFiles(directory=str(_HERE / "static")), name="static")
    if options.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(options.cors_origins),
                           allow_methods=["GET"], allow_headers=[])
    app.add_middleware(_Guard, state=state)
    return app


def _version() -> str:
    from .. import __version__

    return __version__
