"""An optional time limit on searches, checked between steps of the search.

``with time_limit(0.5): engine.search(...)`` makes the search raise
:class:`~searcher.errors.TimeLimitExceeded` at the first check after half a second, instead of
running to its end.  The checks sit between the steps of the ranking (each node of the query,
and each segment whose postings or string occurrences are read on a cache miss; see
:mod:`searcher.local.evaluator`), of the facets (each facet, and each segment whose column
is read on a cache miss; :mod:`searcher.local.facets`) and of the page of hits (each hit,
and the steps of its snippet and highlights, :mod:`searcher.highlight`; ``similar``'s
near-duplicate test), so a search stops at most one step past its limit.  A step that
cannot stop midway and may be long (folding a 20 MB article, walking a common character's
occurrences) is not started when its estimated cost would pass the limit.  A search
stopped this way leaves nothing behind: the caches only ever hold whole entries.

Why a context rather than an argument: the web server (:mod:`searcher.web.budget`) runs a
search on its event loop thread and needs it to give the loop back after a short while; the
limit follows the call (a :mod:`contextvars` variable: per thread and per asyncio task)
without every layer between the caller and the ranking loop passing it on.  Without a
limit nothing is checked.  The OpenSearch back end gives each search request what is
left as its timeout (the cluster's and the client's), and a request that runs out raises
TimeLimitExceeded too.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar

from .errors import TimeLimitExceeded

#: (monotonic time at which the limit passes, the limit in seconds) or None: no limit.
_LIMIT: ContextVar[tuple[float, float] | None] = ContextVar("searcher_time_limit",
                                                             default=None)


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Searches in this block raise TimeLimitExceeded once *seconds* have passed (checked
    between steps of the ranking).  Nested limits never extend an outer one."""
    ends = time.monotonic() + seconds
    outer = _LIMIT.get()
    if outer is not None and outer[0] < ends:
        ends, seconds = outer
    token = _LIMIT.set((ends, seconds))
    try:
        yield
    finally:
        _LIMIT.reset(token)


def check_time_limit(cost: float = 0.0) -> None:
    """Raise TimeLimitExceeded when the current time limit has passed (no limit: nothing).

    *cost* is the estimated seconds of a step about to start that cannot stop midway (one
    C call over a whole long article): the limit counts as passed when the step would end
    after it, so that such a step never holds the caller (the web server's event loop) far
    past its limit; the caller may then run it again under a longer one."""
    limit = _LIMIT.get()
    if limit is not None and time.monotonic() + cost > limit[0]:
        raise TimeLimitExceeded(limit[1])


def time_left() -> tuple[float, float] | None:
    """``(seconds left, the limit's seconds)`` of the current time limit (left is negative
    once it has passed), or None: no limit.  For a step that waits rather than computes (a
    request to a cluster), which is given what is left as its own timeout."""
    limit = _LIMIT.get()
    return None if limit is None else (limit[0] - time.monotonic(), limit[1])
