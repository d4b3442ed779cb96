"""What a search returns: plain, typed, JSON-ready data."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Hit:
    """One ranked document.  ``snippet`` is plain text; ``highlights`` are its
    ``[start, end)`` character spans that matched the query."""

    id: str
    path: str
    title: str
    author: str
    categories: list[str]
    tags: list[str]
    date: dt.datetime | None
    score: float
    snippet: str
    highlights: list[tuple[int, int]] = field(default_factory=list)
    title_highlights: list[tuple[int, int]] = field(default_factory=list)
    rank: int = 0
    #: ``SearchEngine.similar``: the same story as the article asked about (another copy).
    near_duplicate: bool = False
    #: How many of the query's words (``query_words``: its distinct jieba words and quoted
    #: phrases, stop words left out) this document holds, so a page can show "matched 3 of
    #: 5 words"; None where the back end does not count them.
    matched: int | None = None
    query_words: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "id": self.id,
            "path": self.path,
            "title": self.title,
            "author": self.author,
            "categories": self.categories,
            "tags": self.tags,
            "date": self.date.isoformat() if self.date else None,
            "score": round(self.score, 6),
            "snippet": self.snippet,
            "highlights": [list(span) for span in self.highlights],
            "title_highlights": [list(span) for span in self.title_highlights],
            "near_duplicate": self.near_duplicate,
            "matched": self.matched,
            "query_words": self.query_words,
        }


@dataclass(frozen=True)
class Notice:
    """How a query was read where it was not quite as typed, for the user to see.

    ``code`` is stable (a page shows its own wording for it, in its own language, from
    ``params``); ``message`` says it in English.  Codes: ``unclosed_quote`` (params
    ``mark``, ``closing``, ``position``: the words after the mark were searched as
    words), ``unclosed_paren`` (read as closed at the end), ``unmatched_paren`` (a
    ``)`` that closes nothing, left out), ``dangling_operator`` (``OR``/``NOT``/``-``
    without its word, left out), ``empty_field`` (``title:`` with no value, left out);
    ``params`` of the last four: ``text``, ``position`` (1-based character).
    """

    code: str
    message: str
    params: dict[str, Any] = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "params": dict(self.params)}


@dataclass
class SearchResults:
    """A page of hits.  ``relaxed`` is True when no document had every word and
    the hits are the best partial matches instead."""

    query: str
    total: int
    page: int
    limit: int
    hits: list[Hit]
    relaxed: bool = False
    #: Latin words of the query read as pinyin → the indexed words they matched, most
    #: common first (``{"liaocheng": ["聊城", "疗程"]}``), so a page can say how it read them.
    pinyin: dict[str, list[str]] = field(default_factory=dict)
    sort: str = "relevance"
    elapsed: float = 0.0
    #: Requested facet → ``(value, count)`` pairs over *all* matches, by count then value.
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    #: How the query was read where it was not as typed (an unclosed quote …), in order.
    notices: list[Notice] = field(default_factory=list)
    #: The query with a homophone typo corrected (``聊成`` → ``聊城``), when one is likely;
    #: the hits are those of ``query`` as typed.
    did_you_mean: str | None = None

    @property
    def notice(self) -> str | None:
        """The notices' English messages as one line (None when the query was read as typed)."""
        return "; ".join(n.message for n in self.notices) or None

    @property
    def pages(self) -> int:
        return (self.total + self.limit - 1) // self.limit if self.limit else 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "total": self.total,
            "page": self.page,
            "pages": self.pages,
            "limit": self.limit,
            "sort": self.sort,
            "relaxed": self.relaxed,
            "pinyin": {spelling: list(words) for spelling, words in self.pinyin.items()},
            "elapsed_ms": round(self.elapsed * 1000, 2),
            "hits": [h.as_dict() for h in self.hits],
            "facets": {name: [[value, count] for value, count in pairs]
                       for name, pairs in self.facets.items()},
            "notice": self.notice,
            "notices": [n.as_dict() for n in self.notices],
            "did_you_mean": self.did_you_mean,
        }


@dataclass
class DocumentView:
    """Everything stored about one document (``searcher show``)."""

    id: str
    path: str
    relpath: str
    title: str
    author: str
    categories: list[str]
    tags: list[str]
    date: dt.datetime | None
    updated: str | None
    images: dict[str, str]
    extra: dict[str, Any]
    warnings: list[str]
    text: str

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["date"] = self.date.isoformat() if self.date else None
        return data


@dataclass(frozen=True)
class Suggestion:
    """One completion (``SearchEngine.suggest``): ``text`` to put in the search box,
    ``count`` documents holding it, ``kind`` ``"word"`` (an indexed word) or ``"title"``."""

    text: str
    count: int
    kind: str

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "count": self.count, "kind": self.kind}
