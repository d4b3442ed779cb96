"""The limits of a request and the parameters of ``/api/search``, declared once.

:class:`SearchParams` is the one truth: the route takes it (so it is what ``/openapi.json``
says and what a 422 enforces), the fast path of :class:`searcher.web.guard.Guard` checks a
query string with the same model, and the page and the response models take their sort
and facet names from here.
"""

import datetime as dt
import re
from typing import Annotated, Any, Literal, get_args
from urllib.parse import parse_qsl

from fastapi import Query
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

#: Limits on what one request may ask for (the parser's own limit is 1000 characters).
MAX_QUERY_CHARS = 500
MAX_LIMIT = 100
MAX_PAGE = 1000
MAX_FILTER_CHARS = 200
MAX_ID_CHARS = 200
MAX_FILTER_VALUES = 20
MAX_FACETS = 10
MAX_FACET_LIMIT = 100
#: Filters that take several values (any of them matches), as the library's search() does.
MULTI_FILTERS = ("author", "category", "tag", "year", "month")
#: Facets the search page shows in its sidebar, in this order.
PAGE_FACETS = ("author", "category", "tag", "year", "month")
#: The orders of results, as the library's ``search(sort=...)`` takes them.
SortName = Literal["relevance", "date", "oldest"]
SORTS: tuple[str, ...] = get_args(SortName)

Q = Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS,
                         description="Query in searcher's syntax: words, `\"a phrase\"`, "
                         "`a OR b`, `-excluded`, `title:word` (see the README).")]
Filter = Annotated[list[Annotated[str, StringConstraints(max_length=MAX_FILTER_CHARS)]], Query(
    max_length=MAX_FILTER_VALUES, description="Repeat for several values (any of them matches).")]
Year = Annotated[list[Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{3}$")]], Query(
    max_length=MAX_FILTER_VALUES, description="A year, `2021`; repeat for several.")]
Month = Annotated[list[Annotated[str, StringConstraints(
    pattern=r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])$")]], Query(
    max_length=MAX_FILTER_VALUES, description="A month, `2021-06`; repeat for several.")]
DateParam = Annotated[dt.date | None, Query(
    description="A day, `YYYY-MM-DD` (inclusive), in the index's time zone.")]
Sort = Annotated[SortName, Query()]
Page = Annotated[int, Query(ge=1, le=MAX_PAGE, description="A page past the last is a 404.")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
FACET_NAME = "(" + "|".join(PAGE_FACETS) + ")"
FACETS_PATTERN = rf"^ *{FACET_NAME}? *(, *{FACET_NAME}? *)*$"
Facets = Annotated[list[Annotated[str, StringConstraints(pattern=FACETS_PATTERN)]], Query(
    max_length=MAX_FACETS,
    description="Facet names (`author`, `category`, `tag`, `year`, `month`), "
    "repeated or comma-separated: `facets=author,year`.")]
FacetLimit = Annotated[int, Query(ge=1, le=MAX_FACET_LIMIT, description="Values per facet.")]


class SearchParams(BaseModel):
    """The query parameters of ``/api/search``; unknown ones are ignored."""

    model_config = ConfigDict(extra="ignore")

    q: Q
    author: Filter = []
    category: Filter = []
    tag: Filter = []
    year: Year = []
    month: Month = []
    since: DateParam = None
    until: DateParam = None
    sort: Sort = "relevance"
    page: Page = 1
    limit: Limit = 10
    facets: Facets = []
    facet_limit: FacetLimit = 10

    def search_keywords(self) -> dict[str, Any]:
        """The keywords of :func:`searcher.web.api.search_answer`."""
        return {"q": self.q, "page": self.page, "limit": self.limit, "sort": self.sort,
                "filters": {name: list(getattr(self, name)) for name in MULTI_FILTERS},
                "since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None,
                "facets": split_facets(self.facets), "facet_limit": self.facet_limit}


#: The parameters that take several values (repeated in the query string).
_LISTS = frozenset(name for name, field in SearchParams.model_fields.items()
                   if getattr(field.annotation, "__origin__", None) is list)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


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
    """:func:`searcher.web.api.search_answer`'s keywords for an ``/api/search`` query string
    that :class:`SearchParams` accepts, or None for anything else (a missing ``q``, a value
    out of range, a repeated single value...): those go through FastAPI, whose 422 is the
    reference.  Parsed as Starlette parses a query string."""
    given: dict[str, Any] = {}
    for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if key in _LISTS:
            given.setdefault(key, []).append(value)
        elif key in SearchParams.model_fields:
            if key in given:
                return None
            given[key] = value
    try:
        return SearchParams.model_validate(given).search_keywords()
    except ValidationError:
        return None


def split_facets(values: list[str] | None) -> list[str]:
    names: list[str] = []
    for value in values or []:
        names.extend(n.strip() for n in value.split(",") if n.strip())
    return list(dict.fromkeys(names))
