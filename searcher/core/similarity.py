"""Similar articles: how many distinctive terms make the query, and when two articles are
near-duplicates (character 4-gram sets), for both back ends."""

from __future__ import annotations

from ..deadline import check_time_limit
from .rules import FIELD_BREAK

#: Distinctive terms used as the query.
MAX_TERMS = 25
#: Jaccard similarity of character 4-gram sets from which a document is a near-duplicate.
NEAR_DUPLICATE = 0.8
SHINGLE = 4
#: 4-grams taken between checks of the time limit (a long article has millions).
SHINGLE_STEP = 1 << 18
#: Best-scored candidates checked for near-duplication (beyond the page asked for).
CANDIDATES = 50


def shingles(squeezed: str) -> set[str]:
    """Character 4-grams of the body part of a squeezed text (the whole text if no body)."""
    body = squeezed.split(FIELD_BREAK, 1)[-1] or squeezed
    if len(body) <= SHINGLE:
        return {body} if body else set()
    found: set[str] = set()
    count = len(body) - SHINGLE + 1
    for first in range(0, count, SHINGLE_STEP):  # a caller's time_limit between steps
        check_time_limit()
        found.update(body[i : i + SHINGLE] for i in range(first, min(first + SHINGLE_STEP,
                                                                     count)))
    return found


def jaccard(a: set[str], b: set[str]) -> float:
    """Shared share of two shingle sets (0 when either is empty)."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)
