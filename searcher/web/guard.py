"""The outermost ASGI layer: security headers, HEAD, undecodable query strings, a bare 500
for a bug, and the fast path of ``GET /api/search``.
"""

import json
import logging
from urllib.parse import unquote_to_bytes

from fastapi import Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import SearcherError
from . import messages
from .api import search_answer
from .budget import State
from .errors import ApiError, as_api_error
from .params import plain_search_params
from .rendering import error_response, request_lang

log = logging.getLogger("searcher.web")


CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


#: The headers every response gets (see Guard), as ASGI wants them.
SECURITY_HEADERS = [(b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY")]


class Guard:
    """Outermost ASGI layer: security headers on every response, and any unexpected
    exception logged and answered with a bare 500 (no traceback, no internals).

    It also answers ``HEAD`` for every ``GET`` (the ``GET`` answer without its body: uptime
    monitors and link checkers ask that), refuses a query string whose percent-encoding is
    not UTF-8 (400 naming the parameter; Starlette would decode it to U+FFFD), and answers
    the hot endpoint, ``GET /api/search``, itself when the route's own model,
    :class:`searcher.web.params.SearchParams`, accepts the request (see
    :func:`plain_search_params`): FastAPI's routing and dependency resolution cost ~0.7 ms
    a request, as much as 7% of a search, where the model alone takes ~0.01 ms.  The
    answer is the route's own (same :func:`search_answer`); anything the model refuses,
    and every request when CORS is on, goes through FastAPI, whose 422s stay the
    reference, as does the route for ``/openapi.json``."""

    def __init__(self, app: ASGIApp, state: State) -> None:
        self.app = app
        self.state = state
        self.fast = not state.options.cors_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope["searcher.root"] = scope.get("root_path", "")
        head = scope["method"] == "HEAD"
        if head:
            scope["method"] = "GET"
        started = False

        async def send_with_headers(message: Message) -> None:
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
                await error_response(Request(scope), err)(scope, receive, send_with_headers)
            elif not self.fast or not await self._search(scope, receive, send_with_headers):
                await self.app(scope, receive, send_with_headers)
        except Exception:
            log.exception("unexpected error answering %s %s", scope.get("method"),
                          scope.get("path"))
            if started:
                raise
            lang = request_lang(scope)
            body = json.dumps({"error": "internal error",
                               "detail": messages.text("internal", lang)}, ensure_ascii=False)
            await send_with_headers({
                "type": "http.response.start", "status": 500,
                "headers": [(b"content-type", b"application/json")]})
            await send_with_headers({"type": "http.response.body", "body": body.encode()})

    async def _search(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Answer a plainly valid ``GET /api/search`` as the route would (True), or leave
        the request to FastAPI (False)."""
        path, root = scope["path"], scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):]
        if path != "/api/search" or scope["method"] != "GET":
            return False
        params = plain_search_params(scope.get("query_string", b""))
        if params is None:
            return False
        request = Request(scope)
        try:
            response: Response = await search_answer(self.state, params, request_lang(request))
        except (ApiError, SearcherError) as exc:
            response = error_response(request, as_api_error(exc))
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

