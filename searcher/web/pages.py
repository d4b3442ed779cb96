"""The pages: the search page ``/`` (results, facets, pager, the start page's examples), a
document ``/doc/{id}``, the API reference ``/docs`` and the favicon.  Rendered on the server
with Jinja2 (autoescaping), so search works without JavaScript.
"""

import contextlib
import datetime as dt
import functools
import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from ..engine import SearchEngine
from ..errors import QueryError, SearcherError
from . import messages
from .api import check_id, get_by_id, run_search
from .budget import HERE, State, app_state
from .errors import ApiError, as_api_error
from .params import (
    MAX_FILTER_CHARS,
    MAX_FILTER_VALUES,
    MAX_PAGE,
    MAX_QUERY_CHARS,
    MULTI_FILTERS,
    PAGE_FACETS,
    SORTS,
    is_date,
)
from .rendering import mount_root, page_context

log = logging.getLogger("searcher.web")


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


class SearchView:
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
            return list(dict.fromkeys(clean))[:MAX_FILTER_VALUES]

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



def _pinyin_notes(results: Any) -> list[tuple[str, list[str]]]:
    readings = getattr(results, "pinyin", None) or {}
    return [(spelling, words) for spelling, words in readings.items() if words]


def _redirect(url: str) -> Response:
    return RedirectResponse(url, status_code=302)


@pages.get("/", response_class=HTMLResponse, include_in_schema=False)
async def search_page(request: Request) -> Response:
    state = app_state(request)
    raw = request.query_params
    root = mount_root(request.scope)
    view = SearchView(raw, root)
    asked = _page_number(raw.get("page")) or 1
    if _needs_cleaning(raw):
        return _redirect(view.url(page=asked))
    q = view.single.get("q", "")
    sort = view.single.get("sort", "relevance")
    if sort not in SORTS:
        sort = "relevance"
    context: dict[str, Any] = {**page_context(request), "view": view, "q": q, "sort": sort,
                               "parts": parts, "results": None, "error": None, "facets": {},
                               "facet_names": SearchView.LABELS, "max_page": MAX_PAGE,
                               "pinyin_notes": [], "msg": _zh}
    status = 200
    if q:
        try:
            since, until = (_page_date(view, name) for name in ("since", "until"))
            results = await run_search(
                state, q, page=min(asked, MAX_PAGE), limit=10, sort=sort,
                filters=view.multi, since=since, until=until, facets=list(PAGE_FACETS))
        except (ApiError, SearcherError) as exc:
            err = as_api_error(exc)
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


def _page_date(view: SearchView, name: str) -> str | None:
    value = view.single.get(name)
    if value is None:
        return None
    if not is_date(value):
        raise ApiError(400, "bad date", "bad_date",
                       {"parameter": SearchView.LABELS[name], "value": value})
    return value


async def _start_info(state: State) -> dict[str, Any]:
    """The start page's facts: document count, last update (in the index's time zone),
    and example queries taken from the index (none when it cannot be read)."""
    try:
        stats = await state.run(state.engine.stats)
    except (ApiError, SearcherError) as exc:
        log.warning("start page: %s", exc)
        return {"documents": None, "updated": None, "examples": []}
    updated = None
    if stats.last_update:
        with contextlib.suppress(ValueError, TypeError):
            when = dt.datetime.fromisoformat(str(stats.last_update))
            zone = ZoneInfo(state.engine.settings.timezone)
            updated = (when.astimezone(zone) if when.tzinfo else when).strftime(
                "%Y-%m-%d %H:%M")
    key = (stats.generation, stats.documents, stats.last_update)
    if state.examples is None or state.examples[0] != key:
        try:
            examples = await state.run(example_queries, state.engine)
        except (ApiError, SearcherError) as exc:
            log.warning("example queries: %s", exc)
            examples = []
        state.examples = (key, examples)
    return {"documents": stats.documents, "updated": updated,
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
    doc = get_by_id(engine, doc_id)
    spans: list[tuple[int, int]] = []
    title_spans: list[tuple[int, int]] = []
    if q:
        with contextlib.suppress(QueryError):
            spans = engine.highlight(doc.text, q)
            title_spans = engine.highlight(doc.title, q)
    return doc, spans, title_spans


@pages.get("/doc/{doc_id:path}", response_class=HTMLResponse, include_in_schema=False)
async def document_page(request: Request, doc_id: str) -> Response:
    check_id(doc_id)
    state = app_state(request)
    q = request.query_params.get("q", "")[:MAX_QUERY_CHARS]
    doc, spans, title_spans = await state.run(_document_view, state.engine, doc_id, q)
    similar = None
    try:
        similar = await state.run(state.engine.similar, doc_id, limit=5, timeout=0)
    except (ApiError, SearcherError) as exc:  # the page still shows the document
        log.warning("similar documents for %s: %s", doc_id, exc)
    root = mount_root(request.scope)
    return state.templates.TemplateResponse(request, "document.html", {
        **page_context(request), "doc": doc, "q": q, "text_parts": parts(doc.text, spans),
        "title_parts": parts(doc.title, title_spans), "similar": similar, "marks": len(spans),
        "back": SearchView({"q": q}, root).url() if q else root + "/"})


@pages.get("/favicon.ico", include_in_schema=False)
async def favicon(request: Request) -> Response:
    """Browsers ask every page for it; the same small icon as the pages link."""
    return Response((HERE / "static" / "favicon.svg").read_bytes(),
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
    return app_state(request).templates.TemplateResponse(
        request, "docs.html", {"schema": schema, "endpoints": endpoints,
                               "description": md(schema["info"].get("description", "")),
                               "root": mount_root(request.scope)})


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

