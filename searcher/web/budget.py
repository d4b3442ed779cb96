"""The time budget of every engine call, and the lane calls take turns in.

Every engine call has a time budget: a slow query answers 503 when its budget is spent while
other requests keep being served.  A search runs on the event loop thread itself under a
:func:`searcher.time_limit` of :data:`LANE_HOLD` (no thread hop, see ``State.search``); one
still running then, and every other engine call, runs in a thread pool, where calls take
turns in one lane rather than all running at once.
"""

import asyncio
import concurrent.futures
import functools
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates

from ..deadline import time_limit
from ..engine import SearchEngine
from ..errors import TimeLimitExceeded
from .errors import ApiError

log = logging.getLogger("searcher.web")


#: Seconds one engine call runs alone before the next one may start beside it.  Engine calls
#: are CPU-bound Python, so in one process several at once only take turns on the GIL, and
#: the turns cost: threads that wait for the GIL wake every 5 ms to force a switch (measured:
#: 1-2 ms more kernel time per search request with four at once than with one).  So calls
#: run one after another: a search on the event loop thread for up to this long (then it
#: stops and goes on in the pool), other calls queue for a lane in the pool, and one that
#: holds the lane longer than this (a slow query) lets the next start beside it, so a slow
#: query holds up the others for about this long at most.  Several processes
#: (``--workers``) are what use several cores.
LANE_HOLD = 0.25

HERE = resources.files("searcher.web")


@dataclass(frozen=True)
class WebOptions:
    """How the app behaves; ``searcher serve`` fills it from its options."""

    #: Seconds one engine call may take before the request answers 503.
    time_budget: float = 10.0
    #: Threads that run engine calls: normally one at a time (see LANE_HOLD); more only run
    #: beside slow ones, so this many slow queries at once hold up the rest.
    threads: int = 4
    #: Origins allowed to call the API from a browser (no CORS headers when empty).
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    #: Serving beyond this machine: no answer or page names a source path or folder
    #: (``searcher serve --public``); documents are linked by id only, as always.
    public: bool = False


