"""The JSON API: ``/api/search``, ``/api/documents/{id}``, ``/api/suggest``,
``/api/similar/{id}``, ``/api/stats`` and ``/healthz``.
"""

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from ..engine import SearchEngine
from . import messages
from .budget import State, app_state
from .errors import ApiError
from .params import MAX_ID_CHARS, Limit, SearchParams
from .rendering import JSON, public_document, public_results, public_stats, request_lang
from .schema import DocumentBody, HealthBody, SearchBody, StatsBody, SuggestBody, responses


async def search_answer(state: State, params: dict[str, Any],
                         lang: messages.Lang = "en") -> Response:
    """The JSON answer of ``/api/search`` for checked *params* (``_search``'s keywords):
    a page past the last is a 404 naming the number of pages.  Notices are worded in
    *lang* (their codes and params stay as they are)."""
    results = await run_search(state, **params)
    if params["page"] > max(results.pages, 1):
        raise ApiError(404, "page out of range", "page_out_of_range",
                       {"page": params["page"], "pages": results.pages}, pages=results.pages)
    answer = results.as_dict()
    if lang != "en" and results.notices:
        worded = [messages.notice_text(notice, lang) for notice in results.notices]
        answer["notices"] = [dict(item, message=text)
                             for item, text in zip(answer["notices"], worded, strict=True)]
        answer["notice"] = " ".join(worded)
    return JSON(public_results(state, answer))



def check_id(doc_id: str) -> None:
    """Ids only: anything that looks like a path is a 404 without asking the engine, which
    also accepts source paths."""
    if (not doc_id or len(doc_id) > MAX_ID_CHARS or "/" in doc_id or "\\" in doc_id
            or ".." in doc_id or ":" in doc_id or "\x00" in doc_id):
        raise ApiError(404, "not found", "not_found_document")


def get_by_id(engine: SearchEngine, doc_id: str):
    doc = engine.get(doc_id)
    if doc.id != doc_id:  # the engine found it by path: not an id
        raise ApiError(404, "not found", "not_found_document")
    return doc


async def run_search(state: State, q: str, *, page: int, limit: int, sort: str,
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


#: OpenAPI links: a hit's id is what /api/documents and /api/similar take (clients and
#: schemathesis follow them from a search to its documents).
_HIT_LINKS = {name: {"operationId": op, "parameters": {"doc_id": "$response.body#/hits/0/id"}}
              for name, op in (("document", "document"), ("similar", "similar"))}


@api.get("/api/search", summary="Ranked results (the CLI's --json shape)",
         operation_id="search", response_model=None,
         responses={200: {"model": SearchBody, "links": _HIT_LINKS},
                                         **responses(400, 404, 422, 500, 503)})
async def api_search(request: Request,
                     params: Annotated[SearchParams, Query()]) -> Response:
    """One page of hits for `q`, with facet counts over all matches.  Snippets are plain
    text; `highlights` are `[start, end)` spans into them.  `year` is `2021`, `month`
    `2021-06`.  `notices` say how a query with a slip (an unclosed quote …) was read;
    `did_you_mean` is the query with a homophone typo corrected, or null.  A page past the
    last is a 404 that says how many pages there are."""
    return await search_answer(app_state(request), params.search_keywords(),
                               request_lang(request))


@api.get("/api/documents/{doc_id}", summary="One document: metadata and text",
         operation_id="document", response_model=None, responses={200: {"model": DocumentBody},
                                         **responses(400, 404, 500, 503)})
async def api_document(request: Request, doc_id: str) -> JSON:
    """Everything stored for the document with this id (`searcher show --json`).  Ids
    only: a source path is a 404."""
    check_id(doc_id)
    state = app_state(request)
    doc = await state.run(get_by_id, state.engine, doc_id)
    return JSON(public_document(state, doc.as_dict()))


@api.get("/api/suggest", summary="Completions for what is being typed",
         operation_id="suggest", response_model=None, responses={200: {"model": SuggestBody},
                                         **responses(400, 422, 500, 503)})
async def api_suggest(request: Request, q: Annotated[str, Query(
                          max_length=100, description="What has been typed so far.")],
                      limit: Annotated[int, Query(ge=1, le=50)] = 10) -> JSON:
    """Indexed words, phrases and titles that complete `q` (Chinese, pinyin such as
    `liaoc`, or pinyin initials such as `lc`), most common first.  `query` is the text
    to put in the search box: it keeps the words and spaces already typed."""
    state = app_state(request)
    items = await state.run(state.engine.suggest, q, limit=limit) if q.strip() else []
    return JSON({"query": q, "suggestions": [
        {**i.as_dict(), "query": box_text(q, i.text)} for i in items]})


@api.get("/api/similar/{doc_id}", summary="Documents similar to one document",
         operation_id="similar", response_model=None,
         responses={200: {"model": SearchBody, "links": _HIT_LINKS},
                                         **responses(400, 404, 422, 500, 503)})
async def api_similar(request: Request, doc_id: str, limit: Limit = 10) -> JSON:
    """The same shape as `/api/search`; near-duplicates are marked on their hits."""
    check_id(doc_id)
    state = app_state(request)
    results = await state.run(state.engine.similar, doc_id, limit=limit, timeout=0)
    return JSON(public_results(state, results.as_dict()))


@api.get("/api/stats", summary="Document count, index size, last update, fields",
         operation_id="stats", response_model=None, responses={200: {"model": StatsBody},
                                         **responses(400, 500, 503)})
async def api_stats(request: Request) -> JSON:
    """What `searcher stats --json` says; without source folders with `--public`."""
    state = app_state(request)
    return JSON(public_stats(state, (await state.run(state.engine.stats)).as_dict()))


@api.get("/healthz", summary="200 when the index opens, 503 otherwise",
         operation_id="health", response_model=None, responses={200: {"model": HealthBody},
                                         **responses(400, 500, 503)})
async def healthz(request: Request) -> JSON:
    """For load balancers and uptime monitors (`HEAD` works too)."""
    state = app_state(request)
    stats = await state.run(state.engine.stats)
    return JSON({"status": "ok", "documents": stats.documents})


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

