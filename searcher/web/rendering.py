"""Answers: compact JSON, what ``--public`` leaves out of it, and errors as JSON (the API)
or as the error page (the pages), in the request's language.
"""

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from ..errors import SearcherError
from . import messages
from .budget import State, app_state
from .errors import ApiError, InvalidParameters, as_api_error, problem

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


def public_results(state: State, data: dict[str, Any]) -> dict[str, Any]:
    """*data* (``SearchResults.as_dict()``) without source paths when serving publicly."""
    if state.options.public:
        for hit in data["hits"]:
            hit.pop("path", None)
    return data


def public_document(state: State, data: dict[str, Any]) -> dict[str, Any]:
    if state.options.public:
        data.pop("path", None)
        data.pop("relpath", None)
    return data


def public_stats(state: State, data: dict[str, Any]) -> dict[str, Any]:
    if state.options.public:
        data = {k: v for k, v in data.items() if k not in ("sources", "index_dir", "url")}
        if isinstance(data.get("fingerprint"), dict) and data["fingerprint"].get("userdict"):
            data["fingerprint"] = {**data["fingerprint"], "userdict": "(set)"}  # a path
    return data


def mount_root(scope: Scope) -> str:
    """Where the app is mounted (``""`` at the top), also under ``/static``, whose mount
    adds itself to ``root_path``: Guard notes the app's own root first."""
    return scope.get("searcher.root", scope.get("root_path", ""))


def is_api_path(scope: Scope) -> bool:
    path, root = scope["path"], mount_root(scope)
    if root and path.startswith(root):
        path = path[len(root):]
    return path == "/api" or path.startswith("/api/") or path in ("/healthz", "/openapi.json")


def wants_json(request: Request) -> bool:
    return is_api_path(request.scope)


def request_lang(request: Request | Scope) -> messages.Lang:
    """The language of a request's messages: the API follows ``Accept-Language`` (English
    by default); the search page is a Chinese page, all of it in Chinese."""
    scope = request.scope if isinstance(request, Request) else request
    if not is_api_path(scope):
        return "zh"
    header = dict(scope.get("headers") or ()).get(b"accept-language", b"")
    return messages.negotiate(header.decode("latin-1"), "en")


def error_response(request: Request, err: ApiError) -> Response:
    lang = request_lang(request)
    detail = err.message(lang)
    if wants_json(request):
        extra = dict(err.extra)
        if "problems" in extra:
            extra["problems"] = [{"parameter": p["parameter"], "message": p[lang]}
                                 for p in extra["problems"]]
        response: Response = JSON({"error": err.error, "detail": detail, **extra},
                                  status_code=err.status)
    else:
        response = app_state(request).templates.TemplateResponse(
            request, "error.html", {**page_context(request), "status": err.status,
                                    "error": err.error, "detail": detail},
            status_code=err.status)
    if err.status == 503:
        response.headers["Retry-After"] = "5"
    return response


def page_context(request: Request) -> dict[str, Any]:
    """What every page's frame (base.html) needs."""
    return {"root": mount_root(request.scope), "q": "", "public": app_state(request).options.public}


def install_error_handlers(app: FastAPI) -> None:
    async def searcher_error(request: Request, exc: Exception) -> Response:
        return error_response(request, as_api_error(exc))

    async def validation_failed(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return error_response(request, InvalidParameters([problem(i) for i in exc.errors()]))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            err = ApiError(404, "not found", "not_found_page")
        elif exc.status_code == 405:
            err = ApiError(405, "method not allowed", "method_not_allowed")
        else:
            err = ApiError(exc.status_code, "error", "bad_request")
        response = error_response(request, err)
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        if exc.status_code == 405:  # HEAD is answered for every GET (see Guard)
            response.headers["Allow"] = "GET, HEAD"
        return response

    for kind in (ApiError, SearcherError):
        app.add_exception_handler(kind, searcher_error)
    app.add_exception_handler(RequestValidationError, validation_failed)
    app.add_exception_handler(StarletteHTTPException, http_error)
