"""The contract between :class:`searcher.SearchEngine` and its back ends.

Both back ends declare :class:`Backend` (``class LocalBackend(Backend)``, ``class
OpenSearchBackend(Backend)``), so a type checker holds each to every method; arguments
arrive checked (:mod:`searcher.arguments`) and results have the shared types of
:mod:`searcher.results` and :mod:`searcher.reports`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..config import Settings
    from ..reports import CheckReport, IndexReport, IndexStats, OptimizeReport
    from ..results import DocumentView, SearchResults, Suggestion
    from .request import SearchRequest

Sources = list[str | os.PathLike[str]]
#: ``(done, total)`` files of an indexing run.
ProgressCallback = Callable[[int, int], None]


class Backend(Protocol):
    """What SearchEngine needs of a back end."""

    settings: Settings
    #: Whether searches stop at :func:`searcher.time_limit` between their own steps (the web
    #: server runs them on its event loop only then; others wait in a thread, where the
    #: budget still bounds the answer).  Read it as ``SearchEngine.checks_time_limit``.
    checks_time_limit: bool

    def index(self, sources: Sources | None = None, *, full: bool = False,
              jobs: int | None = None, wait: float = 0.0,
              progress: ProgressCallback | None = None, batch_size: int | None = None,
              follow_links: bool | None = None,
              part: tuple[int, int] | None = None) -> IndexReport:
        """Bring the index up to date with *sources*; *part* ``(K, N)`` only the K-th of N
        shares of the documents (a back end that cannot share the work raises ConfigError)."""
        ...

    def search(self, request: SearchRequest) -> SearchResults:
        """One page of results (the flow is :func:`searcher.core.plan.run_search`)."""
        ...

    def get(self, doc_id: str) -> DocumentView:
        """A document by id or source path: DocumentNotFoundError, AmbiguousDocumentError."""
        ...

    def similar(self, doc_id: str, limit: int = 10, page: int = 1) -> SearchResults: ...

    def suggest(self, prefix: str, limit: int = 10) -> list[Suggestion]: ...

    def query_cut(self) -> Callable[[str], list[str]] | None:
        """The query segmenter's ``cut`` (None: jieba's own)."""
        ...

    def stats(self) -> IndexStats: ...

    def optimize(self, *, wait: float = 0.0) -> OptimizeReport: ...

    def check(self, sources: Sources | None = None, *, follow_links: bool | None = None,
              deep: bool = False) -> CheckReport:
        """Compare the index with *sources*; *deep* first verifies every byte of the index
        where the back end keeps its own files (IndexCorruptError names the damage)."""
        ...

    def close(self) -> None: ...

