"""Run a parsed query: rank with :mod:`searcher.local.scoring`, then build hits and snippets.

How each node matches (details and weights in :mod:`searcher.local.scoring`):

* a word: its jieba terms must all appear in title or body (BM25, title
  boosted); documents containing the word verbatim also match, even across
  jieba word boundaries; synonyms and, for Latin words, pinyin readings are
  alternatives; quantities such as ``30%`` or ``4万`` need the exact string;
* a quoted phrase: exact substring of the folded, whitespace-free title or
  body (:mod:`searcher.local.substrings`);
* ``field:value``: title/body only, or the exact folded author, category or tag.

When no document has every word, the query is relaxed to "any word" and the
results say so.  Questions (``…是什么``, ``如何…``, ``…吗``, a question mark) are ranked
that way from the start, documents holding more of the words first.
"""

from __future__ import annotations

import datetime as dt
import re
import time

import numpy as np

from ..analysis.tokens import QUESTION_WORDS, query_terms
from ..deadline import check_time_limit
from ..errors import QueryError
from ..highlight import highlight_all, make_snippet, needles_for
from ..ingest.dates import parse_date, to_utc
from ..query import And, Node, Not, Word, positive_literals
from ..results import Hit, SearchResults
from .facets import count_facets
from .scoring import Evaluator, Filters, QueryContext, rank

SORTS = ("relevance", "date", "oldest")

__all__ = ["SORTS", "Filters", "HomophoneLookup", "QueryContext", "build_hits", "date_bound",
           "execute"]


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


def execute(searcher, node: Node, raw: str, context: QueryContext, *, limit: int, page: int,
            filters: Filters, sort: str, snippet_width: int = 120,
            facets: tuple[str, ...] = (), facet_limit: int = 10) -> SearchResults:
    """Run *node* against a Whoosh searcher and build the results page (with the counts of
    *facets* over all matches, see :mod:`searcher.local.facets`)."""
    started = time.perf_counter()
    offset = (page - 1) * limit
    if is_question(node, raw, context.cut) and _can_relax(node, context.cut):
        # A question: the answer seldom holds every word, so rank "any word" at once
        # (documents holding more of the words first); relaxed says if some hit lacks one.
        ranked, terms = rank(searcher, node, context, filters, relaxed=True, sort=sort,
                             offset=offset, limit=limit)
        relaxed = ranked.partial
    else:
        ranked, terms = rank(searcher, node, context, filters, relaxed=False, sort=sort,
                             offset=offset, limit=limit)
        relaxed = False
        if ranked.total == 0 and _can_relax(node, context.cut):
            ranked, terms = rank(searcher, node, context, filters, relaxed=True, sort=sort,
                                 offset=offset, limit=limit)
            relaxed = ranked.total > 0
    counts = count_facets(searcher, ranked.mask, facets, facet_limit, filters.timezone,
                          context.caches, ranked.hits) \
        if facets and ranked.mask is not None else {}
    needles = needles_for(positive_literals(node), terms)
    hits = build_hits(searcher, ranked.docnums, ranked.scores, needles, offset + 1,
                      snippet_width, ranked.matched, ranked.query_words)
    return SearchResults(query=raw, total=ranked.total, page=page, limit=limit, hits=hits,
                         relaxed=relaxed, sort=sort, elapsed=time.perf_counter() - started,
                         facets=counts, pinyin=ranked.readings)


class HomophoneLookup:
    """The local index's answers for :func:`searcher.spelling.did_you_mean`: verbatim
    document counts from the substring index (the search just looked the same strings
    up, so they are warm), indexed words from the postings, homophones from the pinyin
    table."""

    def __init__(self, searcher, context: QueryContext, table) -> None:
        self.evaluator = Evaluator(searcher, context)
        self.table = table

    def counts(self, units: list[str]) -> dict[str, tuple[int, bool]]:
        ev = self.evaluator
        return {unit: (len(ev.found(ev.space, unit, False)),
                       bool(ev.df("title", unit) or ev.df("body", unit))) for unit in units}

    def homophones(self, spellings: list[str]) -> dict[str, int]:
        ev = self.evaluator
        out = {}
        for word in self.table.spelled(spellings):
            title = ev.postings(ev.space, "title", word)[0]
            body = ev.postings(ev.space, "body", word)[0]
            out[word] = len(np.union1d(title, body)) if len(title) else len(body)
        return out


def build_hits(searcher, docnums: list[int], scores: list[float], needles: list[str],
               first_rank: int, snippet_width: int = 120, matched: list[int] | None = None,
               query_words: int | None = None) -> list[Hit]:
    """Hits with snippets and highlight spans of *needles* for ranked document numbers
    (and, when given, how many of the query's *query_words* words each one holds)."""
    text_column = _text_column(searcher) if docnums else None
    hits = []
    for i, (docnum, score) in enumerate(zip(docnums, scores, strict=True)):
        check_time_limit()  # a caller's time_limit: a hit's snippet may be a long article's
        stored = searcher.stored_fields(docnum)
        body = bytes(text_column[docnum] or b"").decode("utf-8", "surrogatepass")
        snippet = make_snippet(body, needles, snippet_width)
        meta = stored.get("meta") or {}
        hits.append(Hit(
            id=stored["id"],
            path=stored.get("path", ""),
            title=stored.get("title", ""),
            author=stored.get("author", ""),
            categories=list(meta.get("categories") or []),
            tags=list(meta.get("tags") or []),
            date=_hit_date(meta.get("date"), stored.get("date")),
            score=score,
            snippet=snippet.text,
            highlights=snippet.highlights,
            title_highlights=highlight_all(stored.get("title", ""), needles),
            rank=first_rank + i,
            matched=matched[i] if matched else None,
            query_words=query_words if matched else None,
        ))
    return hits


def _text_column(searcher):
    """The display-text column reader, kept on the searcher (it reads an offset table)."""
    column = getattr(searcher, "_searcher_text_column", None)
    if column is None:
        column = searcher.reader().column_reader("text")
        searcher._searcher_text_column = column
    return column


def is_question(node: Node, raw: str, cut=None) -> bool:
    """Whether the query is typed as a question: a question mark, or a plain word holding
    a question word (什么, 如何, 是否, 吗 …: ``QUESTION_WORDS``) among other words."""
    if "?" in raw or "？" in raw:
        return True
    words = [node] if isinstance(node, Word) else (
        [i for i in node.items if isinstance(i, Word)] if isinstance(node, And) else [])
    return any(w.field is None and any(t in QUESTION_WORDS for t in query_terms(w.text, cut))
               for w in words)


def _can_relax(node: Node, cut=None) -> bool:
    if isinstance(node, Word):
        return node.field is None and len(query_terms(node.text, cut)) > 1
    if isinstance(node, And):
        return sum(1 for i in node.items if not isinstance(i, Not)) > 1 or any(
            _can_relax(i, cut) for i in node.items)
    return False


def _hit_date(iso: str | None, stored: dt.datetime | None) -> dt.datetime | None:
    if iso:
        try:
            return dt.datetime.fromisoformat(iso)
        except ValueError:
            pass
    if stored is not None:
        return stored.replace(tzinfo=dt.timezone.utc)
    return None
