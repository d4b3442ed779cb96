"""Articles similar to one article: its most distinctive terms as a weighted OR query.

The document's title and (the start of its) body are segmented like a query
(the frozen query dictionary, no jieba load); each term gets a tf-idf weight
(title occurrences count like the title boost), the strongest ``MAX_TERMS``
terms found in other documents are kept, and every document is scored by the
same vectorised BM25 as a search (:class:`searcher.local.evaluator.Evaluator`),
each term's scores multiplied by its weight.  The article itself never
appears.

Near-duplicates — the same story republished under another path, perhaps with
another title or a different footer — are marked and ranked first: among the
best-scored candidates, a document whose body shares at least
``NEAR_DUPLICATE`` of its character 4-grams with the article's (Jaccard
similarity of the two sets) is a near-duplicate.  An identical copy scores 1.
"""

from __future__ import annotations

import math
import re
import time
from typing import TYPE_CHECKING

import numpy as np

from ..analysis.normalize import squeeze
from ..analysis.tokens import STOP_WORDS, query_terms
from ..core import rules
from ..core.rules import TEXT_FIELDS
from ..core.similarity import CANDIDATES, MAX_TERMS, NEAR_DUPLICATE, jaccard, shingles
from ..deadline import check_time_limit
from ..results import SearchResults
from .evaluator import Evaluator, QueryContext
from .matches import Match, top_order
from .search import build_hits
from .substrings import squeezed_texts

if TYPE_CHECKING:
    from .whoosh_types import Searcher

#: Body characters segmented for the terms (the start of an article says what it is about).
MAX_CHARS = 6000

_WORDLIKE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\W\d_]")


def distinctive_terms(searcher: Searcher, title: str, body: str,
                      context: QueryContext) -> dict[str, float]:
    """Term → weight (1 for the strongest) of the document's ``MAX_TERMS`` best tf-idf terms
    that other documents hold too."""
    counts: dict[str, float] = {}
    for term in query_terms(title, context.cut):
        counts[term] = counts.get(term, 0) + rules.TITLE_WEIGHT
    for term in query_terms(body[:MAX_CHARS], context.cut):
        counts[term] = counts.get(term, 0) + 1
    total = max(searcher.doc_count(), 1)
    scored: list[tuple[float, str]] = []
    for term, tf in counts.items():
        if term in STOP_WORDS or not _WORDLIKE.search(term) or (
                len(term) < 2 and not term.isascii()):
            continue
        df = max(searcher.doc_frequency(name, term) for name in TEXT_FIELDS)
        if df < 2:  # only this document holds it: says nothing about the others
            continue
        scored.append(((1 + math.log(tf)) * math.log(1 + total / df), term))
    scored.sort(key=lambda item: (-item[0], item[1]))
    best = scored[:MAX_TERMS]
    top = best[0][0] if best else 1.0
    return {term: weight / top for weight, term in best}


def similar(searcher: Searcher, docnum: int, doc_id: str, context: QueryContext, *, limit: int,
            page: int = 1, snippet_width: int = 120) -> SearchResults:
    """Documents related to document *docnum* (global number), best first, as a results page."""
    started = time.perf_counter()
    reader = searcher.reader()
    stored = searcher.stored_fields(docnum)
    body = bytes(reader.column_reader("text")[docnum] or b"").decode("utf-8", "surrogatepass")
    weights = distinctive_terms(searcher, stored.get("title", ""), body, context)

    evaluator = Evaluator(searcher, context)
    space = evaluator.space
    match = Match.empty(space.n)
    for term, weight in weights.items():
        match = match.union(evaluator.any_field(term, TEXT_FIELDS, space), weight)
    mask = match.mask.copy()
    mask[space.deleted()] = False
    score = match.score
    if docnum < len(mask):
        mask[docnum] = False
    candidates = np.flatnonzero(mask)
    offset = (page - 1) * limit
    # Only the head is ranked: the near-duplicate check and the page never go past it.
    head = candidates[top_order(-score[candidates], max(CANDIDATES, offset + limit))].tolist()
    source = shingles(squeezed_texts(reader, [docnum])[0])
    similarity = {}
    for d in head:
        check_time_limit()
        similarity[d] = jaccard(source, shingles(squeezed_texts(reader, [d])[0]))
    near = sorted((d for d in head if similarity[d] >= NEAR_DUPLICATE),
                  key=lambda d: (-similarity[d], -score[d], d))
    near_set = set(near)
    order = near + [d for d in head if d not in near_set]
    chosen = order[offset : offset + limit]

    needles = sorted({squeeze(term) for term in weights} - {""})
    hits = build_hits(searcher, chosen, [float(score[d]) for d in chosen], needles, offset + 1,
                      snippet_width)
    for hit, d in zip(hits, chosen, strict=True):
        hit.near_duplicate = d in near_set
    return SearchResults(query=doc_id, total=int(len(candidates)), page=page, limit=limit,
                         hits=hits, elapsed=time.perf_counter() - started)
