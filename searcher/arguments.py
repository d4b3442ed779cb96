"""Checking search arguments once, for every back end.

:func:`prepare_search` turns what a caller passed to ``search`` (the query text,
filters, sort, paging, facets) into a :class:`SearchRequest`: the parsed query
tree, the filters with dates as naive-UTC bounds and months as numbers, and
the validated facet names.  :class:`searcher.SearchEngine` and
:class:`searcher.opensearch.OpenSearchBackend` both call it, so a bad argument
is the same QueryError whichever index answers, and each back end only runs
a request it knows to be valid.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from .core.request import (
    MAX_FACET_LIMIT,
    SORTS,
    Filters,
    SearchRequest,
    as_values,
    check_facets,
    date_range,
    is_text,
    month_numbers,
)
from .errors import QueryError
from .query import parse_query_notices

#: Largest page size any back end serves.
MAX_LIMIT = 1000


def check_text(value: Any, name: str, *, optional: bool) -> None:
    """Raise QueryError unless *value* is a str of real characters (or None if *optional*).

    Lone surrogates (what Python makes of undecodable bytes) cannot be folded,
    segmented or stored; they would fail deep inside the search.
    """
    if value is None and optional:
        return
    if not isinstance(value, str):
        if name in ("since", "until") and isinstance(value, (dt.date, int, float)):
            return
        raise QueryError(f"{name} must be a string, not {type(value).__name__}",
                         argument=name, value=value)
    if is_text(value):
        return
    for position, char in enumerate(value, start=1):
        if "\ud800" <= char <= "\udfff":
            raise QueryError(
                f"{name} is not valid text: a lone surrogate (U+{ord(char):04X}) at character "
                f"{position}, which is what undecodable bytes become; decode the bytes with "
                "their real encoding first", position - 1, argument=name, value=value)


def check_whole(value: Any, name: str, low: int, high: int | None) -> None:
    """Raise QueryError unless *value* is an int (not a bool) from *low* to *high*."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise QueryError(f"{name} must be a whole number, not {value!r}", argument=name,
                         value=value)
    if value < low or (high is not None and value > high):
        span = f"between {low} and {high}" if high is not None else f"{low} or more"
        raise QueryError(f"{name} must be {span}, not {value}", argument=name, value=value)


def check_page(limit: Any, page: Any) -> None:
    """The paging arguments of ``search`` and ``similar``."""
    check_whole(limit, "limit", 1, MAX_LIMIT)
    check_whole(page, "page", 1, None)


def check_doc_id(doc_id: Any) -> None:
    """A document id or path for ``get``/``similar``: a non-empty string whose lone
    surrogates (if any) are the ones Python uses for file-name bytes (U+DC80..U+DCFF)."""
    if not isinstance(doc_id, str) or not doc_id:
        raise QueryError("the document id must be a non-empty string", argument="doc_id",
                         value=doc_id)
    if any("\ud800" <= c <= "\udfff" and not "\udc80" <= c <= "\udcff" for c in doc_id):
        check_text(doc_id, "doc_id", optional=False)


def prepare_search(timezone: str, query: str, limit: int = 10, page: int = 1,
                   author: str | Sequence[str] | None = None,
                   category: str | Sequence[str] | None = None, since: Any = None,
                   until: Any = None, sort: str = "relevance",
                   tag: str | Sequence[str] | None = None, *,
                   year: int | str | Sequence[int | str] | None = None,
                   month: str | Sequence[str] | None = None,
                   facets: str | Sequence[str] | None = None,
                   facet_limit: int = 10) -> SearchRequest:
    """Check every argument of ``search`` (see :meth:`searcher.SearchEngine.search`) and
    parse the query; *timezone* is the zone of bare dates and of year/month filters."""
    check_page(limit, page)
    for name, value in (("query", query), ("author", author), ("category", category),
                        ("tag", tag), ("since", since), ("until", until), ("sort", sort)):
        several = name in ("author", "category", "tag") and isinstance(value, (list, tuple))
        for one in list(value or ()) if several else [value]:
            check_text(one, name, optional=name != "query")
    if sort not in SORTS:
        raise QueryError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}",
                         argument="sort", value=sort)
    facet_names = check_facets(facets)
    check_whole(facet_limit, "facet_limit", 1, MAX_FACET_LIMIT)
    years, months = month_numbers(year, month)
    node, notices = parse_query_notices(query)
    start, end = date_range(since, until, timezone)
    filters = Filters(as_values(author, "author"), as_values(category, "category"),
                      as_values(tag, "tag"), start, end, years, months, timezone)
    return SearchRequest(query=query, node=node, limit=limit, page=page, sort=sort,
                         filters=filters, facets=facet_names, facet_limit=facet_limit,
                         notices=tuple(notices))
