"""Run a parsed query: rank with :mod:`searcher.local.ranking`, then build hits and snippets.

How each node matches (details and weights in :mod:`searcher.core.rules`, executed by
:mod:`searcher.local.evaluator`):

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

import time

from ..core.hits import make_hit, stored_date
from ..core.plan import run_search
from ..core.request import Filters
from ..deadline import check_time_limit
from ..query import Node
from ..results import Hit, SearchResults
from .evaluator import Evaluator, QueryContext
from .facets import count_facets
from .matches import distinct_union
from .ranking import Ranked, rank

__all__ = ["HomophoneLookup", "QueryContext", "build_hits", "execute"]


def execute(searcher, node: Node, raw: str, context: QueryContext, *, limit: int, page: int,
            filters: Filters, sort: str, snippet_width: int = 120,
            facets: tuple[str, ...] = (), facet_limit: int = 10) -> SearchResults:
    """Run *node* against a Whoosh searcher and build the results page (with the counts of
    *facets* over all matches, see :mod:`searcher.local.facets`)."""
    started = time.perf_counter()
    offset = (page - 1) * limit

    def rank_step(relaxed: bool, question: bool) -> Ranked:
        return rank(searcher, node, context, filters, relaxed=relaxed, sort=sort,
                    offset=offset, limit=limit)[0]

    planned = run_search(node, raw, context.cut, rank_step)
    ranked, relaxed = planned.ranking, planned.relaxed
    counts = count_facets(searcher, ranked.mask, facets, facet_limit, filters.timezone,
                          context.caches, ranked.hits) \
        if facets and ranked.mask is not None else {}
    hits = build_hits(searcher, ranked.docnums, ranked.scores, planned.needles, offset + 1,
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
        return {unit: (ev.documents_holding(ev.space, unit),
                       bool(ev.df("title", unit) or ev.df("body", unit))) for unit in units}

    def homophones(self, spellings: list[str]) -> dict[str, int]:
        ev = self.evaluator
        out = {}
        for word in self.table.spelled(spellings):
            title = ev.postings(ev.space, "title", word)[0]
            body = ev.postings(ev.space, "body", word)[0]
            out[word] = len(distinct_union(title, body)) if len(title) else len(body)
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
        assert text_column is not None  # read above whenever there are documents
        body = bytes(text_column[docnum] or b"").decode("utf-8", "surrogatepass")
        meta = stored.get("meta") or {}
        hits.append(make_hit(
            {**stored, "categories": meta.get("categories"), "tags": meta.get("tags")},
            text=body, date=stored_date(meta.get("date"), stored.get("date")), score=score,
            needles=needles, rank=first_rank + i, snippet_width=snippet_width,
            matched=matched[i] if matched else None,
            query_words=query_words if matched else None))
    return hits


def _text_column(searcher):
    """The display-text column reader, kept on the searcher (it reads an offset table)."""
    column = getattr(searcher, "_searcher_text_column", None)
    if column is None:
        column = searcher.reader().column_reader("text")
        searcher._searcher_text_column = column
    return column
