"""The limits of a request and the parameters of ``/api/search``: what the route declares
(and so what ``/openapi.json`` says and a 422 enforces), and the fast path's check of a
plainly valid query string (:class:`searcher.web.guard.Guard`).
"""

import datetime as dt
import re
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl

from fastapi import Query
from pydantic import StringConstraints

#: Limits on what one request may ask for (the parser's own limit is 1000 characters).
MAX_QUERY_CHARS = 500
MAX_LIMIT = 100
MAX_PAGE = 1000
MAX_FILTER_CHARS = 200
MAX_ID_CHARS = 200
#: Filters that take several values (any of them matches), as the library's search() does.
MULTI_FILTERS = ("author", "category", "tag", "year", "month")
#: Facets the search page shows in its sidebar, in this order.
PAGE_FACETS = ("author", "category", "tag", "year", "month")


_SEARCH_SINGLE = ("q", "since", "until", "sort", "page", "limit", "facet_limit")
_SEARCH_LISTS = (*MULTI_FILTERS, "facets")
_SMALL_INT = re.compile(r"[1-9][0-9]{0,3}")


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_YEAR = re.compile(r"[1-9][0-9]{3}")
_MONTH = re.compile(r"[1-9][0-9]{3}-(0[1-9]|1[0-2])")


def is_date(text: str) -> bool:
    """Whether *text* is a date as the API declares them (``YYYY-MM-DD``, a real day)."""
    if not _ISO_DATE.fullmatch(text):
        return False
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def plain_search_params(query_string: bytes) -> dict[str, Any] | None:
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
    if any(name in single and not is_date(single[name]) for name in ("since", "until")):
        return None
    if any(len(values) > 20 or any(len(v) > MAX_FILTER_CHARS for v in values)
           for name, values in lists.items() if name != "facets") or len(lists["facets"]) > 10:
        return None
    if not all(re.match(FACETS_PATTERN, value) for value in lists["facets"]) or \
            not all(_YEAR.fullmatch(value) for value in lists["year"]) or \
            not all(_MONTH.fullmatch(value) for value in lists["month"]):
        return None
    return {"q": q, "sort": sort, **numbers, "since": single.get("since"),
            "until": single.get("until"), "facets": split_facets(lists["facets"]),
            "filters": {name: lists[name] for name in MULTI_FILTERS}}


def split_facets(values: list[str] | None) -> list[str]:
    names: list[str] = []
    for value in values or []:
        names.extend(n.strip() for n in value.split(",") if n.strip())
    return list(dict.fromkeys(names))



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
FACET_NAME = "(author|category|tag|year|month)"
FACETS_PATTERN = rf"^ *{FACET_NAME}? *(, *{FACET_NAME}? *)*$"
Facets = Annotated[list[Annotated[str, StringConstraints(pattern=FACETS_PATTERN)]], Query(
    max_length=10,
    description="Facet names (`author`, `category`, `tag`, `year`, `month`), "
    "repeated or comma-separated: `facets=author,year`.")]
FacetLimit = Annotated[int, Query(ge=1, le=100, description="Values per facet.")]
