"""Building results from what a back end stores: one hit, one document view, one date.

Both back ends keep the same fields per document (id, path, title, author, categories,
tags, the display text, the date as written and as a UTC instant); the local index reads
them from Whoosh's stored fields and columns, the cluster from ``_source``.  These turn
them into :class:`~searcher.results.Hit` and :class:`~searcher.results.DocumentView` the
same way, with the snippet and highlights of the query's needles.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from ..highlight import DEFAULT_WIDTH, highlight_all, make_snippet
from ..results import DocumentView, Hit


def stored_date(*values: str | dt.datetime | None) -> dt.datetime | None:
    """The first usable of *values*: an ISO 8601 string (the date as written, with its
    offset; a trailing ``Z`` is UTC) or a naive UTC datetime (the stored instant); None
    when none is."""
    for value in values:
        if isinstance(value, dt.datetime):
            return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        if value:
            try:
                return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
    return None


def make_hit(fields: Mapping[str, Any], *, text: str, date: dt.datetime | None, score: float,
             needles: Sequence[str], rank: int, snippet_width: int = DEFAULT_WIDTH,
             matched: int | None = None, query_words: int | None = None) -> Hit:
    """One result from a document's stored *fields* (id, path, title, author, categories,
    tags) and display *text*: its snippet and the highlight spans of *needles*."""
    snippet = make_snippet(text, needles, snippet_width)
    title = fields.get("title", "")
    return Hit(
        id=fields["id"], path=fields.get("path", ""), title=title,
        author=fields.get("author", ""), categories=list(fields.get("categories") or []),
        tags=list(fields.get("tags") or []), date=date, score=score, snippet=snippet.text,
        highlights=snippet.highlights, title_highlights=highlight_all(title, needles),
        rank=rank, matched=matched, query_words=query_words)


def document_view(fields: Mapping[str, Any], meta: Mapping[str, Any], *, text: str,
                  date: dt.datetime | None) -> DocumentView:
    """Everything stored for one document: *fields* (id, path, relpath, title, author,
    categories, tags) and the front matter kept in *meta* (updated, images, extra,
    warnings)."""
    return DocumentView(
        id=fields["id"], path=fields.get("path", ""), relpath=fields.get("relpath", ""),
        title=fields.get("title", ""), author=fields.get("author", ""),
        categories=list(fields.get("categories") or []), tags=list(fields.get("tags") or []),
        date=date, updated=meta.get("updated"), images=dict(meta.get("images") or {}),
        extra=dict(meta.get("extra") or {}), warnings=list(meta.get("warnings") or []),
        text=text)