class State:
    """What the routes need, kept on ``app.state.searcher``."""

    def __init__(self, engine: SearchEngine, options: WebOptions) -> None:
        self.engine = engine
        self.options = options
        self.pool = concurrent.futures.ThreadPoolExecutor(
            max(1, options.threads), thread_name_prefix="searcher-web")
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        #: Searches run on the event loop only where they stop at searcher.time_limit (see
        #: search); a back end that does not check it waits in the pool like other calls.
        self.on_loop = engine.checks_time_limit
        #: The start page's example queries, with the index state they were taken from.
        self.examples: tuple[Any, list[tuple[str, str]]] | None = None
        # One lane per event loop (an app may be served by several loops one after another,
        # as the test client does; an asyncio semaphore belongs to one loop).
        self._lanes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] \
            = weakref.WeakKeyDictionary()

    def _lane(self, loop: asyncio.AbstractEventLoop) -> asyncio.Semaphore:
        lane = self._lanes.get(loop)
        if lane is None:
            lane = self._lanes[loop] = asyncio.Semaphore(1)
        return lane

    async def search(self, *args: Any, **kwargs: Any) -> Any:
        """``engine.search(*args, **kwargs)`` on the event loop thread itself, in its turn
        in the lane, when it is done within LANE_HOLD (nearly every search), else in the
        pool like :meth:`run`.

        A search handed to a pool thread costs the worker more than the search itself: the
        thread wakes, takes the GIL from the loop and gives it back, the loop keeps a timer
        for the budget, and a loop that wants the GIL while a search runs waits for it
        (measured in one process, the app called directly: 0.3-2.7 ms of CPU a request,
        depending on the run; the waits cost time, not CPU).  On the loop it
        runs under :func:`searcher.time_limit`, which the engine checks between ranking steps: a
        search still ranking after LANE_HOLD stops there and starts over in the pool with
        what is left of the budget, so a slow query holds the loop (and every other request
        of this worker) up for about LANE_HOLD at most, as a pool call holding the lane
        does.

        An answer that comes after the budget (a step that does not check the limit ran
        past it) is a 503, as from the pool.  A back end whose searches do not check the
        limit (a cluster: a network call) searches in the pool, like :meth:`run`.

        The lane is handed on in the loop's next round, not at once: so the loop polls its
        sockets between two searches.  Handed on at once, every request read in one poll
        was searched before the next poll, and a new connection, which takes the loop a few
        rounds to set up, waited behind dozens of searches (measured with 16 clients: ~1 s
        for the first request of a connection, 0.14 s for the others)."""
        # The server's budget bounds every call (time_limit here and in _limited), so the
        # engine's own default limit (the search_timeout setting) must not cut it shorter.
        kwargs.setdefault("timeout", 0)
        loop = asyncio.get_running_loop()
        started = loop.time()
        if not self.on_loop:  # a cluster: network waits, and no checks of time_limit
            return await self._run(started, self.engine.search, args, kwargs)
        budget = self.options.time_budget
        lane = self._lane(loop)
        try:
            if lane.locked():
                await asyncio.wait_for(lane.acquire(), budget)
            else:
                await lane.acquire()  # free: no task, no timer
        except asyncio.TimeoutError:
            raise over_budget(self.engine.search, args, budget) from None
        try:
            left = budget - (loop.time() - started)
            if left <= 0:
                raise over_budget(self.engine.search, args, budget)
            with time_limit(min(LANE_HOLD, left)):
                results = self.engine.search(*args, **kwargs)
        except TimeLimitExceeded:
            results = None  # a slow one: on to the pool, with the rest of the budget
        finally:
            loop.call_soon(lane.release)
        if results is None:
            return await self._run(started, self.engine.search, args, kwargs)
        if loop.time() - started > budget:  # a step that does not check ran past it
            raise over_budget(self.engine.search, args, budget)
        return results

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` in the pool once it has the lane (or the call ahead of it
        has held the lane for LANE_HOLD), or ApiError 503 once the budget is spent: waiting
        for the lane counts, the budget is the answer's deadline.  The call runs under
        :func:`searcher.time_limit` for the budget, so a search stops soon after its 503
        instead of going on in its thread."""
        return await self._run(asyncio.get_running_loop().time(), fn, args, kwargs)

    async def _run(self, started: float, fn: Callable[..., Any], args: tuple,
                   kwargs: dict[str, Any]) -> Any:
        loop = asyncio.get_running_loop()
        budget = self.options.time_budget
        lane = self._lane(loop)
        future: asyncio.Future | None = None
        try:
            if loop.time() - started >= budget:  # spent already (on the loop): no pool call
                raise asyncio.TimeoutError
            if lane.locked():
                await asyncio.wait_for(lane.acquire(), budget - (loop.time() - started))
            else:
                await lane.acquire()  # free: no task, no timer
        except asyncio.TimeoutError:
            pass
        else:
            try:
                remaining = budget - (loop.time() - started)
                future = loop.run_in_executor(self.pool, functools.partial(
                    _limited, max(remaining, 0.0), fn, *args, **kwargs))
                await asyncio.wait((future,), timeout=min(LANE_HOLD, max(remaining, 0.0)))
            finally:
                lane.release()  # done, or slow: the next call may start
            if not future.done():
                # Not wait_for: it would raise the call's own TimeLimitExceeded when the thread's
                # limit passes just before the wait's (the same deadline, two clocks).
                await asyncio.wait((future,), timeout=max(budget - (loop.time() - started), 0))
                if not future.done():
                    future.cancel()  # its thread stops at the limit; nobody waits for it
                    future = None
            if future is not None and future.exception() is not None:
                if not isinstance(future.exception(), TimeLimitExceeded):
                    future.result()  # the call's own error is the answer, even a late one
                future = None
        # Also late when the work finished just as the budget ran out (a busy event loop
        # may notice the result before the timer): the budget is the answer's deadline.
        if future is None or loop.time() - started > budget:
            raise over_budget(fn, args, budget)
        return future.result()


def over_budget(fn: Callable[..., Any], args: tuple, budget: float) -> ApiError:
    """The 503 of a request over its time budget (logged)."""
    log.warning("%s %s exceeded the %.3g s time budget", getattr(fn, "__name__", fn),
                [a for a in args if isinstance(a, str)], budget)
    return ApiError(503, "time budget exceeded", "time_budget", {"seconds": f"{budget:g}"})


def _limited(seconds: float, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` in a pool thread, under a time limit (see searcher/deadline)."""
    with time_limit(seconds):
        return fn(*args, **kwargs)


def app_state(request: Request) -> State:
    return request.app.state.searcher
