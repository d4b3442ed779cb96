"""A supported look inside a local index, for tests and benchmarks.

Applications use :class:`searcher.SearchEngine`; a test that checks how a result came to be
(which segments the index holds, what the caches keep, how a query is cut) needs to see
the local back end's parts.  :func:`internals` is the one place that reaches them, so the
back end can change its private layout without touching every test.  Nothing here is for
applications: what it returns may change with the back end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from .backend import LocalBackend

if TYPE_CHECKING:
    from .caching import SearchCaches
    from .search import QueryContext
    from .storage import Generation, IndexDir
    from .whoosh_types import Index, Searcher


class Internals:
    """The parts of one engine's local back end (see the module docstring)."""

    def __init__(self, backend: LocalBackend) -> None:
        self.backend = backend

    @property
    def root(self) -> IndexDir:
        """The index folder and its generations (``root.current()``: the one searched)."""
        return self.backend.root

    @property
    def caches(self) -> SearchCaches:
        """The engine's search caches (postings, facet columns, char index, suggestions)."""
        return self.backend._caches

    def searcher(self) -> Searcher:
        """The calling thread's Whoosh searcher of the current generation (the engine's
        own: reopened when the index changes, closed by the engine)."""
        return self.backend._searcher()

    def query_context(self) -> QueryContext:
        """What searches of the current generation share: synonyms, pinyin, the cut."""
        return self.backend._query_context()

    def index(self) -> tuple[object, Generation, Index]:
        """``(marker, generation, Whoosh index)`` of the current generation."""
        return self.backend._index()


class _Engine(Protocol):
    """A :class:`searcher.SearchEngine` (named by shape: the engine is a layer above)."""

    @property
    def backend(self) -> object: ...


def internals(engine: _Engine) -> Internals:
    """The local back end of *engine*, opened for inspection; AttributeError for an engine
    whose index is on a cluster."""
    backend = engine.backend
    if not isinstance(backend, LocalBackend):
        raise AttributeError("this engine's index is on a cluster, not in a folder")
    return Internals(backend)
