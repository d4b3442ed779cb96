"""What a search may ask for, checked the same way whichever back end answers.

The filters of a request (:class:`Filters`), the sort orders, the date bounds of
``since``/``until``, and the facet names and year/month filters.  :mod:`searcher.arguments`
checks a caller's arguments with these; each back end turns a :class:`Filters` into its own
form (a mask over the local index's documents, filter clauses on the cluster).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import QueryError
from ..ingest.dates import parse_date, to_utc
from ..query import Node
from ..results import Notice

SORTS = ("relevance", "date", "oldest")

#: Facet name → the keyword field holding its whole folded values (None: from the date).
FACETS: dict[str, str | None] = {
    "author": "author_key", "category": "category", "tag": "tag", "year": None, "month": None,
}
MAX_FACET_LIMIT = 10_000
_MONTH = re.compile(r"\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?\s*")


@dataclass
class Filters:
    """Exact author / category / tag (one value or several: any of them), a date range
    (naive UTC datetimes), years and month numbers (``y * 12 + m - 1``) in *timezone*."""

    author: str | tuple[str, ...] | None = None
    category: str | tuple[str, ...] | None = None
    tag: str | tuple[str, ...] | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    years: tuple[int, ...] = ()
    months: tuple[int, ...] = ()
    timezone: str = "UTC"


@dataclass(frozen=True)
class SearchRequest:
    """One checked search: what a back end's ``execute`` runs."""

    query: str
    node: Node
    limit: int
    page: int
    sort: str
    filters: Filters
    facets: tuple[str, ...] = ()
    facet_limit: int = 10
    #: How the query was read where it was not as typed (``SearchResults.notices``).
    notices: tuple[Notice, ...] = ()

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


def is_text(value: str) -> bool:
    """True when *value* is encodable text (no lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def date_range(since: object, until: object, tz: str
               ) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The naive-UTC bounds of a *since*/*until* filter, or QueryError (both back ends)."""
    try:
        return date_bound(since, tz, end=False), date_bound(until, tz, end=True)
    except (ValueError, TypeError, OverflowError, OSError) as exc:
        raise QueryError(f"bad date filter: {exc}") from None


def date_bound(value: object, tz: str, end: bool) -> dt.datetime | None:
    """A naive-UTC bound for the date filter; a bare date as *until* means the whole day."""
    if value is None or value == "":
        return None
    whole_day = isinstance(value, dt.date) and not isinstance(value, dt.datetime)
    if isinstance(value, str) and re.fullmatch(r"\s*\d{4}-\d{1,2}-\d{1,2}\s*", value):
        whole_day = True
    parsed = parse_date(value, tz)
    if end and whole_day:
        parsed = parsed + dt.timedelta(days=1) - dt.timedelta(microseconds=1)
    return to_utc(parsed).replace(tzinfo=None)


def check_facets(names: str | Iterable[str] | None) -> tuple[str, ...]:
    """The requested facet names, validated (a comma-separated string is accepted too)."""
    if names is None:
        return ()
    if isinstance(names, str):
        names = names.split(",")
    out: list[str] = []
    for raw in names:
        if not isinstance(raw, str):
            raise QueryError(f"facet names must be strings, not {raw!r}")
        name = raw.strip().lower()
        if not name:
            continue
        if name not in FACETS:
            raise UnknownFacetError(raw, tuple(FACETS))
        if name not in out:
            out.append(name)
    return tuple(out)


class UnknownFacetError(QueryError):
    """A facet name that does not exist; ``name`` and ``accepted`` say which and what does."""

    def __init__(self, name: str, accepted: tuple[str, ...]) -> None:
        super().__init__(f"unknown facet {name!r}: use one or more of {', '.join(accepted)}")
        self.name = name
        self.accepted = accepted


def as_values(value: str | Iterable[str] | None, what: str) -> tuple[str, ...]:
    """A filter value given as one string or several (OR), as a tuple without blanks."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else list(value)
    for item in items:
        if not isinstance(item, str):
            raise QueryError(f"{what} filter values must be strings, not {item!r}")
    return tuple(item for item in items if item.strip())


def month_numbers(year: int | str | Iterable[int | str] | None,
                  month: str | Iterable[str] | None) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(years, month numbers ``y * 12 + m - 1``) of the ``year``/``month`` filters.

    Years are ``2021`` or ``"2021"``; months ``"2021-06"`` (also ``2021/6``, ``2021年6月``).
    """
    years: list[int] = []
    for item in _items(year):
        text = str(item).strip()
        if isinstance(item, bool) or not re.fullmatch(r"\d{1,4}", text) or int(text) < 1:
            raise QueryError(f"bad year filter {item!r}: use a year such as 2021")
        years.append(int(text))
    months: list[int] = []
    for item in _items(month):
        match = _MONTH.fullmatch(str(item)) if isinstance(item, str) else None
        if match is None or not 1 <= int(match.group(2)) <= 12:
            raise QueryError(f"bad month filter {item!r}: use YYYY-MM, e.g. 2021-06")
        months.append(int(match.group(1)) * 12 + int(match.group(2)) - 1)
    return tuple(years), tuple(months)


def _items(value):
    if value is None:
        return []
    if isinstance(value, (str, int)):
        return [value]
    return list(value)

