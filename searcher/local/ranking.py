"""One page of results: evaluate the query, apply the filters, pick the page in order."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..analysis.normalize import fold_keyword
from ..analysis.tokens import QUESTION_WORDS
from ..core.request import Filters
from ..deadline import check_time_limit
from ..query import Node
from .evaluator import Evaluator, QueryContext
from .facets import period_mask
from .matches import any_of, top_order
from .segments import NO_DATE, Space
from .whoosh_adapter import datetime_to_long


def filter_mask(filters: Filters, evaluator: Evaluator, space: Space) -> np.ndarray | None:
    """The documents *filters* allow (None: all of them)."""
    result: np.ndarray | None = None
    for name, value in (("author_key", filters.author), ("category", filters.category),
                        ("tag", filters.tag)):
        values = [value] if isinstance(value, str) else list(value or ())
        if any(values):
            m = any_of([evaluator.term(space, name, fold_keyword(v))
                        for v in values if v], space.n).mask
            result = m if result is None else result & m
    if filters.years or filters.months:
        m = space.per_segment(lambda reader: period_mask(
            reader, filters.timezone, filters.years, filters.months, evaluator.caches))
        result = m if result is None else result & m
    if filters.since is not None or filters.until is not None:
        dates = space.dates()
        m = dates != NO_DATE
        if filters.since is not None:
            m &= dates >= np.uint64(datetime_to_long(filters.since))
        if filters.until is not None:
            m &= dates <= np.uint64(datetime_to_long(filters.until))
        result = m if result is None else result & m
    return result



@dataclass
class Ranked:
    """Global document numbers of one page, their scores, and the total."""

    docnums: list[int]
    scores: list[float]
    total: int
    #: Every matching document (global numbers), e.g. for facet counts.
    mask: np.ndarray | None = None
    #: How many of the query's words each page document holds, and how many it has.
    matched: list[int] = field(default_factory=list)
    query_words: int = 0
    #: Some match lacks one of the query's words (question words aside).
    partial: bool = False
    #: The documents of ``mask``, ascending (ranking lists them anyway; facets use them).
    hits: np.ndarray | None = None
    #: Latin query words read as pinyin → the indexed words they matched (Evaluator.readings).
    readings: dict[str, list[str]] = field(default_factory=dict)
    #: Every term the query looked for (the highlight needles).
    terms: set[str] = field(default_factory=set)


def rank(searcher, node: Node, context: QueryContext, filters: Filters, *, relaxed: bool,
         sort: str, offset: int, limit: int) -> tuple[Ranked, set[str]]:
    """Evaluate *node* over the whole index (:class:`Space`) and return one page of results."""
    evaluator = Evaluator(searcher, context, relaxed)
    space = evaluator.space
    match = evaluator.evaluate(node, space)
    words = set(evaluator.units)
    mask = match.mask.copy()
    mask[space.deleted()] = False
    allowed = filter_mask(filters, evaluator, space)
    if allowed is not None:
        mask &= allowed
    check_time_limit()
    hits = np.flatnonzero(mask)
    total = int(len(hits))
    partial = False
    if relaxed:
        content = [name for name in evaluator.units if name not in QUESTION_WORDS]
        partial = bool((evaluator.matched_counts(hits, content=True) < len(content)).any())
    if sort == "relevance":
        # Scores of the matches only (the page needs nothing else): the same sums.
        score = match.score[hits] + evaluator.title_bonus(node, space, hits)
        chosen = top_order(-score, offset + limit)[offset:]
        page, page_score = hits[chosen], score[chosen]
    else:
        when = space.dates()[hits].astype(np.float64)
        undated = when == float(NO_DATE)
        keys = -when if sort == "date" else when
        keys = np.where(undated, np.inf, keys)  # undated documents last either way
        page = hits[top_order(keys, offset + limit)[offset:]]
        page_score = match.score[page] + evaluator.title_bonus(node, space, page)
    matched = evaluator.matched_counts(page)
    return Ranked([int(d) for d in page], [float(s) for s in page_score], total, mask,
                  [int(c) for c in matched], len(words), partial, hits,
                  evaluator.readings, evaluator.terms), evaluator.terms

